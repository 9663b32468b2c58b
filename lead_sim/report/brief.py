"""A one-page funding brief in plain language (HTML, prints on one A4 or Letter page).

What it costs and saves each year and for whom, the break-even conditions when the run has
them, the main caveats, and the evidence the model rests on. A probability that the program
saves money is given only when the run holds a probabilistic sensitivity analysis (none of the
current run kinds does), never guessed from the replications.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from lead_sim.outcomes.costing import LENS_MEANING, PROGRAM_FORM_MEANING
from lead_sim.report.html import esc
from lead_sim.report.labels import arm_label, grant_spent_by, is_nan, money, payer_label
from lead_sim.report.rundata import RunData
from lead_sim.report.sources import tag_counts
from lead_sim.stats import mean_ci

EVIDENCE = [
    ("Collins SE, Lonczak HS, Clifasefi SL. Seattle's Law Enforcement Assisted Diversion (LEAD): program effects on "
     "recidivism outcomes. <i>Evaluation and Program Planning</i> 2017;64:49-56.",
     "Seattle, non-randomised, 203 participants vs 115 controls: odds ratio of any arrest 0.40 in the 6 months after "
     "entry and 0.42 over the longer term; felony charges 0.61."),
    ("Clifasefi SL, Lonczak HS, Collins SE. Seattle's LEAD program: within-subjects changes on housing, employment, "
     "and income/benefits outcomes and associations with recidivism. <i>Crime &amp; Delinquency</i> 2017;63(4).",
     "Twice as likely to be sheltered, 46% more likely to be working: the model's effects on housing and work."),
    ("LEAD Santa Fe. Program evaluation report, December 2016.",
     "Referral, intake and engagement rates (105 referrals, 87 enrolled, 77% engaged); about $500 per client-month, "
     "60% paid by Medicaid."),
    ("University of Washington LEAD evaluation team. Seattle LEAD program cost analysis, 2015.",
     "$899 per participant-month with start-up, $532 at steady state: the basis of the case-management cost."),
]

CSS = """
@page { margin: 10mm 12mm; }
* { box-sizing: border-box; }
body { font: 8.3pt/1.27 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 184mm; margin: 0 auto; }
h1 { font-size: 13.5pt; margin: 0 0 .8mm; }
h2 { font-size: 9.3pt; margin: 2.4mm 0 .8mm; color: #0072B2; border-bottom: 1px solid #0072B2; }
p { margin: 0 0 1mm; }
ul, ol { margin: 0 0 1mm; padding-left: 4.5mm; } li { margin: 0 0 .4mm; }
table { border-collapse: collapse; width: 100%; margin: .6mm 0 1mm; font-size: 8pt; }
th, td { border-bottom: 1px solid #ccc; padding: .35mm 1.2mm; text-align: left; vertical-align: top; }
th { background: #eef2f6; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { min-width: 30mm; } td.n .muted { white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 1.5px solid #555; }
.muted { color: #555; } .small { font-size: 7.4pt; }
.lead { font-size: 9pt; border-left: 3px solid #0072B2; padding: .6mm 2mm .6mm 6.5mm; background: #f4f8fb; }
"""


def _annual(run: RunData, arm: str, metric: str) -> tuple[float, float, float]:
    """Paired difference in a per-person metric, turned into a yearly total for the target group.

    Uses metrics.csv: per replication, (arm - comparator) x people of that replication / years.
    """
    m = run.metrics
    if m is None or run.comparator is None:
        return (float("nan"),) * 3
    wide = m[m["metric"].isin([metric, "people"])].pivot_table(index=["replication", "metric"], columns="arm",
                                                                 values="value")
    try:
        d = wide.xs(metric, level="metric")
        people = wide.xs("people", level="metric")[run.comparator]
    except KeyError:
        return (float("nan"),) * 3
    per_year = (d[arm] - d[run.comparator]) * people / run.years
    return mean_ci(per_year.to_numpy())


def _round(x: float) -> float:
    if is_nan(x):
        return x
    step = 1000 if abs(x) >= 10000 else (100 if abs(x) >= 1000 else 10)
    return round(x / step) * step


def _m(x: float, signed: bool = True) -> str:
    return money(_round(x), signed)


def _ci(t: tuple[float, float, float], stacked: bool = False) -> str:
    m, lo, hi = t
    if is_nan(lo):
        return _m(m)
    return f"{_m(m)}{'<br>' if stacked else ' '}<span class=\"muted\">({_m(lo)} to {_m(hi)})</span>"


def _payers(run: RunData) -> list[str]:
    out = []
    for p in run.payers:
        vals = [run.difference(a, f"cost_payer_{p}_per_person_usd")[0] for a in run.others]
        if any(not is_nan(v) and abs(v) > 0 for v in vals):
            out.append(p)
    return out


def _group(run: RunData, arm: str, agencies: list[str]) -> tuple[float, float, float]:
    """Yearly paired difference summed over agencies (exact per replication, then the interval)."""
    m = run.metrics
    if m is None or run.comparator is None or not agencies:
        return (float("nan"),) * 3
    keys = [f"cost_{a}_per_person_usd" for a in agencies]
    sub = m[m["metric"].isin(keys)]
    tot = sub.groupby(["arm", "replication"])["value"].sum().unstack("arm")
    people = m[m["metric"] == "people"].pivot_table(index="replication", columns="arm", values="value")[run.comparator]
    per_year = (tot[arm] - tot[run.comparator]) * people / run.years
    return mean_ci(per_year.to_numpy())


def render(run: RunData, params: pd.DataFrame) -> str:
    """The funding brief as one HTML page.

    Yearly net cost or saving per payer (discounted, USD of run.price_year, averaged over the
    years analysed), what it buys, break-even values, caveats and the evidence.
    """
    others = run.others
    comp = arm_label(run.comparator or "")
    title = f"Funding brief: LEAD against {comp.lower()}" if run.comparator else f"Funding brief: {arm_label(run.arms[0])}"
    head = (f"<h1>{esc(title)}</h1><p class=\"muted small\">{esc(' '.join(str(run.scenario.get('description', '')).split()))} "
            f"Simulated {run.start_date:%d %b %Y} to {run.end_date:%d %b %Y}, {run.replications} replications; "
            f"{esc(run.price_year)} dollars, discounted at {_rate(run)} a year. Run {esc(run.path.name)}, lead-sim "
            f"{esc(run.manifest.get('lead_sim_version', ''))}; brief of {dt.date.today():%d %b %Y}.</p>")
    parts = [head]
    if not others:
        parts.append("<p>This run has one arm: there is nothing to compare.</p>")
        return _page(title, parts)

    program = run.program_agencies
    other_agencies = [a for a in run.agencies if a not in program]
    bottom = []
    for arm in others:
        total = _annual(run, arm, "cost_total_per_person_usd")
        prog = _group(run, arm, program)
        saved = _group(run, arm, other_agencies)
        word = "more" if total[0] > 0 else "less"
        bottom.append(
            f"<li><b>{esc(arm_label(arm))}</b> costs all payers together about <b>{_m(abs(total[0]), False)} a year "
            f"{word}</b> than {esc(comp.lower())} ({_m(total[1])} to {_m(total[2])}): the program's own spending adds "
            f"{_m(prog[0], False)} a year and the justice system spends {_m(abs(saved[0]), False)} a year "
            f"{'less' if saved[0] < 0 else 'more'}.</li>")
    parts.append(f"<h2>The bottom line <span class=\"muted small\">(a year: averaged over the {run.years:.1f} years "
                 f"analysed, whether or not the program ran throughout)</span></h2><ul class=\"lead\">" + "".join(bottom) + "</ul>")

    payers = _payers(run)
    chance = _chance(run)
    rows = []
    for p in payers + ["all_payers"]:
        metric = "cost_total_per_person_usd" if p == "all_payers" else f"cost_payer_{p}_per_person_usd"
        cells = ""
        for a in others:
            cells += f"<td class=\"n\">{_ci(_annual(run, a, metric), stacked=bool(chance))}</td>"
            if chance:
                cells += f"<td class=\"n\">{chance.get((a, p), '')}</td>"
        if p == "all_payers":
            rows.append(f"<tr class=\"total\"><td>All payers</td>{cells}</tr>")
        else:
            rows.append(f"<tr><td>{esc(payer_label(p))}</td>{cells}</tr>")
    heads = "".join(f"<th class=\"n\">{esc(arm_label(a))}</th>" + ("<th class=\"n\">chance of saving</th>" if chance else "")
                    for a in others)
    psa_note = (f" Chance of saving: share of {run.psa_draws} draws of the uncertain parameters (probabilistic "
                f"sensitivity analysis {esc(run.psa_path.name if run.psa_path else '')}) in which the payer spends less, "
                f"Wilson 95% interval." if chance else "")
    parts.append(
        "<h2>Net cost (+) or saving (-) per year, by payer</h2>"
        f"<table><thead><tr><th>Payer</th>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p class=\"small muted\">Against {esc(comp.lower())}; average per year over the period for the whole target "
        f"group, discounted; 95% interval in brackets; rounded."
        + (" Fiscal-year figures: workbook sheet &ldquo;Payer x FY diff&rdquo;." if run.has_budget else "")
        + psa_note + "</p>")

    outcome_rows = []
    for arm in others:
        b = _annual_count(run, arm, "bookings_per_person_year")
        j = _annual_count(run, arm, "jail_days_per_person_year")
        r = run.difference(arm, "p_rearrest_12m")
        intakes = run.metric(arm, "lead_enrolled")
        outcome_rows.append(
            f"<li><b>{esc(arm_label(arm))}:</b> {_count(-b[0])} fewer jail bookings a year ({_count(-b[2])} to "
            f"{_count(-b[1])}), {_count(-j[0])} fewer jail days a year ({_count(-j[2])} to {_count(-j[1])}); chance of "
            f"re-arrest within a year {_pp(r)}; {intakes[0]:,.0f} people enrolled in LEAD over the period.</li>")
    parts.append("<h2>What it buys</h2><ul>" + "".join(outcome_rows) + "</ul>")

    be = _breakeven(run)
    if be:
        parts.append("<h2>When it would pay for itself</h2><ul>" + "".join(be) + "</ul>")

    parts.append("<h2>Caveats</h2><ul>" + "".join(f"<li>{c}</li>" for c in _caveats(run, params)) + "</ul>")
    ev = "".join(f"<li>{cite} <span class=\"muted\">{esc(use)}</span></li>" for cite, use in EVIDENCE)
    parts.append(f"<h2>Evidence it rests on</h2><ol class=\"small\">{ev}</ol>")
    return _page(title, parts)


def _chance(run: RunData) -> dict[tuple[str, str], str]:
    """(arm, payer) -> 'chance of saving (Wilson interval)' from an attached PSA; empty without one."""
    sav = run.psa_savings
    if sav is None or sav.empty:
        return {}
    return {(r.arm, r.payer): "n/a" if is_nan(r.p_saves_money) else
            f"{100 * r.p_saves_money:.0f}%<br><span class=\"muted\">({100 * r.p_ci_low:.0f} to "
            f"{100 * r.p_ci_high:.0f}%)</span>" for r in sav.itertuples()}


def _annual_count(run: RunData, arm: str, metric: str) -> tuple[float, float, float]:
    """Yearly change in a per-person-year count for the whole group: per-person-year difference x person-years / years."""
    m = run.metrics
    if m is None:
        return (float("nan"),) * 3
    wide = m[m["metric"].isin([metric, "person_years"])].pivot_table(index=["replication", "metric"], columns="arm",
                                                                     values="value")
    d = wide.xs(metric, level="metric")
    py = wide.xs("person_years", level="metric")[run.comparator]
    return mean_ci(((d[arm] - d[run.comparator]) * py / run.years).to_numpy())


def _count(x: float) -> str:
    if is_nan(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:.1f}"


def _pp(d: tuple[float, float, float]) -> str:
    m, lo, hi = (100 * x for x in d)
    if is_nan(m):
        return "n/a"
    change = f"{'down' if m < 0 else 'up'} {abs(m):.1f} percentage points"
    return change + ("" if is_nan(lo) else f" ({lo:+.1f} to {hi:+.1f})")


def _breakeven(run: RunData) -> list[str]:
    """One line per arm: the program price at which the payer breaks even, the payback year, any
    other break-even value; then the grant."""
    b = run.table("breakeven")
    lines: dict[str, list[str]] = {}
    if b is not None and len(b):
        from lead_sim.report.figures import breakeven_lines

        _, _, current, payer = breakeven_lines(run)
        who = esc(payer_label(payer)) if payer else "the payer"
        for r in b.itertuples():
            parts = lines.setdefault(r.arm, [])
            if r.name == "program_cost_per_participant_month":
                if is_nan(r.value):
                    parts.append(f"no program price makes it cost-neutral for {who}")
                else:
                    now = current.get(r.arm)
                    tail = f" (its agencies spend about {money(now)} now)" if now is not None else ""
                    parts.append(f"{who} would break even paying up to <b>{money(r.value)} per participant-month</b> "
                                 f"for the program{tail}")
            elif r.name == "payback_year":
                parts.append(f"pays back in {int(r.value)}" if not is_nan(r.value) else
                             f"does not pay back within the period ({esc(r.note.split(': ', 1)[-1])})")
            else:
                val = "none in the range searched" if is_nan(r.value) else f"{r.value:.3g} {esc(r.unit)}"
                parts.append(f"break-even {esc(r.name.replace('_', ' '))}: {val}")
    out = [f"<li><b>{esc(arm_label(arm))}:</b> {'; '.join(parts)}.</li>" for arm, parts in lines.items()]
    g = run.table("grant")
    if g is not None and len(g):
        for r in g.itertuples():
            if r.arm == run.comparator or is_nan(r.grant_usd) or r.grant_usd <= 0:
                continue
            when = f"runs out in {r.month_grant_runs_out}" if isinstance(r.month_grant_runs_out, str) else \
                "is not used up within the period"
            out.append(f"<li><b>{esc(arm_label(r.arm))}:</b> the {money(r.grant_usd)} grant {when}; "
                       f"{money(r.spent_by_program_end_usd)} spent by {esc(grant_spent_by(r))} "
                       f"({money(r.ci_low)} to {money(r.ci_high)}).</li>")
    return out


def _caveats(run: RunData, params: pd.DataFrame) -> list[str]:
    counts = tag_counts(params)
    n = len(params)
    assumed, local = counts.get("assumed", 0), counts.get("local", 0)
    out = [f"<b>Mostly assumptions.</b> {assumed} of the {n} parameters are assumptions and {local} rest on Denver or "
           f"Colorado figures (the rest: other sites, national sources or no note). Replace the assumed ones with "
           f"local data before relying on these figures."]
    rr = run.value("lead.rr_contact_engaged")
    row = params[params["parameter"] == "lead.rr_contact_engaged"]
    if rr is not None and len(row):
        if "A" in row["tag"].iloc[0].split("+"):
            out.append(f"<b>LEAD's effect is assumed:</b> engaged participants meet police at {rr:g} times the usual "
                       f"rate (source note: {esc(row['source'].iloc[0])}).")
        else:
            out.append(f"<b>LEAD's effect</b> on police contacts ({rr:g} times the usual rate while engaged) rests on: "
                       f"{esc(row['source'].iloc[0])}.")
    if run.psa_draws:
        out.append(f"<b>Two kinds of uncertainty.</b> Intervals in the tables come from {run.replications} replications "
                   f"of the same assumptions; the chance of saving money comes from {run.psa_draws} draws of the "
                   f"uncertain parameters (only those the scenario's uncertainty section lists).")
    else:
        out.append(f"<b>Simulation noise only.</b> Intervals come from {run.replications} replications of the same "
                   f"assumptions, not from doubt about the assumptions (no probabilistic sensitivity analysis here, so "
                   f"no probability of saving money).")
    people = run.metric(run.arms[0], "people")[0]
    intakes = max((run.metric(a, "lead_enrolled")[0] for a in run.others), default=float("nan"))
    if not is_nan(people) and not is_nan(intakes):
        out.append(f"<b>Small reach.</b> About {intakes:,.0f} of {people:,.0f} people in the target group enrol; money "
                   f"figures are for the whole group. <b>Not counted:</b> costs to victims (zero here), health care "
                   f"outside the program's treatment, crime by people outside the group.")
    lens = run.value("costs.lens")
    if lens in LENS_MEANING:  # runs before 2026-12-04 have no lens: every cost was one value
        other = "average" if lens == "marginal" else "marginal"
        form = run.value("costs.program.form")
        line = (f"<b>Costs are at their {lens} value</b> ({LENS_MEANING[lens]}); rerun with --costs {other} for the "
                f"other view. The program is priced {PROGRAM_FORM_MEANING.get(form, form)}.")
        j = run.table("jail_savings")
        if j is not None and len(j) and "marginal_usd_per_bed_day" in j.columns:
            line += (f" A jail day: {money(j['average_usd_per_bed_day'].iloc[0])} on average, "
                     f"{money(j['marginal_usd_per_bed_day'].iloc[0])} saved at once.")
        out.append(line)
    return out


def _rate(run: RunData) -> str:
    return f"{100 * run.discount_rate:g}%" if run.discount_rate is not None else "the scenario's rate"


def _page(title: str, parts: list[str]) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")

