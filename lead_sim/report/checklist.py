"""Reporting checklists filled from the run itself: STRESS-DES and CHEERS 2022.

STRESS-DES: Monks T, Currie CSM, Onggo BS, Robinson S, Kunc M, Taylor SJE (2019).
Strengthening the reporting of empirical simulation studies: Introducing the STRESS
guidelines. Journal of Simulation 13(1):55-67.
CHEERS 2022: Husereau D, Drummond M, Augustovski F, et al. (2022). Consolidated Health
Economic Evaluation Reporting Standards 2022 (CHEERS 2022) statement. Value in Health
25(1):3-9.

Only what a run determines is filled in (perspective, time horizon, discount rate, currency
and price year, seeds and streams, replications, warm-up, software versions...). Items that
a person must write (purpose, background, engagement, funding, conflicts of interest...) are
listed as such and left empty: nothing is invented.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pandas as pd

from lead_sim.report.labels import arm_label, payer_label
from lead_sim.report.rundata import RunData
from lead_sim.report.sources import format_value


def _v(run: RunData, key: str) -> str:
    return format_value(run.value(key))

FROM_RUN, PARTLY, AUTHOR = "filled from the run", "partly from the run; the author completes it", "to be written by the author"


def _arms(run: RunData) -> str:
    parts = []
    for a in run.arms:
        description, sets = run.arm_changes(a)
        change = ", ".join(f"{k} = {format_value(v)}" for k, v in sets.items()) or "no change to the base scenario"
        parts.append(f"{a} ({description} Changes: {change})")
    comp = f" Comparator: {run.comparator}." if run.comparator else ""
    return "; ".join(parts) + "." + comp


def _period(run: RunData) -> str:
    return (f"{run.start_date} to {run.end_date} ({run.t_end:.0f} days, {run.years:.2f} years); costs and outcomes "
            f"counted only inside this period")


def _warmup(run: RunData) -> str:
    w = _v(run, "run.warmup_days")
    return (f"Warm-up of {w} days before {run.start_date}: the simulation starts with "
            f"{_v(run, 'population.initial_people')} people and runs the warm-up so that people are already in "
            f"jail, on probation or in prison when the analysis period begins; nothing in the warm-up is counted")


def _replications(run: RunData) -> str:
    return (f"{run.replications} paired replications (every arm sees the same replication seeds: common random "
            f"numbers). Each result is the mean over replications with a 95% t-interval; differences between arms "
            f"are paired by replication")


def _seeds(run: RunData) -> str:
    return (f"Root seed {run.seed}. Every decision draws from its own named stream, seeded by hashing (seed, "
            f"replication, stream name, person); adding a stream never shifts the others; both arms see the same "
            f"draws for each person's k-th contact, clock and case (common random numbers). Distributions are sampled "
            f"by inverse transform (one uniform number per value)")


def _software(run: RunData) -> str:
    pv = run.manifest.get("package_versions") or {}
    versions = ", ".join(f"{k} {v}" for k, v in pv.items())
    commit = run.manifest.get("git_commit") or "not recorded"
    return f"lead-sim {run.manifest.get('lead_sim_version', '?')} (git commit {commit}); {versions}"


def _execution(run: RunData) -> str:
    cmd = " ".join(run.command_line) or "not recorded"
    return (f"Discrete-event simulation (SimPy), each person a chain of events with competing hazards (next-reaction method); "
            f"{run.manifest.get('jobs', '?')} worker process(es), results independent of their number; wall time "
            f"{run.manifest.get('wall_seconds', '?')} s; command: {cmd}")


def _perspective(run: RunData) -> str:
    payers = "; ".join(f"{payer_label(p)}: {', '.join(ags)}" for p, ags in run.payers.items())
    victim = run.value("costs.victim_cost_per_offense") or {}
    zero = all(float(v or 0) == 0 for v in victim.values()) if isinstance(victim, dict) else False
    note = " Victimisation costs are zero in this run, so the total is a government and program-funder perspective." \
        if zero else ""
    return f"Costs are counted for every payer and agency and reported by payer: {payers}.{note}"


def _discount(run: RunData) -> str:
    r = run.discount_rate
    return (f"{100 * r:g}% a year for costs and outcomes, continuous, from {run.start_date}; budget tables are undiscounted "
            f"(constant prices)" if r is not None else "not recorded")


def _currency(run: RunData) -> str:
    cpi = run.value("costs.cpi") or {}
    years = ", ".join(str(k) for k in cpi) if isinstance(cpi, dict) else ""
    return (f"US dollars of {run.price_year}. Unit costs entered in other years' dollars are converted with the "
            f"scenario's price index (costs.cpi: {years or 'none'}); see the parameter table for each unit cost's year")


def _outcomes(run: RunData) -> str:
    return ("Re-arrest within 6/12/24 months (Kaplan-Meier), arrests, bookings, jail days, felony charges and prison "
            "admissions per person-year; days in active drug use, housed and employed; police contacts; LEAD volumes; "
            "cost by agency and payer")


def _valuation(run: RunData) -> str:
    cea = run.table("cea")
    if cea is None:
        return "Outcomes in natural units; no monetary valuation of outcomes in this run (no cost-effectiveness files)"
    wtp = sorted({c[len("nmb_at_"):] for c in cea.columns if c.startswith("nmb_at_") and not c.endswith(("ci_low", "ci_high"))})
    return (f"Outcomes in natural units (re-arrests, bookings, jail days averted, person-years of active drug use "
            f"averted, housed days gained); no QALYs. Net monetary benefit at willingness-to-pay values {', '.join(wtp)} "
            f"USD per unit of outcome")


def _costs(run: RunData) -> str:
    return ("Unit costs per event (contact, arrest, booking, filings, public defense, LEAD referral), per day or month "
            "in a state (jail, prison, probation, LEAD enrolment) and per service episode or time, each assigned to one "
            "agency; values and sources in the parameter table (workbook sheet Assumptions)")


def _parameters(run: RunData, table: pd.DataFrame | None) -> str:
    if table is None or table.empty:
        return "See scenario.resolved.yaml"
    counts = table["origin"].str.replace(" (partly assumed)", "", regex=False).value_counts()
    parts = ", ".join(f"{n} {k}" for k, n in counts.items())
    return (f"{len(table)} parameters with value, unit and source note (tags [V]/[S]/[D]/[A]/[M]); by origin: {parts}. "
            f"Table in the report and the workbook (sheet Assumptions)")


def _uncertainty(run: RunData) -> str:
    draws = run.psa_draws
    text = ("Stochastic (Monte Carlo) uncertainty: 95% intervals over replications, paired differences between arms. "
            + (f"Parameter uncertainty: probabilistic sensitivity analysis of {draws} draws ({run.psa_path}): chance "
               f"of saving money overall and per payer with Wilson intervals. " if draws else
               "Parameter uncertainty: not analysed in this run (no probabilistic sensitivity analysis). "))
    if run.has("breakeven"):
        text += "Break-even values (program price, effect on the contact hazard, payback year) in breakeven.csv."
    return text


def _heterogeneity(run: RunData) -> str:
    groups = [k[len("summary_by_"):] for k in run.tables if k.startswith("summary_by_")]
    if groups:
        return f"Subgroup results by {', '.join(groups)} (summary_by_*.csv, comparison_by_*.csv)"
    return "Not analysed in this run (lead-sim compare --by district|sex|race_ethnicity adds subgroup results)"


def _results(run: RunData) -> str:
    if run.comparison is None:
        return "One arm only: no comparison"
    parts = []
    for arm in run.others:
        d = run.difference(arm, "cost_total_per_person_usd")
        b = run.difference(arm, "bookings_per_person_year")
        parts.append(f"{arm_label(arm)} vs {arm_label(cast(str, run.comparator))}: total cost {d[0]:+,.0f} USD per person "
                     f"(95% CI {d[1]:,.0f} to {d[2]:,.0f}); bookings {b[0]:+.4f} per person-year "
                     f"(95% CI {b[1]:.4f} to {b[2]:.4f})")
    return "; ".join(parts) + ". Full tables in summary.csv and comparison.csv"


def _setting(run: RunData) -> str:
    d = run.value("lead.districts")
    desc = " ".join(str(run.scenario.get("description", "")).split())
    return f"{desc} LEAD districts: {d}. The author describes the setting and the system in prose"


def _population(run: RunData) -> str:
    people = run.metric(run.arms[0], "people")[0] if run.arms else float("nan")
    return (f"Target group at the start of the warm-up: {_v(run, 'population.initial_people')} people, plus arrivals "
            f"at {_v(run, 'population.arrivals_per_year')} a year; about {people:,.0f} people in the analysis period. "
            f"Characteristics drawn at entry (sex, age, district, offense profile, drug use, housing, work, mental-health "
            f"need, prior arrests): see the parameter table. The author describes who they represent")


Item = tuple[str, str, str, str, Callable[..., str] | None, str]

#: (checklist, item, section, topic, filler or None, what the author must add); a filler takes the
#: run (``_parameters`` also the parameter table)
STRESS_DES: list[Item] = [
    ("STRESS-DES", "1.1", "Objectives", "Purpose of the model", None, "the problem, the decisions the model informs"),
    ("STRESS-DES", "1.2", "Objectives", "Model outputs", _outcomes, ""),
    ("STRESS-DES", "1.3", "Objectives", "Experimentation aims", _arms, "why these scenarios (arms) were chosen"),
    ("STRESS-DES", "2.1", "Logic", "Base model overview diagram", None, "a diagram of the pathways (README: The model)"),
    ("STRESS-DES", "2.2", "Logic", "Base model logic", None, "the logic in prose (README: The model)"),
    ("STRESS-DES", "2.3", "Logic", "Scenario logic", _arms, ""),
    ("STRESS-DES", "2.4", "Logic", "Algorithms", lambda r: (
        "Competing hazards per person simulated by the next-reaction method; distributions sampled by inverse transform "
        "from named random streams (item 5.2); Kaplan-Meier for re-arrest; t-intervals over replications"),
     "the hazard model and its parameterisation in prose"),
    ("STRESS-DES", "2.5.1", "Logic", "Components: entities", _population, ""),
    ("STRESS-DES", "2.5.2", "Logic", "Components: activities", None, "arrest, booking, court, LEAD intake and services"),
    ("STRESS-DES", "2.5.3", "Logic", "Components: resources", lambda r: (
        f"LEAD case managers: {_v(r, 'lead.case_managers')} x {_v(r, 'lead.caseload_per_manager')} places; service "
        f"capacities in lead.services; jail beds: {r.value('jail.capacity_beds') or 'unlimited'}"), ""),
    ("STRESS-DES", "2.5.4", "Logic", "Components: queues", lambda r: (
        f"LEAD places full: {_v(r, 'lead.when_full')} (first come, first served); an arrest referral that misses the "
        f"{_v(r, 'lead.intake_deadline_days')}-day intake deadline returns to prosecution"), ""),
    ("STRESS-DES", "2.5.5", "Logic", "Components: entry and exit points", lambda r: (
        f"Entry: {_v(r, 'population.initial_people')} people at the start of the warm-up, Poisson arrivals at "
        f"{_v(r, 'population.arrivals_per_year')} a year; exit at constant rates (desistance "
        f"{_v(r, 'population.exit.desist_per_year')}, moving away {_v(r, 'population.exit.move_away_per_year')}, "
        f"death {_v(r, 'population.exit.death_per_year')} a year), the same in every arm"), ""),
    ("STRESS-DES", "3.1", "Data", "Data sources", _parameters, "the published and local sources, with full citations"),
    ("STRESS-DES", "3.2", "Data", "Pre-processing", None, "how source figures were converted (see [D] notes)"),
    ("STRESS-DES", "3.3", "Data", "Input parameters", _parameters, ""),
    ("STRESS-DES", "3.4", "Data", "Assumptions", _parameters, "the reasoning behind the [A] parameters"),
    ("STRESS-DES", "4.1", "Experimentation", "Initialisation", _warmup, "how the warm-up length was chosen"),
    ("STRESS-DES", "4.2", "Experimentation", "Run length", _period, ""),
    ("STRESS-DES", "4.3", "Experimentation", "Estimation approach", _replications, "how the number of replications was chosen"),
    ("STRESS-DES", "5.1", "Implementation", "Software or programming language", _software, ""),
    ("STRESS-DES", "5.2", "Implementation", "Random sampling", _seeds, ""),
    ("STRESS-DES", "5.3", "Implementation", "Model execution", _execution, ""),
    ("STRESS-DES", "5.4", "Implementation", "System specification", lambda r: (
        f"Python {(r.manifest.get('package_versions') or {}).get('python', '?')}, "
        f"{r.manifest.get('jobs', '?')} worker process(es), wall time {r.manifest.get('wall_seconds', '?')} s; the "
        f"processor, memory and operating system are not recorded in the manifest"), "processor, memory, operating system"),
    ("STRESS-DES", "6.1", "Code access", "Computer model sharing statement", lambda r: (
        f"lead-sim {r.manifest.get('lead_sim_version', '?')}, git commit {r.manifest.get('git_commit') or 'not recorded'}; "
        f"the resolved scenario (scenario.resolved.yaml) and manifest re-run it (lead-sim rerun)"),
     "where the code is published and under which licence"),
]

CHEERS_2022: list[Item] = [
    ("CHEERS 2022", "1", "Title", "Title", None, "identify the study as an economic evaluation; the interventions compared"),
    ("CHEERS 2022", "2", "Abstract", "Abstract", None, "a structured summary"),
    ("CHEERS 2022", "3", "Introduction", "Background and objectives", None, "context, the question, its relevance"),
    ("CHEERS 2022", "4", "Methods", "Health economic analysis plan", None, "whether a plan was written and where"),
    ("CHEERS 2022", "5", "Methods", "Study population", _population, ""),
    ("CHEERS 2022", "6", "Methods", "Setting and location", _setting, "the setting in prose"),
    ("CHEERS 2022", "7", "Methods", "Comparators", _arms, "why these comparators"),
    ("CHEERS 2022", "8", "Methods", "Perspective", _perspective, "why this perspective"),
    ("CHEERS 2022", "9", "Methods", "Time horizon", _period, "why this horizon"),
    ("CHEERS 2022", "10", "Methods", "Discount rate", _discount, "why this rate"),
    ("CHEERS 2022", "11", "Methods", "Selection of outcomes", _outcomes, "why these outcomes"),
    ("CHEERS 2022", "12", "Methods", "Measurement of outcomes", lambda r: (
        "Simulated from the event log and state spells of each replication (definitions: README, Metrics); "
        "calibration to observed data: see the parameter notes"), "which data the outcome model rests on"),
    ("CHEERS 2022", "13", "Methods", "Valuation of outcomes", _valuation, ""),
    ("CHEERS 2022", "14", "Methods", "Measurement and valuation of resources and costs", _costs, ""),
    ("CHEERS 2022", "15", "Methods", "Currency, price date, and conversion", _currency, ""),
    ("CHEERS 2022", "16", "Methods", "Rationale and description of model", lambda r: (
        "Individual-level discrete-event simulation (SimPy) of police contact, arrest, booking, jail, prosecution, "
        "court, probation, prison and LEAD (referral, intake, case management, services)"),
     "why a discrete-event model; a diagram"),
    ("CHEERS 2022", "17", "Methods", "Analytics and assumptions", lambda r: (
        _replications(r) + ". ICERs are ratios of mean paired differences; efficiency frontier with strong and "
        "extended dominance; net monetary benefit at stated willingness to pay"), ""),
    ("CHEERS 2022", "18", "Methods", "Characterizing heterogeneity", _heterogeneity, ""),
    ("CHEERS 2022", "19", "Methods", "Characterizing distributional effects", lambda r: _heterogeneity(r),
     "whether and how effects differ across groups that matter for equity"),
    ("CHEERS 2022", "20", "Methods", "Characterizing uncertainty", _uncertainty, ""),
    ("CHEERS 2022", "21", "Methods", "Approach to engagement with patients and others affected by the study", None,
     "how people affected (participants, officers, providers) were engaged, or that they were not"),
    ("CHEERS 2022", "22", "Results", "Study parameters", _parameters, ""),
    ("CHEERS 2022", "23", "Results", "Summary of main results", _results, "the interpretation"),
    ("CHEERS 2022", "24", "Results", "Effect of uncertainty", _uncertainty, "what the uncertainty means for the decision"),
    ("CHEERS 2022", "25", "Results", "Effect of engagement with patients and others affected by the study", None,
     "what engagement changed"),
    ("CHEERS 2022", "26", "Discussion", "Study findings, limitations, generalisability, and current knowledge", None,
     "findings, limitations (README: Limitations), how they compare with Seattle and Santa Fe"),
    ("CHEERS 2022", "27", "Other", "Source of funding", None, "who funded the study"),
    ("CHEERS 2022", "28", "Other", "Conflicts of interest", None, "the authors' conflicts of interest"),
]


def checklist(run: RunData, parameters: pd.DataFrame | None = None) -> pd.DataFrame:
    """checklist.csv: checklist, item, section, topic, status, from_run, author_to_add."""
    rows = []
    for name, item, section, topic, filler, todo in STRESS_DES + CHEERS_2022:
        if filler is None:
            text, status = "", AUTHOR
        else:
            text = filler(run) if filler not in (_parameters,) else _parameters(run, parameters)
            status = PARTLY if todo else FROM_RUN
        rows.append({"checklist": name, "item": item, "section": section, "topic": topic, "status": status,
                     "from_run": text, "author_to_add": todo})
    return pd.DataFrame(rows, columns=["checklist", "item", "section", "topic", "status", "from_run", "author_to_add"])
