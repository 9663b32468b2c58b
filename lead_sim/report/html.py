"""The HTML report of a run: one self-contained file (figures embedded as base64 PNG).

Formatting only: every number is read from the run folder (see :mod:`lead_sim.report.rundata`)
and shown with its 95% interval where it has one. Opens offline; prints on A4 or Letter.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Iterable, Sequence
from typing import cast

import pandas as pd

from lead_sim.outcomes.costing import LENS_MEANING, PROGRAM_FORM_MEANING
from lead_sim.report import figures as F
from lead_sim.report.checklist import AUTHOR
from lead_sim.report.labels import (
    RECIDIVISM,
    VOLUMES,
    WELLBEING,
    arm_label,
    grant_spent_by,
    is_nan,
    metric_label,
    money,
    num,
    payer_label,
    pct,
    with_ci,
)
from lead_sim.report.rundata import RunData
from lead_sim.report.sources import format_value, key_parameters, tag_counts

CSS = """
:root { --ink: #1a1a1a; --muted: #555; --rule: #c8c8c8; --band: #f3f3f3; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.45 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.7em; margin: 0 0 .2em; }
h2 { font-size: 1.3em; margin: 1.8em 0 .5em; border-bottom: 2px solid var(--accent); padding-bottom: .15em; }
h3 { font-size: 1.05em; margin: 1.3em 0 .4em; }
p, li { max-width: 52rem; }
.muted, figcaption, .note { color: var(--muted); font-size: .92em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 8.8pt; width: 100%; }
th, td { border-bottom: 1px solid var(--rule); padding: .25em .45em; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td .v { white-space: nowrap; } td { overflow-wrap: anywhere; } td.n { overflow-wrap: normal; }
table.metrics td:first-child { min-width: 9em; } table.metrics td:nth-child(2) { min-width: 7em; }
.ci { color: var(--muted); font-size: .92em; }
tr.sub td { color: var(--muted); }
figure { margin: 1em 0 1.4em; page-break-inside: avoid; break-inside: avoid; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #e4e4e4; }
.cards { display: flex; flex-wrap: wrap; gap: .6em; margin: .6em 0 1em; }
.card { flex: 1 1 14rem; border: 1px solid var(--rule); border-left: 4px solid var(--accent); padding: .5em .7em; }
.card b { display: block; font-size: 1.15em; }
.tag { display: inline-block; padding: 0 .35em; border-radius: 3px; font-size: .85em; background: var(--band); }
.o-local { background: #d6ecf7; } .o-assumed { background: #fbe3cf; } .o-national { background: #dcefe5; }
.o-other { background: #efe0ea; }
.warn { border-left: 4px solid #D55E00; padding: .4em .7em; background: #fdf1e8; }
code { font-size: .92em; background: var(--band); padding: 0 .2em; }
nav ol { columns: 2; font-size: .95em; }
details summary { cursor: pointer; color: var(--accent); }
@media print {
  body { max-width: none; margin: 0; font-size: 9.5pt; }
  nav, details summary { display: none; }
  details > * { display: block; }
  h2 { page-break-after: avoid; break-after: avoid; }
  table { page-break-inside: auto; } tr { page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
@page { margin: 14mm 12mm; }
"""


def esc(x) -> str:
    """``x`` as text escaped for HTML (None as the empty string)."""
    return html.escape("" if x is None else str(x))


def table(headers: Sequence[str], rows: Iterable[Sequence], numeric: Sequence[int] = (), cls: str = "",
          row_classes: Sequence[str] | None = None) -> str:
    """An HTML table; cells are escaped unless wrapped in :class:`Raw`."""
    num_cols = set(numeric)
    head = "".join(f'<th class="n">{esc(h)}</th>' if i in num_cols else f"<th>{esc(h)}</th>" for i, h in enumerate(headers))
    body = []
    for k, row in enumerate(rows):
        cells = []
        for i, c in enumerate(row):
            text = c.html if isinstance(c, Raw) else esc(c)
            cells.append(f'<td class="n">{text}</td>' if i in num_cols else f"<td>{text}</td>")
        rc = f' class="{row_classes[k]}"' if row_classes and row_classes[k] else ""
        body.append(f"<tr{rc}>{''.join(cells)}</tr>")
    c = f' class="{cls}"' if cls else ""
    return f"<table{c}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


#: value columns a report table holds at most beside its leading columns: wider tables are split
#: into several, each repeating the leading columns, so that every column stays readable on an A4 or
#: Letter page (printed or on screen) whatever the number of arms or fiscal years
MAX_VALUE_COLUMNS = 6


def split_table(headers: Sequence[str], rows: Sequence[Sequence], lead: int, cls: str = "",
                max_columns: int = MAX_VALUE_COLUMNS, row_classes: Sequence[str] | None = None) -> str:
    """:func:`table`, split column-wise into tables of at most ``max_columns`` value columns, each
    repeating the first ``lead`` (label) columns; every value column is numeric (right-aligned)."""
    values = list(range(lead, len(headers)))
    chunks = [values[i:i + max_columns] for i in range(0, len(values), max_columns)] or [[]]
    out = []
    for chunk in chunks:
        keep = list(range(lead)) + chunk
        out.append(table([headers[i] for i in keep], [[r[i] for i in keep] for r in rows],
                         numeric=range(lead, len(keep)), cls=cls, row_classes=row_classes))
    return "".join(out)


class Raw:
    """Trusted HTML for a table cell."""

    def __init__(self, html_text: str):
        """``html_text`` is put into the cell as it is: it must already be safe."""
        self.html = html_text


def figure_html(fig: F.Fig) -> str:
    """The figure as a ``<figure>`` with its PNG inline (base64), so the report is one self-contained file."""
    data = base64.b64encode(fig.png()).decode("ascii")
    return (f'<figure id="fig-{esc(fig.key)}"><img src="data:image/png;base64,{data}" alt="{esc(fig.title)}">'
            f"<figcaption><b>{esc(fig.title)}.</b> {esc(fig.caption)}</figcaption></figure>")


# ---- sections ---------------------------------------------------------------------------------------


def metric_table(run: RunData, metrics: Sequence[str]) -> str:
    """Each metric: every arm's mean (95% CI) and each arm's paired difference from the comparator."""
    arms, others = run.arms, run.others if run.comparison is not None else []
    headers = ["Measure", "Unit"] + [arm_label(a) for a in arms] + [f"Difference: {arm_label(a)}" for a in others]
    rows = []
    for metric in metrics:
        if not (run.summary["metric"] == metric).any():
            continue
        label, unit = metric_label(metric)
        row: list[str | Raw] = [label, unit]
        row += [ci_cell(with_ci(*run.metric(a, metric), unit=unit)) for a in arms]
        for a in others:
            row.append(ci_cell(_diff_text(run.difference(a, metric), unit)))
        rows.append(row)
    note = (f'<p class="note">Mean over {run.replications} replications with the 95% interval below it; '
            f"differences are each arm minus {esc(arm_label(run.comparator or '').lower())}, paired by replication.</p>"
            if others else "")
    if len(headers) - 2 <= MAX_VALUE_COLUMNS:
        return table(headers, rows, numeric=range(2, len(headers)), cls="metrics") + note
    # many arms: the arms' means, then the differences, each split to stay readable
    n = 2 + len(arms)
    means = split_table(headers[:n], [r[:n] for r in rows], 2, cls="metrics")
    diffs = split_table(headers[:2] + headers[n:], [r[:2] + r[n:] for r in rows], 2, cls="metrics")
    return means + diffs + note


def ci_cell(text: str) -> Raw:
    """'12.4 (11.9 to 12.9)' as the value over its interval, so narrow columns stay readable."""
    value, sep, rest = text.partition(" (")
    if not sep:
        return Raw(f'<span class="v">{esc(text)}</span>')
    return Raw(f'<span class="v">{esc(value)}</span><br><span class="ci">({esc(rest)}</span>')


def _diff_text(d: tuple[float, float, float], unit: str) -> str:
    if unit == "probability":
        m, lo, hi = (100 * x for x in d)
        if is_nan(m):
            return "n/a"
        return f"{m:+.1f} pp ({lo:+.1f} to {hi:+.1f})" if not (is_nan(lo) or is_nan(hi)) else f"{m:+.1f} pp"
    return with_ci(*d, unit=unit, signed=True)


def cost_tables(run: RunData) -> str:
    """Cost per person by payer (with the total) and by agency: discounted, USD of run.price_year."""
    payer_metrics = [f"cost_payer_{p}_per_person_usd" for p in run.payers]
    agency_metrics = [f"cost_{a}_per_person_usd" for a in run.agencies]
    return ("<h3>By payer (USD per person, discounted)</h3>" + metric_table(run, ["cost_total_per_person_usd"] + payer_metrics)
            + "<h3>By agency (USD per person, discounted)</h3>" + metric_table(run, agency_metrics))


def psa_section(run: RunData) -> str:
    """The chance of saving money from an attached probabilistic sensitivity analysis."""
    sav = run.psa_savings
    if sav is None or sav.empty:
        return ""
    rows = [[arm_label(r.arm), "All payers" if r.payer == "all_payers" else payer_label(r.payer),
             "n/a (no difference in any draw)" if is_nan(r.p_saves_money) else
             f"{100 * r.p_saves_money:.0f}% ({100 * r.p_ci_low:.0f}% to {100 * r.p_ci_high:.0f}%)",
             ci_cell(with_ci(r.mean_difference_usd, r.mean_ci_low, r.mean_ci_high, "USD", True)), str(r.draws)]
            for r in sav.itertuples()]
    return ("<h3>Chance of saving money (probabilistic sensitivity analysis)</h3>"
            f"<p class=\"note\">From the PSA run {esc(run.psa_path)}: the share of parameter draws in which the arm "
            "costs the payer less than the comparator (Wilson 95% interval), and the mean difference over the draws "
            "(whole target group, discounted, with its Monte Carlo interval).</p>"
            + table(["Arm", "Payer", "Chance of saving", "Mean difference", "Draws"], rows, numeric=(2, 3, 4)))


def summary_cards(run: RunData) -> str:
    """One summary card per arm against the comparator ("" without a comparison).

    Each card: total cost difference per person (discounted), bookings, jail days, 12-month
    re-arrest and LEAD intakes.
    """
    if run.comparison is None or not run.others:
        return ""
    cards = []
    for arm in run.others:
        c = run.difference(arm, "cost_total_per_person_usd")
        b = run.difference(arm, "bookings_per_person_year")
        j = run.difference(arm, "jail_days_per_person_year")
        r = run.difference(arm, "p_rearrest_12m")
        enrolled = run.metric(arm, "lead_enrolled")
        verb = "more" if c[0] > 0 else "less"
        cards.append(
            f'<div class="card"><span class="muted">{esc(arm_label(arm))} vs {esc(arm_label(cast(str, run.comparator)))}</span>'
            f"<b>{esc(money(abs(c[0])))} {verb} per person</b>"
            f"<span class=\"muted\">total cost, discounted; 95% CI {esc(money(c[1], True))} to {esc(money(c[2], True))}</span><br>"
            f"Bookings per person-year: {esc(_diff_text(b, 'per person-year'))}<br>"
            f"Jail days per person-year: {esc(_diff_text(j, 'days per person-year'))}<br>"
            f"Re-arrested within 12 months: {esc(_diff_text(r, 'probability'))}<br>"
            f"LEAD intakes in the period: {esc(with_ci(*enrolled))}</div>")
    return '<div class="cards">' + "".join(cards) + "</div>"


def simulated_section(run: RunData, params: pd.DataFrame, problems: list[str]) -> str:
    """What was simulated: arms and their changes, period, population, replications, money, and the parameters with their sources."""
    arm_rows = []
    for a in run.arms:
        description, sets = run.arm_changes(a)
        change = "; ".join(f"{k} = {format_value(v)}" for k, v in sets.items()) or "none (the base scenario)"
        arm_rows.append([arm_label(a), "comparator" if a == run.comparator else "", description, change])
    people = run.metric(run.arms[0], "people")
    py = run.metric(run.arms[0], "person_years")
    warm = run.value("run.warmup_days")
    out = [
        "<h2 id=\"simulated\">What was simulated</h2>",
        f"<p>{esc(' '.join(str(run.scenario.get('description', '')).split()))}</p>",
        table(["Arm", "Role", "Description", "Changes to the base scenario"], arm_rows),
        "<ul>",
        f"<li><b>Analysis period:</b> {run.start_date} to {run.end_date} ({run.years:.2f} years), after a warm-up of "
        f"{esc(num(warm))} days that is simulated but not counted.</li>",
        f"<li><b>Population:</b> {esc(num(run.value('population.initial_people')))} people in the target group at the "
        f"start of the warm-up plus about {esc(num(run.value('population.arrivals_per_year')))} arrivals a year; "
        f"{esc(with_ci(*people))} people and {esc(with_ci(*py))} person-years in the analysis period "
        f"(the same in every arm: leaving the group does not depend on the arm).</li>",
        f"<li><b>Replications:</b> {run.replications}, paired across arms (common random numbers), root seed "
        f"{esc(run.seed)}. Every interval is a 95% interval over replications; differences are paired.</li>",
        f"<li><b>Money:</b> {esc(run.price_year)} US dollars; discounted at {esc(_rate(run))} a year to "
        f"{run.start_date} unless a table says undiscounted (constant prices, not then-year dollars).</li>",
        _lens_item(run),
        "</ul>",
        "<h3>Key parameters and where they come from</h3>",
        "<p class=\"note\">Source notes are read from the comments of the scenario file(s) the run was made from "
        "(tags: [V] seen in the source, [S] reported second-hand, [D] derived by arithmetic, [A] assumption, [M] from "
        "memory). <i>Origin</i> is inferred from the tag and the words of the note: <i>local</i> (Denver or Colorado), "
        "<i>other site</i> (Seattle, Santa Fe, other cities), <i>national</i>, <i>assumed</i>; it is a reading aid, "
        "check the note. Every parameter is in the workbook (sheet Assumptions) and below.</p>",
    ]
    counts = tag_counts(params)
    out.append("<p>" + " &middot; ".join(f"{_origin_badge(k)} {n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
               + f" (of {len(params)} parameters)</p>")
    for p in problems:
        out.append(f'<p class="warn">{esc(p)}</p>')
    out.append(_param_table(key_parameters(params)))
    out.append(f"<details><summary>All {len(params)} parameters</summary>{_param_table(params)}</details>")
    return "\n".join(out)


def _origin_badge(origin: str) -> str:
    cls = {"local": "o-local", "assumed": "o-assumed", "national": "o-national", "other site": "o-other"}
    base = origin.replace(" (partly assumed)", "")
    return f'<span class="tag {cls.get(base, "")}">{esc(origin)}</span>'


def _param_table(params: pd.DataFrame) -> str:
    rows = [[r.parameter, r.value, r.unit, r.tag or "-", Raw(_origin_badge(r.origin)), r.source] for r in params.itertuples()]
    return table(["Parameter", "Value", "Unit", "Tag", "Origin", "Source note"], rows)


def _rate(run: RunData) -> str:
    r = run.discount_rate
    return f"{100 * r:g}%" if r is not None else "the scenario's rate"


def budget_section(run: RunData, figs: dict[str, F.Fig]) -> str:
    """Budget: fiscal-year figures and differences by payer, grant, jail savings and funding need (undiscounted; "" without budget tables)."""
    if not run.has_budget:
        return ""
    out = ["<h2 id=\"budget\">Budget: fiscal years, grant, jail, funding</h2>",
           "<p>Undiscounted US dollars at constant prices (not then-year dollars); fiscal years follow each payer's own start month and are named by "
           "the calendar year in which they end. A jail stay or enrolment crossing a year boundary is split.</p>"]
    for key in ("fy_stack", "fy_diff"):
        if key in figs:
            out.append(figure_html(figs[key]))
    d = run.table("budget_by_payer_differences")
    if d is not None and len(d):
        years = sorted(d["fiscal_year"].unique())
        rows: list[Sequence[str | Raw]] = []
        for payer in run.payers:
            for arm in run.others:
                g = d[(d["payer"] == payer) & (d["arm"] == arm)].set_index("fiscal_year")
                if g.empty or not (g["difference_undiscounted_usd"].abs() > 0).any():
                    continue
                cells = [ci_cell(with_ci(g.at[y, "difference_undiscounted_usd"], g.at[y, "ci_low"], g.at[y, "ci_high"], "USD",
                                         True)) if y in g.index else "" for y in years]
                rows.append([payer_label(payer), arm_label(arm), *cells])
        out.append("<h3>Difference from the comparator by payer and fiscal year (undiscounted; 95% interval below)</h3>")
        out.append(split_table(["Payer", "Arm"] + [f"FY{y}" for y in years], rows, 2, cls="metrics"))
    g = run.table("grant")
    if g is not None and len(g):
        out.append("<h3>Grant burn-down</h3>")
        if "grant" in figs:
            out.append(figure_html(figs["grant"]))
        rows = [[arm_label(r.arm), money(r.grant_usd), grant_spent_by(r), money(r.spent_by_program_end_usd),
                 f"{money(r.ci_low)} to {money(r.ci_high)}",
                 r.month_grant_runs_out if isinstance(r.month_grant_runs_out, str) else "not within the period",
                 pct(r.share_of_reps_running_out)] for r in g.itertuples()]
        out.append(table(["Arm", "Grant", "Spending counted to", "Spent by then", "95% interval", "Grant runs out (mean path)",
                          "Replications running out"], rows, numeric=(1, 3, 4, 6)))
    j = run.table("jail_savings")
    if j is not None and len(j):
        has_avg = "marginal_usd_per_bed_day" in j.columns  # runs before 2026-12-04 lack it
        avg_note = (f" A jail day costs {money(j['average_usd_per_bed_day'].iloc[0])} on average (fully loaded); "
                    f"only its marginal cost ({money(j['marginal_usd_per_bed_day'].iloc[0])} a day) is saved at once, the "
                    f"rest is the jail's fixed cost. The cost tables use the {j['lens_of_cost_tables'].iloc[0]} value."
                    if has_avg else "")
        out.append("<h3>Jail savings</h3><p class=\"note\">Change in the target group's average daily jail population "
                   "(ADP) per fiscal year. Short run: marginal cost per bed-day only; long run: plus whole housing units "
                   "closed or opened." + esc(avg_note) + "</p>")
        jail_rows: list[list] = [[f"FY{r.fiscal_year}", arm_label(r.arm), ci_cell(with_ci(r.adp_difference, r.adp_ci_low, r.adp_ci_high, signed=True))]
                + ([ci_cell(with_ci(r.average_cost_saving_usd, r.average_cost_ci_low, r.average_cost_ci_high, "USD"))] if has_avg else [])
                + [ci_cell(with_ci(r.short_run_saving_usd, r.short_run_ci_low, r.short_run_ci_high, "USD")),
                   ci_cell(with_ci(r.long_run_saving_usd, r.long_run_ci_low, r.long_run_ci_high, "USD")),
                   num(r.housing_units_closed_mean)] for r in j.itertuples()]
        heads = ["Fiscal year", "Arm", "ADP difference (people)"] + (["At average cost (as in the tables)"] if has_avg else []) \
            + ["Short-run saving", "Long-run saving", "Housing units closed (mean)"]
        out.append(table(heads, jail_rows, numeric=range(2, len(heads))))
    need = run.table("funding_need")
    if need is not None and len(need):
        out.append("<h3>Funding needed to continue, with offsetting savings</h3><p class=\"note\">Program funding "
                   "(the extra spending of the program's agencies against the comparator) per calendar year after the "
                   "pilot, for the arms whose program runs then, and each payer's saving (positive = saved); net cost = "
                   "funding - savings. Mean over replications with its 95% interval below it.</p>")
        out.append(split_table(*_need_rows(need), lead=2, cls="metrics"))
    if "cumulative" in figs:
        out.append("<h3>Cumulative net cost and payback</h3>")
        out.append(figure_html(figs["cumulative"]))
    return "\n".join(out)


def _need_rows(need: pd.DataFrame) -> tuple[list[str], list[list]]:
    """funding_need.csv as headers and rows: each amount over its 95% interval (older runs: means only)."""
    amounts = [c for c in need.columns if c in ("program_funding_needed_usd", "net_cost_usd")
               or (c.startswith("saving_") and not c.endswith(("_ci_low", "_ci_high")))]
    amounts = [c for c in amounts if c != "net_cost_usd"] + (["net_cost_usd"] if "net_cost_usd" in amounts else [])
    low = {"program_funding_needed_usd": "program_ci_low", "net_cost_usd": "net_ci_low"}
    rows = []
    for _, r in need.iterrows():
        row: list = [arm_label(r["arm"]), str(r["year"])]
        for c in amounts:
            lo = low.get(c, f"{c}_ci_low")
            hi = lo.replace("_low", "_high")
            row.append(ci_cell(with_ci(r[c], r[lo], r[hi], "USD", c == "net_cost_usd")) if lo in need.columns
                       else money(r[c]))
        rows.append(row)
    return ["Arm", "Year"] + [_need_col(c) for c in amounts], rows


def _need_col(c: str) -> str:
    if c.startswith("saving_"):
        return f"Saving: {payer_label(c[len('saving_'):])}"
    return {"program_funding_needed_usd": "Program funding needed", "net_cost_usd": "Net cost"}.get(c, c)


#: how the report's header names the command that made the run
_KIND_TEXT = {"compare": "Comparison run", "run": "One-arm run", "budget": "Budget run", "cea": "Cost-effectiveness run"}
def _lens_item(run: RunData) -> str:
    """Which cost lens and program form the run's costs show (runs before 2026-12-04 had neither)."""
    lens, form = run.value("costs.lens"), run.value("costs.program.form")
    if lens not in LENS_MEANING:
        return ""
    return (f"<li><b>Cost lens:</b> {esc(lens)} ({esc(LENS_MEANING[lens])}); the program is priced "
            f"{esc(PROGRAM_FORM_MEANING.get(form, str(form)))}.</li>")


_OUTCOME_NAMES = {"rearrests": "re-arrests averted", "bookings": "bookings averted", "jail_days": "jail days averted",
                  "active_use_years": "person-years of active drug use averted (at the community-day rate)",
                  "housed_days": "housed days gained (at the community-day rate)"}


def cea_section(run: RunData, figs: dict[str, F.Fig]) -> str:
    """Cost-effectiveness: incremental table, net benefit, plane, frontier, budget view and break-even values ("" without cea tables)."""
    if not run.has_cea:
        return ""
    out = ["<h2 id=\"cea\">Cost-effectiveness</h2>",
           "<p>All payers' costs, discounted; outcomes discounted like costs. Incremental cost and effect are mean "
           "paired differences against the comparator with 95% intervals; an ICER is a ratio of means, stated with "
           "Fieller's 95% interval (unbounded when the effect is not distinguishable from 0). These intervals "
           "measure the simulation's noise over replications with the parameters fixed, not parameter "
           "uncertainty.</p>"]
    t = cast(pd.DataFrame, run.table("cea"))  # there: ``has_cea``
    rows = []
    for r in t.itertuples():
        rows.append([arm_label(r.arm), f"{r.unit} {r.direction}",
                     ci_cell(with_ci(r.incremental_cost_usd, r.cost_ci_low, r.cost_ci_high, "USD", True)),
                     ci_cell(with_ci(r.incremental_effect, r.effect_ci_low, r.effect_ci_high, signed=True)), r.verdict])
    out.append(table(["Arm", "Outcome (per unit)", "Incremental cost", "Incremental effect", "Result"], rows,
                     numeric=(2, 3)))
    nmb_cols = [c for c in t.columns if c.startswith("nmb_at_") and not c.endswith(("_ci_low", "_ci_high"))]
    if nmb_cols:
        rows = []
        for r in t.to_dict(orient="records"):
            rows.append([arm_label(r["arm"]), f"{r['unit']} {r['direction']}"] +
                        [ci_cell(with_ci(r[c], r[c + "_ci_low"], r[c + "_ci_high"], "USD", True)) for c in nmb_cols])
        out.append("<h3>Net monetary benefit</h3><p class=\"note\">Willingness to pay per unit of outcome times the "
                   "effect, minus the incremental cost; above zero the arm is worth its cost at that value.</p>")
        out.append(table(["Arm", "Outcome"] + [f"at {money(float(c[len('nmb_at_'):]))} per unit" for c in nmb_cols],
                         rows, numeric=range(2, 2 + len(nmb_cols))))
    if "ce_plane" in figs:
        out.append(figure_html(figs["ce_plane"]))
    f = run.table("cea_frontier")
    if f is not None and len(f):
        status = {"ND": "on the frontier", "D": "dominated", "ED": "extended dominance"}
        rows = [[_OUTCOME_NAMES.get(r.outcome, r.outcome), arm_label(r.arm), money(r.cost), num(r.effect), status.get(r.status, r.status),
                 money(r.icer) if not is_nan(r.icer) else ""] for r in f.itertuples()]
        out.append("<h3>Efficiency frontier</h3>")
        out.append(table(["Outcome", "Arm", "Mean cost", "Mean effect (signed: more is better)", "Status",
                          "ICER vs previous on frontier"], rows, numeric=(2, 3, 5)))
    v = run.table("cea_budget_view")
    if v is not None and len(v):
        rows = [[arm_label(r.arm), ci_cell(with_ci(r.program_cost_usd, r.program_ci_low, r.program_ci_high, "USD")),
                 ci_cell(with_ci(r.benefit_usd, r.benefit_ci_low, r.benefit_ci_high, "USD")),
                 ci_cell(with_ci(r.npv_usd, r.npv_ci_low, r.npv_ci_high, "USD", True)), num(r.benefit_cost_ratio)]
                for r in v.itertuples()]
        out.append("<h3>Program cost against savings elsewhere</h3>")
        out.append(table(["Arm", "Program cost", "Savings of other agencies", "Net present value", "Benefit-cost ratio"],
                         rows, numeric=(1, 2, 3, 4)))
    b = run.table("breakeven")
    if b is not None and len(b):
        out.append("<h3>Break-even values</h3>")
        if "breakeven" in figs:
            out.append(figure_html(figs["breakeven"]))
        rows = [[arm_label(r.arm), r.name.replace("_", " "), "none" if is_nan(r.value) else num(r.value), r.unit, r.method,
                 r.note] for r in b.itertuples()]
        out.append(table(["Arm", "Break-even", "Value", "Unit", "Method", "Note"], rows, numeric=(2,)))
    return "\n".join(out)


def checklist_section(check: pd.DataFrame) -> str:
    """The STRESS-DES and CHEERS 2022 checklists, one table each, items the author must write marked."""
    out = ["<h2 id=\"checklists\">Reporting checklists</h2>",
           "<p>Items of STRESS-DES (Monks et al. 2019, <i>Journal of Simulation</i> 13:55-67) and CHEERS 2022 "
           "(Husereau et al. 2022, <i>Value in Health</i> 25:3-9) that this run determines are filled from it; items a "
           "person must write are marked and left empty. The same table is in <code>checklist.csv</code>.</p>"]
    for name, g in check.groupby("checklist", sort=False):
        rows = [[r.item, r.topic, r.status, r.from_run, r.author_to_add] for r in g.itertuples()]
        classes = ["sub" if r.status == AUTHOR else "" for r in g.itertuples()]
        out.append(f"<h3>{esc(name)}</h3>")
        out.append(table(["Item", "Topic", "Status", "From the run", "The author adds"], rows, row_classes=classes))
    return "\n".join(out)


def provenance_section(run: RunData, problems: list[str]) -> str:
    """Provenance: run folder, versions, command, seed, timings, package versions and input file hashes, and how to re-run."""
    m = run.manifest
    rows = [
        ["Run folder", str(run.path.resolve())],
        ["Created", m.get("created", "")],
        ["lead-sim version", m.get("lead_sim_version", "")],
        ["Git commit", m.get("git_commit") or "not recorded"],
        ["Command", " ".join(run.command_line)],
        ["Seed", str(run.seed)],
        ["Replications", str(run.replications)],
        ["Arms", ", ".join(run.arms)],
        ["Comparator", str(run.comparator)],
        ["Worker processes", str(m.get("jobs", ""))],
        ["Wall time", f"{m.get('wall_seconds', '')} s"],
        ["Event tables kept", str(m.get("keep_events", ""))],
        ["Model events simulated", f"{m.get('model_events', 0):,}" if isinstance(m.get("model_events"), int) else ""],
        ["Report written", f"{dt.datetime.now().astimezone().isoformat(timespec='seconds')} with "
                           f"{_report_software()}"],
    ]
    pv = m.get("package_versions") or {}
    files = m.get("input_files") or {}
    out = ["<h2 id=\"provenance\">Provenance</h2>", table(["Item", "Value"], rows),
           "<h3>Package versions</h3>", table(["Package", "Version"], [[k, v] for k, v in pv.items()]),
           "<h3>Input files</h3>", table(["File", "sha256"], [[k, v] for k, v in files.items()])]
    out += [f'<p class="warn">{esc(p)}</p>' for p in problems]
    out.append(f"<p>Re-run from the saved scenario and manifest and compare: <code>lead-sim rerun {esc(run.path)}</code></p>")
    return "\n".join(out)


def _report_software() -> str:
    """Versions that drew the figures and wrote the workbook (they do not change any number)."""
    from importlib import metadata

    out = []
    for name in ("lead-sim", "matplotlib", "openpyxl"):
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


LIMITATIONS = [
    "Most behavioural parameters and many unit costs are assumptions (tag [A]); court costs are proxies. Replace them "
    "with local data before quoting results.",
    "LEAD's direct effect on police contacts (lead.rr_contact_engaged): see its source note in the parameter table; "
    "an assumed value ([A]) has not been calibrated to the Seattle odds ratios (lead-sim calibrate does that).",
    "Intervals are over replications (simulation noise) only; they do not include parameter uncertainty, which needs a "
    "probabilistic sensitivity analysis.",
    "Hearings are not modelled one by one: court work is priced per case. Leaving the target group does not depend on "
    "the arm.",
    "Custody days are not community days: fewer jail days also show up as slightly more days of active use, housing "
    "and work per person-year.",
]


def render(run: RunData, params: pd.DataFrame, problems: list[str], check: pd.DataFrame, psa_html: str = "",
           figures: list[F.Fig] | None = None) -> str:
    """The whole report as one HTML string.

    ``psa_html``: the section of an attached PSA with its figures (:func:`lead_sim.report.psa_report.psa_body`);
    without it, only the chance of saving money of an attached psa_savings.csv. ``figures``: the run's
    figures when already drawn (default: :func:`figures.all_figures`).
    """
    figs = {f.key: f for f in (F.all_figures(run) if figures is None else figures)}
    title = f"LEAD simulation report: {run.name}"
    sections = [
        f"<header><h1>{esc(title)}</h1><p class=\"muted\">{esc(_KIND_TEXT.get(run.kind, arm_label(run.kind) + ' run'))} of {esc(run.path.name)}, "
        f"created {esc(run.manifest.get('created', ''))}; lead-sim {esc(run.manifest.get('lead_sim_version', ''))}; "
        f"{run.replications} replications, seed {esc(run.seed)}; analysis period {run.start_date} to {run.end_date}; "
        f"{esc(run.price_year)} USD.</p></header>",
        _nav(run),
        "<h2 id=\"summary\">Summary</h2>",
        summary_cards(run) or "<p>One arm: no comparison.</p>",
        "<p class=\"note\">Each figure: mean over replications, with the 95% interval in brackets; differences are "
        "paired by replication (both arms see the same people and random numbers). Small per-person effects are "
        "expected: LEAD reaches a small share of the target group.</p>",
        simulated_section(run, params, problems),
        "<h2 id=\"recidivism\">Recidivism</h2>",
        figure_html(figs["km"]) if "km" in figs else "<p class=\"note\">No event log saved (run with --keep-events "
                                                    "first or all for time-to-re-arrest curves).</p>",
        metric_table(run, RECIDIVISM),
        figure_html(figs["recidivism_diff"]) if "recidivism_diff" in figs else "",
        "<h2 id=\"wellbeing\">Drug use and quality of life</h2>",
        metric_table(run, WELLBEING),
        figure_html(figs["wellbeing_diff"]) if "wellbeing_diff" in figs else "",
        "<h2 id=\"costs\">Costs by agency and payer</h2>",
        "".join(figure_html(figs[k]) for k in ("cost_payer", "cost_agency", "cost_agency_diff") if k in figs),
        cost_tables(run),
        ("<h2 id=\"psa\">Parameter uncertainty (probabilistic sensitivity analysis)</h2>"
         f"<p class=\"note\">From the PSA run {esc(run.psa_path)} of the same scenario.</p>" + psa_html)
        if psa_html else psa_section(run),
        budget_section(run, figs),
        "<h2 id=\"census\">Jail census, LEAD caseload and waiting list</h2>",
        figure_html(figs["census"]) if "census" in figs else "<p class=\"note\">No spells saved.</p>",
        metric_table(run, VOLUMES),
        cea_section(run, figs),
        checklist_section(check),
        "<h2 id=\"limitations\">Limitations</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in LIMITATIONS) + "</ul>",
        provenance_section(run, problems),
    ]
    body = "\n".join(s for s in sections if s)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def _nav(run: RunData) -> str:
    items = [("summary", "Summary"), ("simulated", "What was simulated"), ("recidivism", "Recidivism"),
             ("wellbeing", "Drug use and quality of life"), ("costs", "Costs by agency and payer")]
    if run.has_budget:
        items.append(("budget", "Budget"))
    items.append(("census", "Jail census and LEAD caseload"))
    if run.has_cea:
        items.append(("cea", "Cost-effectiveness"))
    if run.psa is not None:
        items.append(("psa", "Parameter uncertainty (PSA)"))
    items += [("checklists", "Reporting checklists"), ("limitations", "Limitations"), ("provenance", "Provenance")]
    return "<nav><ol>" + "".join(f'<li><a href="#{k}">{esc(v)}</a></li>' for k, v in items) + "</ol></nav>"

