"""Which figures a run's report holds, built from its files (each one only when its data exist)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from lead_sim import names as N
from lead_sim.outcomes.metrics import CEA_OUTCOMES
from lead_sim.report import plots as P
from lead_sim.report.analysis import daily_counts, km_curves
from lead_sim.report.labels import (
    RECIDIVISM,
    WELLBEING,
    agency_label,
    arm_label,
    grant_spent_by,
    metric_label,
    money,
    payer_label,
    payer_short,
)
from lead_sim.report.rundata import RunData


@dataclass
class Fig:
    """One report figure: ``key`` names it in the report (its HTML id ``fig-KEY``), with its title and caption."""

    key: str
    title: str
    caption: str
    figure: Figure
    _png: bytes | None = field(default=None, repr=False)

    def png(self) -> bytes:
        """The figure as PNG bytes (drawn once, then kept: the report and the workbook share them)."""
        if self._png is None:
            self._png = P.to_png(self.figure)
        return self._png


def style_of(run: RunData) -> P.ArmStyle:
    """Colour, dash and marker of each of the run's arms (the comparator black and solid), the same in every figure."""
    return P.ArmStyle(run.arms, run.comparator)


def _saved_reps(run: RunData, table: pd.DataFrame) -> str:
    reps = sorted(table["replication"].unique()) if "replication" in table else []
    if len(reps) <= 1:
        return f"replication {reps[0] if reps else 0} (the run saved the event log of one replication; " \
               "--keep-events all saves every one)"
    return f"the mean of the {len(reps)} saved replications"


# ---- recidivism and outcomes -------------------------------------------------------------------------


def km(run: RunData) -> Fig | None:
    """Kaplan-Meier curves of time to re-arrest per arm, from the saved event log (None without one)."""
    if run.events is None or run.people is None:
        return None
    curves = km_curves(run.events, run.people, run.t_end, run.arms)
    if curves.empty:
        return None
    fig = P.km_plot(curves, style_of(run), run.arms, N.REARREST_WINDOWS_MONTHS)
    one = curves["replications"].max() <= 1
    band = "Greenwood's pointwise 95% interval" if one else "a 95% t-interval over the saved replications"
    return Fig("km", "Time to re-arrest",
               f"Kaplan-Meier estimate of the probability of a new arrest after each person's first arrest or LEAD "
               f"referral in the analysis period, censored when the person leaves the target group or the period ends. "
               f"Curves: {_saved_reps(run, run.events)}; shaded: {band}. The 6/12/24-month figures in the table "
               f"below are over all {run.replications} replications.", fig)


def _diff_panels(run: RunData, metrics: list[str]) -> list[tuple[str, str, dict]]:
    panels = []
    for metric in metrics:
        label, unit = metric_label(metric)
        values: dict[str, tuple[float, ...]] = {arm: run.difference(arm, metric) for arm in run.others}
        values = {a: v for a, v in values.items() if np.isfinite(v[0])}
        if not values:
            continue
        if unit == "probability":
            values = {a: tuple(100 * x for x in v) for a, v in values.items()}
            unit = "percentage points"
        panels.append((label, f"difference, {unit}", values))
    return panels


def _differences(run: RunData, group, name: str, title: str, heading: str, caption: str) -> Fig | None:
    """Paired differences from the comparator for one group of metrics (None without a comparison)."""
    if run.comparison is None or not run.others:
        return None
    panels = _diff_panels(run, group)
    if not panels:
        return None
    fig = P.difference_panels(panels, style_of(run), run.others,
                              f"{title}: each arm minus {arm_label(cast(str, run.comparator))} (paired, 95% interval)")
    return Fig(name, heading, caption, fig)


def recidivism_differences(run: RunData) -> Fig | None:
    """Paired differences from the comparator in the recidivism metrics (None without a comparison)."""
    return _differences(
        run, RECIDIVISM, "recidivism_diff", "Recidivism", "Recidivism: differences from the comparator",
        "Mean paired difference over replications (common random numbers) with its 95% interval; left of zero "
        "is fewer arrests, bookings, jail days, charges, admissions or re-arrests than under the comparator.")


def wellbeing_differences(run: RunData) -> Fig | None:
    """Paired differences from the comparator in drug use, quality of life and police contacts (None without a comparison)."""
    return _differences(
        run, WELLBEING, "wellbeing_diff", "Drug use and quality of life",
        "Drug use and quality of life: differences from the comparator",
        "Days per person-year in the community (custody days are not community days, so fewer jail days also "
        "add days of active use, housing and work); police contacts per person-year.")


# ---- costs ---------------------------------------------------------------------------------------------


def _nonzero_payers(run: RunData) -> list[str]:
    out = []
    for payer in run.payers:
        vals = [run.metric(a, f"cost_payer_{payer}_per_person_usd")[0] for a in run.arms]
        if any(np.isfinite(v) and abs(v) > 0 for v in vals):
            out.append(payer)
    return out


def _nonzero_agencies(run: RunData) -> list[str]:
    out = []
    for agency in run.agencies:
        vals = [run.metric(a, f"cost_{agency}_per_person_usd")[0] for a in run.arms]
        if any(np.isfinite(v) and abs(v) > 0 for v in vals):
            out.append(agency)
    return out


def cost_by_payer(run: RunData) -> Fig | None:
    """Stacked bars of each arm's discounted cost per person by payer, USD of run.price_year (None if no payer has a cost)."""
    payers = _nonzero_payers(run)
    if not payers:
        return None
    values = pd.DataFrame({p: [run.metric(a, f"cost_payer_{p}_per_person_usd")[0] for a in run.arms] for p in payers},
                          index=run.arms)
    totals = {a: run.metric(a, "cost_total_per_person_usd") for a in run.arms}
    fig = P.stacked_bars(values, totals, "US dollars per person (discounted)",
                         f"Cost per person by payer ({run.price_year} USD, discounted)", "Payer", P.payer_styles(list(run.payers)))
    return Fig("cost_payer", "Costs by payer",
               f"Mean over {run.replications} replications of all costs in the analysis period, discounted at "
               f"{_rate(run)} a year to the start date and divided by the people in the target group; whiskers and "
               "figures above the bars: total with its 95% interval. Payers with no cost in any arm are left out.", fig)


def cost_by_agency(run: RunData) -> Fig | None:
    """Grouped bars of each arm's discounted cost per person by agency, with 95% intervals (None if no agency has a cost)."""
    agencies = _nonzero_agencies(run)
    if not agencies:
        return None
    payer_of = run.payer_of
    rows = [(f"{agency_label(ag)} ({payer_short(payer_of.get(ag, '?'))})",
             {a: run.metric(a, f"cost_{ag}_per_person_usd") for a in run.arms}) for ag in agencies]
    fig = P.agency_bars(rows, style_of(run), run.arms, f"US dollars per person ({run.price_year} USD, discounted)",
                        "Cost per person by agency (payer in brackets), 95% interval")
    return Fig("cost_agency", "Costs by agency",
               "Each agency's discounted cost per person in each arm with its 95% interval. Shown as grouped bars rather "
               "than a stack: a stack of this many agencies cannot be read in print, nor carry intervals.", fig)


def cost_agency_differences(run: RunData) -> Fig | None:
    """Paired differences from the comparator in discounted cost per person, by agency and in total (None without a comparison)."""
    if run.comparison is None or not run.others:
        return None
    agencies = _nonzero_agencies(run)
    payer_of = run.payer_of
    rows = [(f"{agency_label(ag)} ({payer_short(payer_of.get(ag, '?'))})",
             {a: run.difference(a, f"cost_{ag}_per_person_usd") for a in run.others}) for ag in agencies]
    rows.append(("All agencies", {a: run.difference(a, "cost_total_per_person_usd") for a in run.others}))
    fig = P.agency_bars(rows, style_of(run), run.others,
                        "Difference, USD per person (discounted); left of 0: saves money",
                        f"Each arm minus {arm_label(cast(str, run.comparator)).lower()}, by agency (payer in brackets)", zero_line=True)
    return Fig("cost_agency_diff", "Cost differences by agency",
               "Mean paired difference per person (discounted) with its 95% interval; below zero the agency spends less "
               "than under the comparator.", fig)


def _rate(run: RunData) -> str:
    r = run.discount_rate
    return f"{100 * r:g}%" if r is not None else "the scenario's rate"


# ---- budget ----------------------------------------------------------------------------------------------


def fiscal_years(run: RunData) -> list[Fig]:
    """Undiscounted cost by fiscal year and payer, and each arm's difference from the comparator (none, one or two figures).

    Undiscounted because a budget is paid in each year's own dollars (constant prices of run.price_year).
    """
    out: list[Fig] = []
    bp = run.table("budget_by_payer")
    if bp is None or bp.empty:
        return out
    payers = [p for p in run.payers if bp.loc[bp["payer"] == p, "cost_undiscounted_usd"].abs().sum() > 0]
    fig = P.fiscal_year_stacks(bp, run.arms, payers, P.payer_styles(list(run.payers)))
    out.append(Fig("fy_stack", "Costs by fiscal year and payer",
                   "Undiscounted cost (constant prices) of the target group in each payer's fiscal year, mean of "
                   f"{run.replications} replications; intervals for every figure are in the table below and in the "
                   "workbook. Years at the ends of the period are partial.", fig))
    bd = run.table("budget_by_payer_differences")
    if bd is not None and len(bd) and run.others:
        payers_d = [p for p in payers if bd.loc[bd["payer"] == p, "difference_undiscounted_usd"].abs().sum() > 0]
        fig = P.fiscal_year_differences(bd, run.others, payers_d, P.payer_styles(list(run.payers)))
        out.append(Fig("fy_diff", "Who pays and who saves, by fiscal year",
                       "Each arm minus the comparator by payer and fiscal year (undiscounted), mean paired difference with "
                       "its 95% interval.", fig))
    return out


def grant(run: RunData) -> Fig | None:
    """Cumulative undiscounted spending of the grant payer's agencies against the grant (None if no arm spends any)."""
    gm, g = run.table("grant_monthly"), run.table("grant")
    if gm is None or g is None or gm.empty:
        return None
    arms = [a for a in run.arms if a in set(gm["arm"]) and gm.loc[gm["arm"] == a, "cumulative_usd"].max() > 0]
    if not arms:
        return None
    fig = P.grant_burn_down(gm, g, style_of(run), arms)
    parts = []
    for row in g.itertuples(index=False):
        if row.arm not in arms:
            continue
        out = row.month_grant_runs_out if isinstance(row.month_grant_runs_out, str) else "not within the period"
        parts.append(f"{arm_label(row.arm)}: {money(row.spent_by_program_end_usd)} spent by {grant_spent_by(row)} "
                     f"(95% interval {money(row.ci_low)} to {money(row.ci_high)}); grant runs out: {out} "
                     f"(in {100 * row.share_of_reps_running_out:.0f}% of replications)")
    return Fig("grant", "Grant burn-down",
               "Cumulative undiscounted spending of the grant payer's agencies, mean path over replications. " +
               "; ".join(parts) + ".", fig)


def cumulative(run: RunData) -> Fig | None:
    """Cumulative net cost against the comparator by payer and year, with payback marked (None without
    budget_cumulative.csv)."""
    c = run.table("budget_cumulative")
    if c is None or c.empty or not run.others:
        return None
    payers = [p for p in run.payers if (c.loc[c["payer"] == p, "cumulative_difference_usd"].abs() > 0).any()]
    arms = [a for a in run.others if (c["arm"] == a).any()]
    fig = P.cumulative_net_cost(c, arms, payers, P.payer_styles(list(run.payers)))
    back = c[c["pays_back_here"].astype(bool)]
    said = "; ".join(f"{arm_label(r.arm)}: {'all payers' if r.payer == 'all_payers' else payer_label(r.payer)} in "
                     f"{r.year}" for r in back.itertuples()) or "no payer's cumulative net cost turns into a saving"
    return Fig("cumulative", "Cumulative net cost and payback, by payer",
               f"Each arm minus the comparator, undiscounted, added up year by year: each payer over its own fiscal "
               f"years (dashed), all payers over calendar years (black); shaded: 95% intervals over the "
               f"{run.replications} replications of the cumulative sums. A star marks payback, the year a cumulative "
               f"net cost first falls to zero or below ({said}).", fig)


# ---- census ---------------------------------------------------------------------------------------------


def _schedule_segments(value, start: dt.date, end: dt.date) -> list[tuple[dt.date, float]]:
    if isinstance(value, dict):
        pts = []
        for k, v in value.items():
            d = start if str(k) == "start" else (k if isinstance(k, dt.date) else dt.date.fromisoformat(str(k)))
            pts.append((max(d, start), float(v)))
        return [(d, v) for d, v in pts if d <= end]
    return [(start, float(value))]


def capacity_segments(run: RunData, arm: str) -> list[tuple[dt.date, dt.date, float]]:
    """(from, to, places) of the case-manager pool while LEAD runs in ``arm``."""
    if not run.value("lead.enabled", arm, True):
        return []
    per = run.value("lead.caseload_per_manager", arm)
    cms = run.value("lead.case_managers", arm)
    if per is None or cms is None:
        return []
    lead_start = run.value("lead.start_date", arm) or run.start_date
    lead_end = run.value("lead.end_date", arm) or run.end_date
    a0 = max(_d(lead_start), run.start_date)
    b0 = min(_d(lead_end), run.end_date)
    pts = _schedule_segments(cms, a0, b0)
    segs = []
    for i, (d, v) in enumerate(pts):
        nxt = pts[i + 1][0] if i + 1 < len(pts) else b0
        if nxt > d:
            segs.append((d, nxt, v * float(per)))
    return segs


def _d(x) -> dt.date:
    return x if isinstance(x, dt.date) else dt.date.fromisoformat(str(x))


def census(run: RunData) -> Fig | None:
    """Daily counts in jail, enrolled in LEAD and waiting for a place, with case-manager capacity (None without saved spells)."""
    if run.spells is None:
        return None
    kinds = [N.JAIL, N.LEAD_ENROLLED, N.LEAD_WAITING]
    daily = daily_counts(run.spells, kinds, run.t_end, run.arms)
    capacity = {a: capacity_segments(run, a) for a in run.arms}
    ends = {}
    for a in run.arms:
        e = run.value("lead.end_date", a)
        if e and run.value("lead.enabled", a, True) and _d(e) < run.end_date:
            ends[a] = _d(e)
    fig = P.census(daily, run.start_date, style_of(run), run.arms, capacity, ends)
    waited = bool((daily.loc[daily["kind"] == N.LEAD_WAITING, "count"] > 0).any())
    wait_note = "" if waited else " Nobody waited for a LEAD place in these replications, so the waiting list is not drawn."
    return Fig("census", "Jail census, LEAD caseload and waiting list",
               f"People of the target group in jail, enrolled in LEAD and waiting for a LEAD place on each day of the "
               f"analysis period: {_saved_reps(run, run.spells)}. The jail line is smoothed; the others are daily."
               + wait_note, fig)


# ---- cost-effectiveness --------------------------------------------------------------------------------------


def ce_points(totals: pd.DataFrame, comparator: str) -> pd.DataFrame:
    """Per replication: incremental cost and signed incremental effect of every arm and outcome."""
    wide = totals.set_index(["replication", "arm"]).unstack("arm")
    rows = []
    for arm in [a for a in dict.fromkeys(totals["arm"]) if a != comparator]:
        d_cost = wide[("cost_total_usd", arm)] - wide[("cost_total_usd", comparator)]
        for outcome, (direction, _unit) in CEA_OUTCOMES.items():
            if (outcome, arm) not in wide:
                continue
            sign = 1.0 if direction == "gained" else -1.0
            d_eff = sign * (wide[(outcome, arm)] - wide[(outcome, comparator)])
            rows += [(arm, rep, outcome, float(c), float(e)) for rep, c, e in zip(wide.index, d_cost, d_eff, strict=True)]
    return pd.DataFrame(rows, columns=["arm", "replication", "outcome", "d_cost", "d_effect"])


def ce_plane(run: RunData) -> Fig | None:
    """Cost-effectiveness plane per outcome, one point per replication, with the efficiency frontier (None without a comparator)."""
    totals = run.table("cea_totals")
    if totals is None or totals.empty or run.comparator is None:
        return None
    pts = ce_points(totals, run.comparator)
    outcomes = {o: v for o, v in CEA_OUTCOMES.items() if o in set(pts["outcome"])}
    fig = P.ce_plane(pts, run.table("cea_frontier"), outcomes, style_of(run), run.arms, run.comparator)
    return Fig("ce_plane", "Cost-effectiveness plane and efficiency frontier",
               "Small markers: one replication (paired with the comparator's same replication); large: the mean. "
               "Costs are all payers', discounted; outcomes discounted like costs. The grey line joins the arms on the "
               "efficiency frontier (not dominated, nor extendedly dominated).", fig)


def breakeven_payer(run: RunData) -> str | None:
    """The payer of the program-price break-even: the run's last ``--perspective``, else the first payer (None if there are none)."""
    chosen = run.option("--perspective")
    if chosen:
        return chosen[-1]
    return next(iter(run.payers), None)


def breakeven_lines(run: RunData) -> tuple[dict, dict, dict, str | None]:
    """Price grid, mean and 95% band of the payer's cost difference, per arm; the roots; the run's price."""
    totals = run.table("cea_totals")
    payer = breakeven_payer(run)
    if totals is None or payer is None or f"cost_payer_{payer}_usd" not in totals or run.comparator is None:
        return {}, {}, {}, payer
    wide = totals.set_index(["replication", "arm"]).unstack("arm")
    lines, roots, prices = {}, {}, []
    for arm in run.others:
        a = (wide[(f"cost_payer_{payer}_usd", arm)] - wide[(f"cost_payer_{payer}_usd", run.comparator)]).to_numpy()
        b = (wide[("participant_months_discounted", arm)] - wide[("participant_months_discounted", run.comparator)]).to_numpy()
        prog = (wide[("cost_program_usd", arm)] - wide[("cost_program_usd", run.comparator)]).to_numpy()
        if b.mean() <= 0:
            continue
        root = -a.mean() / b.mean()
        roots[arm] = root if root >= 0 else float("nan")
        prices.append(float(prog.mean() / b.mean()))
        lines[arm] = (a, b)
    if not lines:
        return {}, {}, {}, payer
    current = dict(zip(lines, prices, strict=True))
    top = max(list(current.values()) + [r for r in roots.values() if np.isfinite(r)]) * 1.15 or 1000.0
    grid = np.linspace(0.0, top, 200)
    out = {}
    for arm, (a, b) in lines.items():
        y = a[None, :] + grid[:, None] * b[None, :]
        m = y.mean(axis=1)
        n = y.shape[1]
        half = stats.t.ppf(0.975, n - 1) * y.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(grid))
        out[arm] = (grid, m, np.vstack([m - half, m + half]))
    return out, roots, current, payer


def breakeven(run: RunData) -> Fig | None:
    """Payer's discounted cost difference against the price per participant-month, with the break-even price (None without data)."""
    lines, roots, current, maybe_payer = breakeven_lines(run)
    if not lines:
        return None
    payer = cast(str, maybe_payer)  # lines come only with a payer (``breakeven_lines``)
    fig = P.breakeven_price(lines, roots, current, payer, style_of(run), run.others)
    return Fig("breakeven", "Break-even program price",
               f"If {payer_label(payer)} paid the program's cost per participant-month (horizontal axis), its cost "
               f"difference against the comparator would be the line (discounted; shaded: 95% interval over "
               f"replications). Unit costs enter linearly, so the line is exact, not extrapolated. Dotted: what the "
               f"program's agencies ({', '.join(run.program_agencies)}) spend per extra participant-month in this run.", fig)


def all_figures(run: RunData) -> list[Fig]:
    """Every figure the run's files allow, in report order."""
    figs: list[Fig | None] = [km(run), recidivism_differences(run), wellbeing_differences(run), cost_by_payer(run),
                              cost_by_agency(run), cost_agency_differences(run)]
    figs += fiscal_years(run)
    figs += [cumulative(run), grant(run), census(run), ce_plane(run), breakeven(run)]
    return [f for f in figs if f is not None]
