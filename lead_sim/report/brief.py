"""A one-page funding brief in plain language (HTML, prints on one A4 or Letter page, up to at least 6 arms).

What each arm costs and saves and for whom, as totals over named periods: the months its program
ran (with the amount per year of operation), after it ended, and each calendar year; never an
average over years in which a program did not run. With cost-effectiveness tables (a cea run,
or a budget run combined with one): incremental effects, cost per unit and net monetary benefit
at each outcome's own willingness to pay. Break-even values, funding after the pilot and payback,
the main caveats and the evidence the model rests on. A probability that the program saves money
is given only when a probabilistic sensitivity analysis is attached, never guessed from the
replications.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from lead_sim.outcomes.costing import LENS_MEANING, PROGRAM_FORM_MEANING
from lead_sim.report.html import esc
from lead_sim.report.labels import arm_label, is_nan, money, payer_label, payer_short
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

#: EVIDENCE cited in short, for a brief with many arms
EVIDENCE_SHORT = [
    ("Collins, Lonczak &amp; Clifasefi, <i>Eval Program Plann</i> 2017;64:49-56",
     "Seattle: odds ratio of arrest 0.40 at 6 months, 0.42 longer term"),
    ("Clifasefi, Lonczak &amp; Collins, <i>Crime &amp; Delinquency</i> 2017;63(4)", "housing and work"),
    ("LEAD Santa Fe evaluation report, 2016", "referral, intake and engagement; $500 per client-month"),
    ("UW LEAD cost analysis, 2015", "$899 per participant-month with start-up, $532 at steady state"),
]

CSS = """
@page { margin: 9mm 10mm; }
* { box-sizing: border-box; }
body { font: 7.7pt/1.22 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 190mm; margin: 0 auto; }
h1 { font-size: 12.5pt; margin: 0 0 .6mm; }
h2 { font-size: 8.8pt; margin: 1.9mm 0 .6mm; color: #0072B2; border-bottom: 1px solid #0072B2; break-after: avoid; }
h2 .muted { font-weight: normal; }
p { margin: 0 0 .8mm; }
ul, ol { margin: 0 0 .8mm; padding-left: 4mm; } li { margin: 0 0 .3mm; }
table { border-collapse: collapse; width: 100%; margin: .4mm 0 .8mm; font-size: 7.3pt; line-height: 1.18; }
th, td { border-bottom: 1px solid #ccc; padding: .25mm .9mm; text-align: left; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
th .muted { font-weight: normal; }
td.arm { min-width: 24mm; } .amt { white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 1.5px solid #555; }
.muted { color: #555; } .small { font-size: 7pt; }
.lead { font-size: 8.2pt; border-left: 3px solid #0072B2; padding: .5mm 1.8mm .5mm 5.5mm; background: #f4f8fb; }
.cols { columns: 2; column-gap: 5mm; } .cols li { break-inside: avoid; }
"""


def _round(x: float) -> float:
    if is_nan(x):
        return x
    step = 1000 if abs(x) >= 10000 else (100 if abs(x) >= 1000 else 10)
    return round(x / step) * step


def _m(x: float, signed: bool = True) -> str:
    """Rounded dollars that never break across lines (``-$215,000`` stays whole)."""
    return f'<span class="amt">{money(_round(x), signed)}</span>'


def _pm(t: tuple[float, float, float]) -> str:
    """The mean over its 95% interval as +/- half its width (the intervals are symmetric t-intervals)."""
    m, lo, hi = t
    if is_nan(lo):
        return _m(m)
    return f"{_m(m)}<br><span class=\"muted\">&plusmn;{_m((hi - lo) / 2, False)}</span>"


def _when(a: str | dt.date, b: str | dt.date) -> str:
    a, b = (x if isinstance(x, dt.date) else dt.date.fromisoformat(str(x)) for x in (a, b))
    return f"{a:%d %b %Y} to {b:%d %b %Y}"


def _months(n: int) -> str:
    return f"{n} month{'s' if n != 1 else ''}"


# ---- totals over named periods ---------------------------------------------------------------------------


def _periods(run: RunData) -> pd.DataFrame | None:
    """budget_periods.csv (budget and cea runs since 2026-12-04), else None."""
    p = run.table("budget_periods")
    return p if p is not None and len(p) else None


def _period(run: RunData, arm: str, kind: str, group: str, period: str | None = None) -> pd.Series | None:
    p = _periods(run)
    if p is None:
        return None
    rows = p[(p["arm"] == arm) & (p["kind"] == kind) & (p["group"] == group)]
    if period is not None:
        rows = rows[rows["period"].astype(str) == str(period)]
    return rows.iloc[0] if len(rows) else None


def _t(row: pd.Series | None, per_year: bool = False) -> tuple[float, float, float]:
    if row is None:
        return (float("nan"),) * 3
    if per_year:
        return float(row["per_year_undiscounted_usd"]), float(row["per_year_ci_low"]), float(row["per_year_ci_high"])
    return float(row["difference_undiscounted_usd"]), float(row["ci_low"]), float(row["ci_high"])


def _total(run: RunData, arm: str, metric: str) -> tuple[float, float, float]:
    """Paired difference in a per-person metric as a total for the whole target group over the whole
    analysis period: per replication, (arm - comparator) x people of that replication (discounted
    costs stay discounted). Never divided by years."""
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
    return mean_ci(((d[arm] - d[run.comparator]) * people).to_numpy())


def _group_total(run: RunData, arm: str, agencies: list[str]) -> tuple[float, float, float]:
    """Total paired difference over the analysis period summed over agencies (discounted)."""
    m = run.metrics
    if m is None or run.comparator is None or not agencies:
        return (float("nan"),) * 3
    keys = [f"cost_{a}_per_person_usd" for a in agencies]
    tot = m[m["metric"].isin(keys)].groupby(["arm", "replication"])["value"].sum().unstack("arm")
    people = m[m["metric"] == "people"].pivot_table(index="replication", columns="arm", values="value")[run.comparator]
    return mean_ci(((tot[arm] - tot[run.comparator]) * people).to_numpy())


def _program_dates(run: RunData, arm: str) -> tuple[dt.date, dt.date] | None:
    """First and last day the arm's program ran inside the analysis period (None if it never ran)."""
    src = run.source_of("budget_periods")  # with --combine: the period of the run the totals come from
    if not run.value("lead.enabled", arm, True):
        return None
    start = run.value("lead.start_date", arm) or src.start_date
    end = run.value("lead.end_date", arm) or src.end_date
    a, b = max(_d(start), src.start_date), min(_d(end), src.end_date)
    return (a, b) if a <= b else None


def _d(x) -> dt.date:
    return x if isinstance(x, dt.date) else dt.date.fromisoformat(str(x))


#: from this many arms besides the comparator the bottom line gives one short line per arm (its
#: intervals are in the table under it) and the evidence is cited in short
DENSE_ARMS = 4


def _bottom_line(run: RunData, arm: str, comp: str, dense: bool = False) -> str:
    """One arm's headline: totals over the months its program ran (and after), or over the named analysis period."""
    name = f"<b>{esc(arm_label(arm))}</b>"
    dates = _program_dates(run, arm)
    prog = _period(run, arm, "program", "all_payers")
    if dates is None:
        total = _total(run, arm, "cost_total_per_person_usd")
        return (f"<li>{name} does not run LEAD; over {_when(run.start_date, run.end_date)} it costs all payers "
                f"{_m(total[0])} against {esc(comp)} (discounted; {_m(total[1])} to {_m(total[2])}).</li>")
    if prog is None:  # a compare run: only whole-period totals, discounted
        total = _total(run, arm, "cost_total_per_person_usd")
        program = _group_total(run, arm, run.program_agencies)
        saved = _group_total(run, arm, [a for a in run.agencies if a not in run.program_agencies])
        ran = "throughout" if dates == (run.start_date, run.end_date) else f"from {_when(*dates)}"
        return (f"<li>{name} (LEAD ran {ran}): over the whole period {_when(run.start_date, run.end_date)} it costs all "
                f"payers <b>{_m(abs(total[0]), False)} {'more' if total[0] > 0 else 'less'}</b> in total than "
                f"{esc(comp)} ({_m(total[1])} to {_m(total[2])}, discounted): the program's agencies "
                f"{_m(program[0])}, the others {_m(saved[0])}.</li>")
    total, per_year = _t(prog), _t(prog, per_year=True)
    program = _t(_period(run, arm, "program", "program_agencies"))
    others = _t(_period(run, arm, "program", "other_agencies"))
    more = "more" if total[0] > 0 else "less"
    after = _period(run, arm, "after_program", "all_payers")
    if dense:
        tail = f"; after it, to {_d(after['last_day']):%b %Y}: {_m(_t(after)[0])}" if after is not None else ""
        return (f"<li>{name}, {dates[0]:%b %Y}&ndash;{dates[1]:%b %Y}: all payers <b>{_m(abs(total[0]), False)} "
                f"{more}</b>, <b>{_m(abs(per_year[0]), False)} {more} per year of operation</b> (program "
                f"{_m(program[0])}, others {_m(others[0])}){tail}.</li>")
    text = (f"<li>{name}, {_when(*dates)} ({_months(int(prog['months']))}): all payers spend "
            f"<b>{_m(abs(total[0]), False)} {more}</b> ({_m(total[1])} to {_m(total[2])}), "
            f"<b>{_m(abs(per_year[0]), False)} {more} per year of operation</b> (program {_m(program[0])}, "
            f"others {_m(others[0])}).")
    if after is not None:
        a = _t(after)
        text += f" After it, to {_d(after['last_day']):%b %Y}: {_m(a[0])} ({_m(a[1])} to {_m(a[2])})."
    return text + "</li>"


def _payer_table(run: RunData, others: list[str], payers: list[str], chance: dict) -> str:
    """Rows: arms; columns: payers and all payers. With budget_periods: totals over the months each
    program ran (undiscounted); without: totals over the whole analysis period (discounted)."""
    by_period = _periods(run) is not None
    heads = "".join(f"<th class=\"n\">{esc(payer_label(p))}</th>" for p in payers) + "<th class=\"n\">All payers</th>"
    rows = []
    for a in others:
        dates = _program_dates(run, a)
        when = (f"<br><span class=\"muted small\">{dates[0]:%b %Y}&ndash;{dates[1]:%b %Y}</span>"
                if by_period and dates else "")
        cells = ""
        for p in [*payers, "all_payers"]:
            if by_period:
                kind = "program" if dates else "analysis"
                t = _t(_period(run, a, kind, p))
            else:
                metric = "cost_total_per_person_usd" if p == "all_payers" else f"cost_payer_{p}_per_person_usd"
                t = _total(run, a, metric)
            odds = chance.get((a, p), "")
            cells += f"<td class=\"n\">{_pm(t)}{'<br>' + odds if odds else ''}</td>"
        rows.append(f"<tr><td class=\"arm\">{esc(arm_label(a))}{when}</td>{cells}</tr>")
    if by_period:
        title = "Net cost (+) or saving (&minus;) by payer, over the months each program ran"
        note = ("Totals over the months in which each arm's program ran (dates under its name; whole months), "
                "undiscounted, constant prices; &plusmn; half the 95% interval over replications; rounded.")
    else:
        title = (f"Net cost (+) or saving (&minus;) by payer, over {_when(run.start_date, run.end_date)}")
        note = ("Totals for the whole target group over the whole period, discounted; &plusmn; half the 95% interval over "
                "replications; rounded.")
    if chance:
        note += (f" Under each: the chance of saving money, the share of {run.psa_draws} draws of the uncertain "
                 f"parameters (PSA {esc(run.psa_path.name if run.psa_path else '')}) in which the payer spends less, "
                 f"over the PSA's whole period (Wilson 95% interval).")
    return (f"<h2>{title}</h2><table><thead><tr><th>Against {esc(arm_label(run.comparator or '').lower())}</th>{heads}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table><p class=\"small muted\">{note}</p>")


def _year_table(run: RunData, others: list[str]) -> str:
    """All payers' net cost in each calendar year (mean and 95% half-width), from budget_periods.csv."""
    p = _periods(run)
    if p is None:
        return ""
    years = sorted(p.loc[p["kind"] == "calendar_year", "period"].astype(str).unique())
    if not years:
        return ""
    heads = "".join(f"<th class=\"n\">{y}</th>" for y in years)
    rows = []
    for a in others:
        cells = ""
        for y in years:
            cells += f"<td class=\"n\">{_pm(_t(_period(run, a, 'calendar_year', 'all_payers', y)))}</td>"
        rows.append(f"<tr><td class=\"arm\">{esc(arm_label(a))}</td>{cells}</tr>")
    first = p.loc[p["kind"] == "calendar_year", "first_day"].min()
    last = p.loc[p["kind"] == "calendar_year", "last_day"].max()
    partial = "" if (str(first).endswith("-01-01") and str(last).endswith("-12-31")) else \
        f" The first and last years are partial (the analysis runs {_when(first, last)})."
    fy = " Each payer's own fiscal years: workbook sheet &ldquo;Payer x FY diff&rdquo;." if run.has_budget else ""
    return ("<h2>Each calendar year, all payers <span class=\"muted small\">(net cost +, saving &minus;; undiscounted; "
            "&plusmn; half the 95% interval)</span></h2>"
            f"<table><thead><tr><th>Arm</th>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p class=\"small muted\">{partial.strip()}{fy}</p>")


def render(run: RunData, params: pd.DataFrame) -> str:
    """The funding brief as one HTML page (A4 or Letter, any number of arms).

    What each arm costs or saves, and for whom, as totals over named periods: the months its
    program ran (and per year of operation), then each calendar year; never an average over years
    a program did not run. With cost-effectiveness tables (a cea run, or one combined with
    ``--combine``): incremental effects, cost per unit and net monetary benefit at each
    outcome's own willingness to pay. Then break-even values, funding after the pilot, caveats
    and the evidence.
    """
    others = run.others
    comp = arm_label(run.comparator or "")
    title = f"Funding brief: LEAD against {comp.lower()}" if run.comparator else f"Funding brief: {arm_label(run.arms[0])}"
    runs = esc(run.path.name) + (f" and {esc(run.partner.kind)} run {esc(run.partner.path.name)}" if run.partner else "")
    head = (f"<h1>{esc(title)}</h1><p class=\"muted small\">{esc(' '.join(str(run.scenario.get('description', '')).split()))} "
            f"Simulated {run.start_date:%d %b %Y} to {run.end_date:%d %b %Y}, {run.replications} replications; "
            f"{esc(run.price_year)} dollars; discounting (where stated) at {_rate(run)} a year. "
            f"{esc(arm_label(run.kind))} run {runs}, lead-sim {esc(run.manifest.get('lead_sim_version', ''))}; "
            f"brief of {dt.date.today():%d %b %Y}.</p>")
    parts = [head]
    if not others:
        parts.append("<p>This run has one arm: there is nothing to compare.</p>")
        return _page(title, parts)

    dense = len(others) >= DENSE_ARMS
    bottom = "".join(_bottom_line(run, arm, comp.lower(), dense) for arm in others)
    how = (f"against {esc(comp.lower())}: totals over the months each program ran, then after it; undiscounted, "
           "constant prices; 95% intervals" if _periods(run) is not None else
           f"against {esc(comp.lower())}: totals over the named period, discounted")
    parts.append(f"<h2>The bottom line <span class=\"muted small\">({how})</span></h2><ul class=\"lead\">{bottom}</ul>")
    parts.append(_payer_table(run, others, _payers(run), _chance(run)))
    parts.append(_year_table(run, others))
    parts.append(_cea_table(run, others) or _outcome_table(run, others))
    parts.append(_money_table(run, others))
    parts.append("<h2>Caveats</h2><ul class=\"small\">" + "".join(f"<li>{c}</li>" for c in _caveats(run, params))
                 + "</ul>")
    if dense:
        ev = "; ".join(f"{cite} <span class=\"muted\">({esc(use)})</span>" for cite, use in EVIDENCE_SHORT)
        parts.append(f"<h2>Evidence it rests on</h2><p class=\"small\">{ev}.</p>")
    else:
        ev = "".join(f"<li>{cite} <span class=\"muted\">{esc(use)}</span></li>" for cite, use in EVIDENCE)
        parts.append(f"<h2>Evidence it rests on</h2><ol class=\"small cols\">{ev}</ol>")
    return _page(title, parts)


_OUTCOME_WORDS = {"rearrests": "Re-arrests", "bookings": "Jail bookings", "jail_days": "Jail days",
                  "active_use_years": "Years of active drug use", "housed_days": "Housed days"}


def _cea_table(run: RunData, others: list[str]) -> str:
    """Cost-effectiveness at each outcome's own willingness to pay ("" without cea.csv)."""
    t = run.table("cea")
    if t is None or t.empty:
        return ""
    src = run.source_of("cea")
    outcomes = list(dict.fromkeys(t["outcome"]))
    own = "wtp_usd" in t.columns
    p_ce = _p_cost_effective(run) if own else {}
    heads = ""
    for o in outcomes:
        r0 = t[t["outcome"] == o].iloc[0]
        value = f"<br><span class=\"muted\">at {_m(r0['wtp_usd'], False)} each</span>" if own else ""
        heads += f"<th class=\"n\">{esc(_OUTCOME_WORDS.get(o, o))} {esc(r0['direction'])}{value}</th>"
    rows = []
    for a in others:
        g = t[t["arm"] == a].set_index("outcome")
        if g.empty:
            continue
        r0 = g.iloc[0]
        cells = f"<td class=\"n\">{_pm((r0['incremental_cost_usd'], r0['cost_ci_low'], r0['cost_ci_high']))}</td>"
        for o in outcomes:
            r = g.loc[o]
            eff = _count(r["incremental_effect"])
            per = ("" if is_nan(r["icer_usd_per_unit"]) or r["incremental_effect"] <= 0 or r["incremental_cost_usd"] <= 0
                   else f"<br>{_m(r['icer_usd_per_unit'], False)} each")
            if r["incremental_effect"] > 0 and r["incremental_cost_usd"] <= 0:
                per = "<br>saves money too"
            elif per and not r["effect_ci_low"] > 0:  # the effect is not distinguishable from 0: no ratio to quote
                per = "<br><span class=\"muted\">ratio unclear</span>"
            nmb = f"<br>NMB {_m(r['nmb_usd'])}" if own else ""
            p = p_ce.get((a, o))
            cells += f"<td class=\"n\">{eff}{per}{nmb}{'<br>' + p if p else ''}</td>"
        rows.append(f"<tr><td class=\"arm\">{esc(arm_label(a))}</td>{cells}</tr>")
    assumed = [o for o in outcomes if run.value(f"cea.wtp_usd_per_unit.{o}") is not None]
    wtp_note = ""
    if own:
        wtp_note = (" NMB: net monetary benefit, the outcome valued at its own willingness to pay minus the incremental "
                    "cost (above 0: worth its cost at that value). The values per unit are assumptions "
                    "(cea.wtp_usd_per_unit; set your own with --set)." if assumed or own else "")
    if p_ce:
        wtp_note += (f" Under it: the share of {run.psa.draws if run.psa else ''} PSA draws in which the arm has the "
                     f"highest net benefit of all arms at that value.")
    return ("<h2>Cost-effectiveness <span class=\"muted small\">(all payers, discounted, over "
            f"{_when(src.start_date, src.end_date)}; whole target group)</span></h2>"
            f"<table><thead><tr><th>Arm</th><th class=\"n\">Incremental cost</th>{heads}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><p class=\"small muted\">Each outcome: change against "
            f"{esc(arm_label(run.comparator or '').lower())} (discounted like costs), then the cost per unit where it "
            f"costs more and improves the outcome.{wtp_note}</p>")


def _p_cost_effective(run: RunData) -> dict[tuple[str, str], str]:
    """(arm, outcome) -> 'best in 40% of draws' at the outcome's own willingness to pay, from an attached PSA."""
    psa = run.psa
    t = run.table("cea")
    if psa is None or t is None or "wtp_usd" not in t.columns:
        return {}
    table = psa.table("psa")
    if table is None:
        return {}
    out = {}
    arms = list(dict.fromkeys(table["arm"]))
    cost = table.pivot(index="draw", columns="arm", values="cost_total_usd")[arms].to_numpy()
    for outcome, g in t.groupby("outcome", sort=False):
        if outcome not in table.columns:
            continue
        sign = 1.0 if g["direction"].iloc[0] == "gained" else -1.0
        eff = table.pivot(index="draw", columns="arm", values=outcome)[arms].to_numpy()
        nmb = float(g["wtp_usd"].iloc[0]) * sign * eff - cost
        best = nmb.argmax(axis=1)
        for j, arm in enumerate(arms):
            out[(arm, outcome)] = f"<span class=\"muted\">best in {100 * (best == j).mean():.0f}%</span>"
    return out


def _outcome_table(run: RunData, others: list[str]) -> str:
    """What each arm buys over the whole analysis period (totals, never a yearly average)."""
    rows = []
    for arm in others:
        b = _total_count(run, arm, "bookings_per_person_year")
        j = _total_count(run, arm, "jail_days_per_person_year")
        r = run.difference(arm, "p_rearrest_12m")
        intakes = run.metric(arm, "lead_enrolled")
        rows.append(f"<tr><td class=\"arm\">{esc(arm_label(arm))}</td><td class=\"n\">{_count(-b[0])} <span "
                    f"class=\"muted\">({_count(-b[2])} to {_count(-b[1])})</span></td><td class=\"n\">{_count(-j[0])} "
                    f"<span class=\"muted\">({_count(-j[2])} to {_count(-j[1])})</span></td><td class=\"n\">{_pp(r)}</td>"
                    f"<td class=\"n\">{intakes[0]:,.0f}</td></tr>")
    return (f"<h2>What it buys <span class=\"muted small\">(over {_when(run.start_date, run.end_date)}, whole target "
            "group)</span></h2><table><thead><tr><th>Arm</th><th class=\"n\">Fewer jail bookings</th><th class=\"n\">"
            "Fewer jail days</th><th class=\"n\">Re-arrest within a year</th><th class=\"n\">Enrolled in LEAD</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def _total_count(run: RunData, arm: str, metric: str) -> tuple[float, float, float]:
    """Change in a per-person-year count as a total over the analysis period: difference x person-years."""
    m = run.metrics
    if m is None:
        return (float("nan"),) * 3
    wide = m[m["metric"].isin([metric, "person_years"])].pivot_table(index=["replication", "metric"], columns="arm",
                                                                     values="value")
    d = wide.xs(metric, level="metric")
    py = wide.xs("person_years", level="metric")[run.comparator]
    return mean_ci(((d[arm] - d[run.comparator]) * py).to_numpy())


def _chance(run: RunData) -> dict[tuple[str, str], str]:
    """(arm, payer) -> 'saves in 62% (40-80%)' from an attached PSA; empty without one."""
    sav = run.psa_savings
    if sav is None or sav.empty:
        return {}
    return {(r.arm, r.payer): "" if is_nan(r.p_saves_money) else
            f"<span class=\"muted\">saves in {100 * r.p_saves_money:.0f}% ({100 * r.p_ci_low:.0f}&ndash;"
            f"{100 * r.p_ci_high:.0f}%)</span>" for r in sav.itertuples()}


def _payers(run: RunData) -> list[str]:
    """Payers whose costs differ from the comparator's in some arm."""
    out = []
    for p in run.payers:
        vals = [run.difference(a, f"cost_payer_{p}_per_person_usd")[0] for a in run.others]
        if any(not is_nan(v) and abs(v) > 0 for v in vals):
            out.append(p)
    return out


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


def _breakeven(run: RunData) -> dict[str, list[str]]:
    """arm -> its break-even values: the program price at which the payer breaks even, any other."""
    b = run.table("breakeven")
    out: dict[str, list[str]] = {}
    if b is None or b.empty:
        return out
    from lead_sim.report.figures import breakeven_lines

    _, _, current, payer = breakeven_lines(run)
    who = esc(payer_short(payer)) if payer else "the payer"
    for r in b.itertuples():
        parts = out.setdefault(r.arm, [])
        if r.name == "program_cost_per_participant_month":
            if is_nan(r.value):
                parts.append(f"no price per participant-month breaks even for the {who}")
            else:
                now = current.get(r.arm)
                tail = f" (now {_m(now, False)})" if now is not None else ""
                parts.append(f"the {who} breaks even paying up to <b>{_m(r.value, False)}</b> per participant-month{tail}")
        elif r.name != "payback_year":  # payback: from budget_cumulative.csv, or said below
            val = "none in the range searched" if is_nan(r.value) else f"{r.value:.3g} {esc(r.unit)}"
            parts.append(f"{esc(r.name.replace('_', ' '))}: {val}")
    return out


def _grant(run: RunData) -> dict[str, str]:
    """arm -> what happens to its grant (grant.csv)."""
    g = run.table("grant")
    out: dict[str, str] = {}
    if g is None or g.empty:
        return out
    for r in g.itertuples():
        if r.arm == run.comparator or is_nan(r.grant_usd) or r.grant_usd <= 0:
            continue
        when = f"runs out {r.month_grant_runs_out}" if isinstance(r.month_grant_runs_out, str) else "lasts"
        out[r.arm] = f"{when}; {_m(r.spent_by_program_end_usd, False)} spent to {esc(str(getattr(r, 'spent_through', r.program_end)))[:7]}"
    return out


def _funding(run: RunData) -> dict[str, str]:
    """arm -> the program funding it needs each year after the pilot, net of savings (funding_need.csv)."""
    need = run.table("funding_need")
    if need is None or need.empty or "program_ci_low" not in need.columns:
        return {}
    out = {}
    for arm, g in need.groupby("arm", sort=False):
        many = g["year"].nunique() > 1
        years = f"{int(g['year'].min())}" + (f"&ndash;{int(g['year'].max())}" if many else "")
        need_a = g["program_funding_needed_usd"]
        net = g["net_cost_usd"]
        each = f"{_m(need_a.min(), False)}&ndash;{_m(need_a.max(), False)}" if many else _m(need_a.iloc[0], False)
        nets = f"{_m(net.min())}&ndash;{_m(net.max())}" if many else _m(net.iloc[0])
        out[arm] = f"{years}: {each} a year (net {nets})"
    return out


def _payback(run: RunData) -> dict[str, str]:
    """arm -> who it pays back for and when, and all payers' cumulative net cost at the end (budget_cumulative.csv);
    else the payback year of breakeven.csv."""
    out = {}
    c = run.table("budget_cumulative")
    if c is not None and len(c):
        for arm, g in c.groupby("arm", sort=False):
            back = g[g["pays_back_here"].astype(bool)]
            words = [f"{'all payers' if r.payer == 'all_payers' else payer_short(r.payer)} "
                     f"{'FY' if r.year_kind == 'fiscal_year' else ''}{r.year}" for r in back.itertuples()]
            last = g[g["payer"] == "all_payers"].sort_values("year").tail(1)
            end = (f"{_m(last['cumulative_difference_usd'].iloc[0])} by {int(last['year'].iloc[0])}"
                   if len(last) else "")
            out[arm] = (f"{', '.join(words)}; " if words else "none; ") + end
        return out
    b = run.table("breakeven")
    if b is not None and len(b):
        for r in b[b["name"] == "payback_year"].itertuples():
            out[r.arm] = f"pays back in {int(r.value)}" if not is_nan(r.value) else "no payback in the period"
    return out


def _money_table(run: RunData, others: list[str]) -> str:
    """One row per arm: grant, funding after the pilot, payback, break-even ("" when the run has none of them)."""
    grant = run.table("grant")
    g_head = "Grant" if grant is None or grant.empty else f"Grant of {_m(float(grant['grant_usd'].max()), False)}"
    cols = [(h, f(run)) for h, f in ((g_head, _grant), ("Program funding after the pilot", _funding),
                                     ("Payback; cumulative net cost (all payers)", _payback))]
    be = {a: "; ".join(v) for a, v in _breakeven(run).items()}
    cols.append(("Break-even", be))
    cols = [(h, d) for h, d in cols if any(d.get(a) for a in others)]
    if not cols:
        return ""
    heads = "".join(f"<th>{h}</th>" for h, _ in cols)  # (headers are built here: safe HTML)
    rows = "".join(f"<tr><td class=\"arm\">{esc(arm_label(a))}</td>" + "".join(f"<td>{d.get(a, '')}</td>" for _, d in cols)
                   + "</tr>" for a in others)
    return (f"<h2>Funding, payback and break-even <span class=\"muted small\">(undiscounted, except break-even prices)"
            f"</span></h2><table><thead><tr><th>Arm</th>{heads}</tr></thead><tbody>{rows}</tbody></table>"
            "<p class=\"small muted\">Funding: the program agencies' extra spending, yearly means (intervals: "
            "funding_need.csv), for arms whose program runs after the earliest pilot ends, in the years it runs; net: "
            "after every payer's savings. Payback: the year a payer's cumulative net cost first turns into a saving.</p>")


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


#: the tallest content that prints on one page of both papers: Letter (279.4 mm) less the @page
#: margins (2 x 9 mm) and 3 mm to spare; the width (190 mm) fits A4 (210 mm less 2 x 10 mm)
PAGE_CONTENT_MM = (279.4 - 18.0 - 3.0, 190.0)

#: the smallest type scale the brief shrinks to when a run has so many arms or years that it would
#: not fit (CSS zoom, set on load and before printing); below it the brief takes a second page
MIN_ZOOM = 0.72

_FIT = (f"<script>(function(){{var H={PAGE_CONTENT_MM[0]},W={PAGE_CONTENT_MM[1]},MIN={MIN_ZOOM};"
        "function mm(px){return px*25.4/96;}"
        "function fit(){var b=document.body;b.style.zoom='';b.style.maxWidth='';b.removeAttribute('data-zoom');"
        "var z=1;while(mm(b.getBoundingClientRect().height)>H&&z>MIN){z=Math.round((z-0.02)*100)/100;"
        "b.style.zoom=z;b.style.maxWidth=(W/z)+'mm';}b.setAttribute('data-zoom',String(z));}"
        "if(document.readyState!=='loading')fit();else document.addEventListener('DOMContentLoaded',fit);"
        "window.addEventListener('beforeprint',fit);})();</script>")


def _page(title: str, parts: list[str]) -> str:
    """The page, with a script that shrinks the type (not below ``MIN_ZOOM``) until the brief fits one page."""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + f"\n{_FIT}\n</body></html>\n")

