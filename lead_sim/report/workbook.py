"""The Excel workbook for budget staff (openpyxl): summary, agencies, payers and fiscal years,
grant burn-down, jail savings, funding need, cost-effectiveness, assumptions, provenance.

Values are written as numbers (never as text) with the formats a finance office expects:
currency with thousands separators and negatives in red, percentages, fixed decimals; header
rows frozen, filters on long tables, columns sized to their contents, pages set up landscape
and one page wide.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from lead_sim.report.labels import agency_label, arm_label, grant_spent_by, metric_label, payer_label
from lead_sim.report.rundata import PsaData, RunData

USD = '"$"#,##0;[Red]-"$"#,##0'
USD_SIGNED = '+"$"#,##0;[Red]-"$"#,##0;"$"0'
PCT = "0.0%"
RATE = "0.0000"
NUM = "#,##0.0"
INT = "#,##0"
TEXT = "@"

_HEAD_FILL = PatternFill("solid", fgColor="DDE6EE")
_BAND_FILL = PatternFill("solid", fgColor="F2F2F2")
_THIN = Side(style="thin", color="999999")
_TITLE = Font(bold=True, size=13)
_BOLD = Font(bold=True)
_NOTE = Font(italic=True, color="555555", size=9)


def _fmt_for_unit(unit: str, signed: bool = False) -> str:
    if "USD" in unit:
        return USD_SIGNED if signed else USD
    if unit == "probability":
        return PCT
    if "per person-year" in unit and "days" not in unit:
        return RATE
    return NUM


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
    return v


class Sheet:
    """A worksheet being filled top to bottom: title, notes, tables."""

    def __init__(self, wb: Workbook, title: str, heading: str, notes: Sequence[str] = ()):
        """Add a sheet named ``title`` with ``heading`` in A1 and ``notes`` below it, printed landscape one page wide."""
        self.ws: Worksheet = wb.create_sheet(title)
        self.ws["A1"] = heading
        self.ws["A1"].font = _TITLE
        self.row = 2
        for n in notes:
            self.ws.cell(self.row, 1, n).font = _NOTE
            self.row += 1
        self.row += 1
        self.widths: dict[int, float] = {}
        self.frozen = False
        ps = self.ws.page_setup
        ps.orientation = "landscape"
        ps.fitToWidth, ps.fitToHeight = 1, 0
        self.ws.sheet_properties.pageSetUpPr.fitToPage = True

    def _width(self, col: int, text) -> None:
        n = len(str(text)) if text is not None else 0
        self.widths[col] = max(self.widths.get(col, 8), min(n + 2, 60))

    def header(self, headers: Sequence[str], groups: Sequence[tuple[int, int, str]] = ()) -> int:
        """Write a header row (and an optional row of merged group labels above it); returns the header row."""
        if groups:
            for c0, c1, label in groups:
                cell = self.ws.cell(self.row, c0, label)
                cell.font, cell.fill = _BOLD, _HEAD_FILL
                cell.alignment = Alignment(horizontal="center")
                if c1 > c0:
                    self.ws.merge_cells(start_row=self.row, start_column=c0, end_row=self.row, end_column=c1)
            self.row += 1
        for j, h in enumerate(headers, start=1):
            cell = self.ws.cell(self.row, j, h)
            cell.font, cell.fill = _BOLD, _HEAD_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="bottom")
            cell.border = Border(bottom=_THIN)
            self.widths[j] = max(self.widths.get(j, 8), min(max(len(w) for w in str(h).split()) + 3, 40),
                                 min(len(str(h)) * 0.6 + 2, 24))
        r = self.row
        if not self.frozen:
            self.ws.freeze_panes = self.ws.cell(r + 1, 2 if len(headers) > 3 else 1)
            self.ws.print_title_rows = f"{r}:{r}"
            self.frozen = True
        self.row += 1
        return r

    def rows(self, rows: Sequence[Sequence], formats: Sequence, per_row: bool = False) -> tuple[int, int]:
        """Write rows; ``formats`` is one number format per column, or (``per_row``) one such list per row."""
        first = self.row
        for k, values in enumerate(rows):
            row_formats = formats[k] if per_row else formats
            for j, v in enumerate(values, start=1):
                v = _clean(v)
                cell = self.ws.cell(self.row, j, v)
                fmt = row_formats[j - 1] if j - 1 < len(row_formats) else None
                if fmt and isinstance(v, int | float):
                    cell.number_format = fmt
                if isinstance(v, str) and len(v) > 60:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
                self._width(j, _display(v, fmt))
                if k % 2 == 1:
                    cell.fill = _BAND_FILL
            self.row += 1
        return first, self.row - 1

    def table(self, df: pd.DataFrame, columns: Sequence[tuple[str, str, str | None]], title: str | None = None,
              autofilter: bool = False) -> None:
        """``columns``: (source column, header, number format)."""
        if title:
            self.ws.cell(self.row, 1, title).font = _BOLD
            self.row += 1
        cols = [c for c in columns if c[0] in df.columns]
        hr = self.header([h for _, h, _ in cols])
        first, last = self.rows([[r[c] for c, _, _ in cols] for r in df.to_dict(orient="records")], [f for _, _, f in cols])
        if autofilter and last >= first:
            self.ws.auto_filter.ref = f"A{hr}:{get_column_letter(len(cols))}{last}"
        self.row += 1

    def finish(self) -> None:
        """Set the column widths measured while writing; call once the sheet is complete."""
        for j, w in self.widths.items():
            self.ws.column_dimensions[get_column_letter(j)].width = w


def _display(v, fmt: str | None) -> str:
    if isinstance(v, float | int) and fmt in (USD, USD_SIGNED):
        return f"${v:,.0f}+"
    if isinstance(v, float) and fmt == PCT:
        return f"{100 * v:.1f}%"
    if isinstance(v, float):
        return f"{v:,.4f}" if fmt == RATE else f"{v:,.1f}"
    return "" if v is None else str(v)


# ---- sheets -----------------------------------------------------------------------------------------


def _wide_metric_sheet(wb: Workbook, run: RunData, title: str, heading: str, metrics: Sequence[str],
                       first_cols: Sequence[tuple[str, Callable[[str], str]]], notes: Sequence[str]) -> Sheet:
    """One row per metric: leading descriptive columns, then each arm's mean/low/high, then differences."""
    sh = Sheet(wb, title, heading, notes)
    arms, others = run.arms, (run.others if run.comparison is not None else [])
    lead = [h for h, _ in first_cols]
    headers = list(lead)
    groups = []
    c = len(lead) + 1
    for a in arms:
        headers += ["Mean", "95% low", "95% high"]
        groups.append((c, c + 2, arm_label(a)))
        c += 3
    for a in others:
        headers += ["Difference", "95% low", "95% high"]
        # (``others`` is empty without a comparator)
        groups.append((c, c + 2, f"{arm_label(a)} minus {arm_label(cast(str, run.comparator))}"))
        c += 3
    headers.append("Key (summary.csv)")
    sh.header(headers, groups)
    rows, formats = [], []
    for metric in metrics:
        if not (run.summary["metric"] == metric).any():
            continue
        _, unit = metric_label(metric)
        row: list[object] = [f(metric) for _, f in first_cols]
        fmts: list[str | None] = [None] * len(lead)
        for a in arms:
            row += list(run.metric(a, metric))
            fmts += [_fmt_for_unit(unit)] * 3
        for a in others:
            row += list(run.difference(a, metric))
            fmts += [_fmt_for_unit(unit, signed=True)] * 3
        row.append(metric)
        fmts.append(None)
        rows.append(row)
        formats.append(fmts)
    sh.rows(rows, formats, per_row=True)
    sh.finish()
    return sh


def _notes(run: RunData) -> list[str]:
    return [f"Scenario {run.name}; run {run.path.name}; {run.replications} paired replications, seed {run.seed}; "
            f"analysis period {run.start_date} to {run.end_date}.",
            f"Money: {run.price_year} US dollars. Per-person costs are discounted at {_rate(run)} a year to "
            f"{run.start_date}; fiscal-year tables are undiscounted (constant prices, not then-year dollars) unless a column says discounted.",
            "95% intervals over replications; differences are paired by replication (common random numbers)."]


def _rate(run: RunData) -> str:
    return f"{100 * run.discount_rate:g}%" if run.discount_rate is not None else "the scenario's rate"


def build(run: RunData, params: pd.DataFrame, check: pd.DataFrame | None = None) -> Workbook:
    """The run's Excel workbook, one topic a sheet.

    Every measure by arm, costs by agency and payer, budget and cost-effectiveness sheets where the
    run wrote those tables, assumptions, checklists and provenance.

    Per-person costs are discounted; fiscal-year sheets are undiscounted (constant prices of run.price_year).
    """
    wb = Workbook()
    wb.remove(wb.active)
    payer_of = run.payer_of
    metrics = list(dict.fromkeys(run.summary["metric"]))
    _wide_metric_sheet(wb, run, "Summary", f"LEAD simulation {run.name}: every measure by arm", metrics,
                       [("Measure", lambda m: metric_label(m)[0]), ("Unit", lambda m: metric_label(m)[1])], _notes(run))
    _wide_metric_sheet(wb, run, "By agency", "Cost per person by agency (USD, discounted)",
                       [f"cost_{a}_per_person_usd" for a in run.agencies] + ["cost_total_per_person_usd"],
                       [("Agency", lambda m: "All agencies" if m == "cost_total_per_person_usd" else
                         agency_label(m[len("cost_"):-len("_per_person_usd")])),
                        ("Payer", lambda m: "" if m == "cost_total_per_person_usd" else
                         payer_label(payer_of.get(m[len("cost_"):-len("_per_person_usd")], "")))], _notes(run))
    _wide_metric_sheet(wb, run, "By payer", "Cost per person by payer (USD, discounted)",
                       [f"cost_payer_{p}_per_person_usd" for p in run.payers] + ["cost_total_per_person_usd"],
                       [("Payer", lambda m: "All payers" if m == "cost_total_per_person_usd" else
                         payer_label(m[len("cost_payer_"):-len("_per_person_usd")]))], _notes(run))
    money_cols: list[tuple[str, str, str | None]] = [("cost_undiscounted_usd", "Cost, undiscounted", USD), ("ci_low", "95% low (undiscounted)", USD),
                  ("ci_high", "95% high (undiscounted)", USD), ("cost_discounted_usd", "Cost, discounted", USD),
                  ("discounted_ci_low", "95% low (discounted)", USD), ("discounted_ci_high", "95% high (discounted)", USD),
                  ("reps", "Replications", INT)]
    diff_cols: list[tuple[str, str, str | None]] = [("difference_undiscounted_usd", "Difference, undiscounted", USD_SIGNED), ("ci_low", "95% low (undiscounted)", USD_SIGNED),
                 ("ci_high", "95% high (undiscounted)", USD_SIGNED),
                 ("difference_discounted_usd", "Difference, discounted", USD_SIGNED),
                 ("discounted_ci_low", "95% low (discounted)", USD_SIGNED),
                 ("discounted_ci_high", "95% high (discounted)", USD_SIGNED), ("reps", "Replications", INT)]
    fy_note = ["Fiscal years follow each payer's start month and are named by the calendar year in which they end; "
               "the first and last years of the period are partial."]
    for stem, sheet, heading, keys, cols in (
        ("budget_by_payer", "Payer x FY", "Cost by payer and fiscal year", ["fiscal_year", "payer", "arm"], money_cols),
        ("budget_by_payer_differences", "Payer x FY diff", "Difference from the comparator by payer and fiscal year",
         ["fiscal_year", "payer", "arm"], diff_cols),
        ("budget", "Agency x FY", "Cost by agency, payer and fiscal year", ["fiscal_year", "payer", "agency", "arm"],
         money_cols),
        ("budget_differences", "Agency x FY diff", "Difference from the comparator by agency and fiscal year",
         ["fiscal_year", "payer", "agency", "arm"], diff_cols),
    ):
        df = run.table(stem)
        if df is None or df.empty:
            continue
        df = df.copy()
        for k, f in (("payer", payer_label), ("agency", agency_label), ("arm", arm_label)):
            if k in df:
                df[k] = df[k].map(f)
        sh = Sheet(wb, sheet, heading, fy_note + _notes(run)[1:])
        key_cols = [(k, {"fiscal_year": "Fiscal year", "payer": "Payer", "agency": "Agency", "arm": "Arm"}[k], "0")
                    for k in keys]
        sh.table(df, key_cols + cols, autofilter=True)
        sh.finish()
    _grant_sheet(wb, run)
    _simple(wb, run, "jail_savings", "Jail savings", "Jail savings by fiscal year (change in average daily population)", [
        ("fiscal_year", "Fiscal year", "0"), ("arm", "Arm", None), ("adp_difference", "ADP difference (people)", "0.00"),
        ("adp_ci_low", "95% low", "0.00"), ("adp_ci_high", "95% high", "0.00"),
        ("average_cost_saving_usd", "At average cost (as in the cost tables)", USD), ("average_cost_ci_low", "95% low", USD),
        ("average_cost_ci_high", "95% high", USD),
        ("short_run_saving_usd", "Short-run saving", USD), ("short_run_ci_low", "95% low", USD),
        ("short_run_ci_high", "95% high", USD), ("long_run_saving_usd", "Long-run saving", USD),
        ("long_run_ci_low", "95% low", USD), ("long_run_ci_high", "95% high", USD),
        ("housing_units_closed_mean", "Housing units closed (mean)", "0.00")],
        ["Short run: variable cost per bed-day only; long run: plus whole housing units closed or opened. At average "
         "cost: the change in bed-days at the average cost of a jail day, as the cost tables price it; the difference "
         "from the short run is the jail's fixed cost, not saved at once."])
    need = run.table("funding_need")
    if need is not None and len(need):
        cols = [("arm", "Arm", None), ("year", "Calendar year", "0"),
                ("program_funding_needed_usd", "Program funding needed", USD), ("program_ci_low", "95% low", USD),
                ("program_ci_high", "95% high", USD)]
        for c in need.columns:
            if c.startswith("saving_") and not c.endswith(("_ci_low", "_ci_high")):
                cols += [(c, f"Saving: {payer_label(c[len('saving_'):])}", USD), (f"{c}_ci_low", "95% low", USD),
                         (f"{c}_ci_high", "95% high", USD)]
        cols += [("net_cost_usd", "Net cost", USD), ("net_ci_low", "95% low", USD), ("net_ci_high", "95% high", USD)]
        _simple(wb, run, "funding_need", "Funding need", "Program funding needed after the pilot, with offsetting savings",
                cols, ["Undiscounted; mean over replications with its 95% interval; only arms whose program runs after "
                       "the earliest pilot ends, in the years it runs. Saving: positive = saved. Net cost = funding - "
                       "savings."])
    _simple(wb, run, "budget_periods", "Periods", "Difference from the comparator over named periods", [
        ("arm", "Arm", None), ("kind", "Kind", None), ("period", "Period", TEXT), ("first_day", "From", TEXT),
        ("last_day", "To", TEXT), ("months", "Months", INT), ("years", "Years", "0.00"), ("group", "Payer or group", None),
        ("difference_undiscounted_usd", "Difference, undiscounted", USD_SIGNED), ("ci_low", "95% low", USD_SIGNED),
        ("ci_high", "95% high", USD_SIGNED), ("per_year_undiscounted_usd", "Per year of operation", USD_SIGNED),
        ("per_year_ci_low", "95% low", USD_SIGNED), ("per_year_ci_high", "95% high", USD_SIGNED),
        ("difference_discounted_usd", "Difference, discounted", USD_SIGNED),
        ("discounted_ci_low", "95% low", USD_SIGNED), ("discounted_ci_high", "95% high", USD_SIGNED)],
        ["Totals over named periods: 'program' is the months in which the arm's program ran (whole months), with the "
         "amount per year of operation; then the months after it, the whole analysis and each calendar year. Never "
         "averaged over years in which a program did not run."])
    _simple(wb, run, "budget_cumulative", "Cumulative", "Cumulative difference from the comparator, year by year", [
        ("arm", "Arm", None), ("payer", "Payer", None), ("year_kind", "Years", None), ("year", "Year", "0"),
        ("cumulative_difference_usd", "Cumulative difference", USD_SIGNED), ("ci_low", "95% low", USD_SIGNED),
        ("ci_high", "95% high", USD_SIGNED), ("pays_back_here", "Pays back this year", None)],
        ["Undiscounted; each payer over its own fiscal years, all payers over calendar years. Pays back: the first year "
         "the cumulative net cost falls to zero or below after being above it."])
    _cea_sheets(wb, run)
    sh = Sheet(wb, "Assumptions", "Every parameter of the run: value, unit and source",
               ["Values as run (scenario.resolved.yaml); source notes from the scenario files' comments. Tags: [V] seen "
                "in the source, [S] reported second-hand, [D] derived, [A] assumption, [M] from memory.",
                "Origin (local / other site / national / assumed) is inferred from the tag and the note's words: check "
                "the note."])
    cols = [("parameter", "Parameter", TEXT), ("value", "Value", TEXT), ("unit", "Unit", None), ("tag", "Tag", None),
            ("evidence", "Evidence", None), ("origin", "Origin", None), ("source", "Source note", None),
            ("where", "File:line", None)]
    if "uncertainty" in params and params["uncertainty"].astype(bool).any():
        cols.append(("uncertainty", "Uncertainty (PSA)", None))
    sh.table(params, cols, autofilter=True)
    sh.finish()
    sh.ws.column_dimensions["G"].width = 60
    if check is not None:
        sh = Sheet(wb, "Checklists", "STRESS-DES and CHEERS 2022 items filled from the run", [
            "Items a person must write are marked and left empty."])
        sh.table(check, [("checklist", "Checklist", None), ("item", "Item", TEXT), ("topic", "Topic", None),
                         ("status", "Status", None), ("from_run", "From the run", None),
                         ("author_to_add", "The author adds", None)], autofilter=True)
        sh.finish()
        sh.ws.column_dimensions["E"].width = 80
    _about(wb, run)
    return wb


def _simple(wb, run, stem, sheet, heading, cols, notes) -> None:
    df = run.table(stem)
    if df is None or df.empty:
        return
    df = df.copy()
    if "arm" in df:
        df["arm"] = df["arm"].map(arm_label)
    sh = Sheet(wb, sheet, heading, list(notes) + _notes(run)[:1])
    sh.table(df, [c for c in cols if c[0] in df.columns], autofilter=True)  # older runs may lack a column
    sh.finish()


def _grant_sheet(wb: Workbook, run: RunData) -> None:
    g, gm = run.table("grant"), run.table("grant_monthly")
    if g is None or gm is None:
        return
    sh = Sheet(wb, "Grant", "Grant burn-down: spending of the grant payer's agencies against the grant",
               ["Undiscounted US dollars of the price year; the month the grant runs out is that of the mean cumulative path."] + _notes(run)[:1])
    g = g.copy()
    g["arm"] = g["arm"].map(arm_label)
    g["spent_by"] = [grant_spent_by(r) for r in g.itertuples()]
    sh.table(g, [("arm", "Arm", None), ("grant_usd", "Grant", USD), ("spent_by", "Spending counted to", TEXT),
                 ("spent_by_program_end_usd", "Spent by then", USD), ("ci_low", "95% low", USD),
                 ("ci_high", "95% high", USD), ("month_grant_runs_out", "Grant runs out (month)", TEXT),
                 ("share_of_reps_running_out", "Replications running out", PCT)], title="Summary")
    gm = gm.copy()
    gm["arm"] = gm["arm"].map(arm_label)
    sh.table(gm, [("arm", "Arm", None), ("month", "Month", TEXT), ("spend_usd", "Spending in the month", USD),
                  ("ci_low", "95% low", USD), ("ci_high", "95% high", USD), ("cumulative_usd", "Cumulative", USD),
                  ("grant_left_usd", "Grant left", USD)], title="By month")
    sh.finish()


def _cea_sheets(wb: Workbook, run: RunData) -> None:
    t = run.table("cea")
    if t is None or t.empty:
        return
    t = t.copy()
    t["arm"] = t["arm"].map(arm_label)
    sh = Sheet(wb, "Cost-effectiveness", "Incremental cost and outcomes against the comparator (all payers, discounted)",
               _notes(run))
    cols = [("arm", "Arm", None), ("outcome", "Outcome", None), ("unit", "Unit", None), ("direction", "Direction", None),
            ("incremental_cost_usd", "Incremental cost", USD_SIGNED), ("cost_ci_low", "95% low", USD_SIGNED),
            ("cost_ci_high", "95% high", USD_SIGNED), ("incremental_effect", "Incremental effect", "#,##0.00"),
            ("effect_ci_low", "95% low", "#,##0.00"), ("effect_ci_high", "95% high", "#,##0.00"),
            ("icer_usd_per_unit", "ICER (USD per unit)", USD_SIGNED)]
    if "icer_ci_low" in t.columns:  # runs before 2026-12-03 have no interval on the ICER
        cols += [("icer_ci_low", "95% low (Fieller)", USD_SIGNED), ("icer_ci_high", "95% high (Fieller)", USD_SIGNED)]
    cols += [("verdict", "Result", None)]
    cols += [("wtp_usd", "Willingness to pay per unit (cea.wtp_usd_per_unit; assumed unless set)", USD),
             ("nmb_usd", "NMB at that value", USD_SIGNED), ("nmb_ci_low", "95% low", USD_SIGNED),
             ("nmb_ci_high", "95% high", USD_SIGNED)]
    cols += [(c, c.replace("nmb_at_", "NMB at $").replace("_ci_low", " low").replace("_ci_high", " high"), USD_SIGNED)
             for c in t.columns if c.startswith("nmb_at_")]
    sh.table(t, cols, autofilter=True)
    v = run.table("cea_budget_view")
    if v is not None and len(v):
        v = v.copy()
        v["arm"] = v["arm"].map(arm_label)
        sh.table(v, [("arm", "Arm", None), ("program_cost_usd", "Program cost", USD), ("program_ci_low", "95% low", USD),
                     ("program_ci_high", "95% high", USD), ("benefit_usd", "Savings elsewhere", USD),
                     ("benefit_ci_low", "95% low", USD), ("benefit_ci_high", "95% high", USD),
                     ("npv_usd", "Net present value", USD_SIGNED), ("npv_ci_low", "95% low", USD_SIGNED),
                     ("npv_ci_high", "95% high", USD_SIGNED), ("benefit_cost_ratio", "Benefit-cost ratio", "0.00")],
                 title="Program cost against savings elsewhere")
    b = run.table("breakeven")
    if b is not None and len(b):
        b = b.copy()
        b["arm"] = b["arm"].map(arm_label)
        sh.table(b, [("arm", "Arm", None), ("name", "Break-even", None), ("value", "Value", "#,##0.00"),
                     ("unit", "Unit", None), ("method", "Method", None), ("note", "Note", None)], title="Break-even values")
    sh.finish()


def _about(wb: Workbook, run: RunData) -> None:
    m = run.manifest
    sh = Sheet(wb, "About", "Provenance of these numbers", ["Re-run and compare: lead-sim rerun RUN_DIR"])
    rows = [["Run folder", str(run.path.resolve())], ["Created", m.get("created", "")],
            ["lead-sim version", m.get("lead_sim_version", "")], ["Git commit", m.get("git_commit") or "not recorded"],
            ["Command", " ".join(run.command_line)], ["Seed", run.seed], ["Replications", run.replications],
            ["Arms", ", ".join(run.arms)], ["Comparator", run.comparator or ""],
            ["Analysis period", f"{run.start_date} to {run.end_date}"], ["Price year", run.price_year],
            ["Discount rate per year", run.discount_rate]]
    rows += [[f"Package: {k}", v] for k, v in (m.get("package_versions") or {}).items()]
    rows += [[f"Input file: {k}", v] for k, v in (m.get("input_files") or {}).items()]
    sh.header(["Item", "Value"])
    sh.rows(rows, [None, None])
    sh.finish()


def figure_sheet(wb: Workbook, title: str, heading: str, figures: Sequence[tuple[str, bytes]]) -> None:
    """A sheet of figures (title, PNG bytes), one under the other, each with its title above it."""
    from openpyxl.drawing.image import Image

    sh = Sheet(wb, title, heading, ["The same figures as in report.html (PNG, 150 dpi)."])
    row = sh.row
    for name, png in figures:
        sh.ws.cell(row, 1, name).font = _BOLD
        img = Image(io.BytesIO(png))
        img.width, img.height = img.width * 0.5, img.height * 0.5  # 150 dpi drawn at about 75: fits the screen
        sh.ws.add_image(img, f"A{row + 1}")
        row += 2 + math.ceil(img.height / 20)  # rows of 20 px
    sh.finish()


def psa_sheets(wb: Workbook, psa: PsaData, figures: Sequence[tuple[str, bytes]]) -> None:
    """The PSA's tables (chance of saving, at each outcome's own willingness to pay, acceptability, EVPI,
    drivers, tornado) and its figures."""
    from lead_sim.report.psa_report import at_own_wtp

    notes = [f"PSA run {psa.path.name}: {psa.draws} draws of the uncertain parameters; all payers' costs discounted, "
             f"whole target group; shares of draws with Wilson 95% intervals."]

    def sheet(df, name, heading, cols):
        if df is None or df.empty:
            return
        df = df.copy()
        if "arm" in df:
            df["arm"] = df["arm"].map(arm_label)
        sh = Sheet(wb, name, heading, notes)
        sh.table(df, [c for c in cols if c[0] in df.columns], autofilter=True)
        sh.finish()

    sheet(psa.table("psa_savings"), "PSA savings", "Chance of saving money, by payer", [
        ("arm", "Arm", None), ("payer", "Payer", None), ("p_saves_money", "Chance of saving", PCT),
        ("p_ci_low", "95% low", PCT), ("p_ci_high", "95% high", PCT), ("mean_difference_usd", "Mean difference", USD_SIGNED),
        ("mean_ci_low", "95% low", USD_SIGNED), ("mean_ci_high", "95% high", USD_SIGNED), ("draws", "Draws", INT)])
    sheet(at_own_wtp(psa), "PSA at own WTP", "At each outcome's own willingness to pay (cea.wtp_usd_per_unit)", [
        ("outcome", "Outcome", None), ("wtp_usd", "Value per unit", USD), ("arm", "Arm", None),
        ("p_cost_effective", "Chance of the highest net benefit", PCT),
        ("incremental_nmb_usd", "Net benefit vs comparator", USD_SIGNED), ("nmb_ci_low", "95% low", USD_SIGNED),
        ("nmb_ci_high", "95% high", USD_SIGNED), ("draws", "Draws", INT)])
    sheet(psa.table("ceac"), "PSA CEAC", "Cost-effectiveness acceptability curves", [
        ("outcome", "Outcome", None), ("unit", "Unit", None), ("wtp_usd", "Willingness to pay", USD), ("arm", "Arm", None),
        ("comparator", "Comparator", None),
        ("p_cost_effective_vs_comparator", "Chance cost-effective vs the comparator", PCT),
        ("p_cost_effective_ci_low", "95% low", PCT), ("p_cost_effective_ci_high", "95% high", PCT),
        ("p_best_of_all_arms", "Chance of the highest net benefit of all arms", PCT), ("p_best_ci_low", "95% low", PCT),
        ("p_best_ci_high", "95% high", PCT), ("optimal_in_expectation", "Best on average (frontier)", None)])
    sheet(psa.table("evpi"), "PSA EVPI", "Expected value of perfect information", [
        ("outcome", "Outcome", None), ("wtp_usd", "Willingness to pay", USD), ("evpi_usd", "EVPI (target group)", USD),
        ("evpi_per_person_usd", "EVPI per person", USD), ("optimal_arm", "Best on average", None)])
    sheet(psa.table("psa_drivers"), "PSA drivers", "What drives each difference", [
        ("arm", "Arm", None), ("outcome", "Difference in", None), ("parameter", "Parameter", None), ("rank", "Rank", INT),
        ("src", "SRC", "0.00"), ("spearman", "Spearman", "0.00"), ("r2", "R squared", "0.00")])
    sheet(psa.tornado, "Tornado", "One parameter at a time (lead-sim tornado)", [
        ("arm", "Arm", None), ("outcome", "Difference in", None), ("parameter", "Parameter", None),
        ("low_value", "Low value", "#,##0.####"), ("high_value", "High value", "#,##0.####"),
        ("result_at_base", "At base", "#,##0.00"), ("result_at_low", "At low", "#,##0.00"),
        ("result_at_high", "At high", "#,##0.00"), ("swing", "Swing", "#,##0.00"), ("rank", "Rank", INT)])
    if figures:
        figure_sheet(wb, "PSA figures", "Probabilistic sensitivity analysis: figures", figures)


def build_psa(psa: PsaData, figures: Sequence[tuple[str, bytes]]) -> Workbook:
    """The workbook of a PSA run folder alone (``lead-sim report PSA_DIR``)."""
    wb = Workbook()
    wb.remove(wb.active)
    psa_sheets(wb, psa, figures)
    m = psa.manifest
    sh = Sheet(wb, "About", "Provenance of these numbers", [])
    sh.header(["Item", "Value"])
    sh.rows([["Run folder", str(psa.path.resolve())], ["Created", m.get("created", "")],
             ["lead-sim version", m.get("lead_sim_version", "")], ["Command", " ".join(map(str, m.get("command_line") or []))],
             ["Seed", m.get("seed")], ["Draws", psa.draws], ["Arms", ", ".join(psa.arms)], ["Comparator", psa.comparator]],
            [None, None])
    sh.finish()
    return wb


def write(run: RunData, params: pd.DataFrame, check: pd.DataFrame | None, path: Path,
          figures: Sequence[tuple[str, bytes]] = (), psa_figures: Sequence[tuple[str, bytes]] = ()) -> Path:
    """Build the workbook and save it to ``path`` (returned); ``figures`` (title, PNG) go on a Figures sheet,
    an attached PSA's tables and ``psa_figures`` on PSA sheets."""
    wb = build(run, params, check)
    if run.psa is not None:
        psa_sheets(wb, run.psa, psa_figures)
    if figures:
        figure_sheet(wb, "Figures", "Figures of the report", figures)
    wb.save(path)
    return path
