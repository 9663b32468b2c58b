"""Outcomes from the event log and spells: recidivism, drug use, quality of life, costs.

Pure functions of tidy tables; no simulation and no SimPy. Every rate is per person-year of
time in the target group inside the analysis window ``[0, t_end)`` (days since the analysis
start); custody time counts as exposure time. Drug use, housing and employment are recorded in
the community only, so they are also given as shares of community days (time in the target group
minus days in jail or prison): an arm that keeps people out of custody has more community days,
and so more days of use per person-year, even if each community day is less often one of use.
Definitions are in the README ("Metrics").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.outcomes.costing import (
    TOTALS_COLUMNS,
    cost_by_agency,
    cost_by_payer,
    cost_lines,
    cost_without_modelled_benefit,
)
from lead_sim.outcomes.survival import rearrest_probabilities, rearrests
from lead_sim.scenario.schema import Scenario
from lead_sim.stats import mean_ci, ratio_ci


def exposure(people: pd.DataFrame, t_end: float) -> tuple[int, float]:
    """(people present in the window, person-years in the window)."""
    start = people["entry_day"].clip(lower=0.0)
    end = people["exit_day"].clip(upper=t_end)
    days = (end - start).clip(lower=0.0)
    present = (people["entry_day"] < t_end) & (people["exit_day"] > 0.0)
    return int(present.sum()), float(days.sum()) / N.DAYS_PER_YEAR


def in_window_stays(people: pd.DataFrame, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each person's time in the target group clipped to ``[0, t_end]``, those of
    positive length only, in table order."""
    a = np.clip(people["entry_day"].to_numpy(dtype=float), 0.0, t_end)
    b = np.clip(people["exit_day"].to_numpy(dtype=float), 0.0, t_end)
    keep = b > a
    return a[keep], b[keep]


def _kind_rows(spells: pd.DataFrame, kind: str) -> np.ndarray:
    """Which rows of ``spells`` are of ``kind``; for the model's tables, compared on the category
    codes without building a string per row."""
    col = spells["kind"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        if kind not in cats:
            return np.zeros(len(col), dtype=bool)
        return col.cat.codes.to_numpy() == cats.get_loc(kind)
    return (col == kind).to_numpy()


def in_window_days(spells: pd.DataFrame, kind: str, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of the spells of ``kind`` clipped to ``[0, t_end]``, those of positive length only.

    Sums over spells (days, discounted days) are taken over these rows, in table order, so they
    do not depend on whether spells outside the window were recorded at all
    (``Simulation(record_from=...)``).
    """
    rows = _kind_rows(spells, kind)
    a = np.clip(spells["start_day"].to_numpy(dtype=float)[rows], 0.0, t_end)
    b = np.clip(spells["end_day"].to_numpy(dtype=float)[rows], 0.0, t_end)
    keep = b > a
    return a[keep], b[keep]


def spell_days(spells: pd.DataFrame, kind: str, t_end: float) -> float:
    """Days spent in spells of ``kind`` inside ``[0, t_end)`` (summed in table order)."""
    a, b = in_window_days(spells, kind, t_end)
    return float((b - a).sum())


def community_time(people: pd.DataFrame, spells: pd.DataFrame, t_end: float,
                   rate_per_year: float = 0.0) -> tuple[float, float]:
    """(days in the target group, days in the community) inside ``[0, t_end)``, discounted at
    ``rate_per_year`` (0: plain days).

    Community days are the days present minus the days in jail or prison spells. A person is in at
    most one custody spell at a time (the model moves them from jail to prison by closing the jail
    spell first) and only while in the target group, so the subtraction counts no day twice.
    """
    from lead_sim.outcomes.costing import discounted_days

    present = float(discounted_days(*in_window_stays(people, t_end), rate_per_year).sum())
    custody = sum(float(discounted_days(*in_window_days(spells, kind, t_end), rate_per_year).sum())
                  for kind in N.CUSTODY_KINDS)
    return present, present - custody


def participant_months_discounted(spells: pd.DataFrame, rate_per_year: float, t_end: float) -> float:
    """Discounted months enrolled in LEAD inside the analysis window."""
    from lead_sim.outcomes.costing import discounted_days

    a, b = in_window_days(spells, N.LEAD_ENROLLED, t_end)
    return float(discounted_days(a, b, rate_per_year).sum() / N.DAYS_PER_MONTH)


def lead_participants(spells: pd.DataFrame, t_end: float) -> int:
    """People enrolled in LEAD at least once inside ``[0, t_end)``: distinct people with an
    enrolment spell of positive length in the window (an enrolment begun before the window and
    still running counts; a person enrolled twice counts once)."""
    rows = _kind_rows(spells, N.LEAD_ENROLLED)
    a = np.clip(spells["start_day"].to_numpy(dtype=float)[rows], 0.0, t_end)
    b = np.clip(spells["end_day"].to_numpy(dtype=float)[rows], 0.0, t_end)
    return int(pd.unique(spells["person_id"].to_numpy()[rows][b > a]).size)


def _event_counts(events: pd.DataFrame, t_end: float) -> dict:
    """Events of each name in ``[0, t_end)``; for the model's tables, counted on the category
    codes without copying the log."""
    day = events["day"].to_numpy(dtype=float)
    inside = (day >= 0.0) & (day < t_end)
    col = events["event"]
    if not isinstance(col.dtype, pd.CategoricalDtype):
        return col[inside].value_counts().to_dict()
    codes = col.cat.codes.to_numpy()
    n = np.bincount(codes[inside & (codes >= 0)], minlength=len(col.cat.categories))
    return dict(zip(col.cat.categories, n.tolist(), strict=True))


def rearrest(events: pd.DataFrame, people: pd.DataFrame, t_end: float) -> dict[str, float]:
    """Re-arrest within 6/12/24 months (``survival``: index, outcome and censoring defined once),
    censored when a person leaves the target group (their exit day in ``people``)."""
    return rearrest_probabilities(events, t_end, people.set_index("person_id")["exit_day"])


def metric_names(sc: Scenario) -> list[str]:
    """Every metric an arm-replication reports, in print order."""
    return (
        ["people", "person_years"]
        + list(N.RATE_METRICS)
        + ["jail_days_per_person_year"]
        + [f"p_rearrest_{m}m" for m in N.REARREST_WINDOWS_MONTHS]
        + ["lead_referrals", "lead_enrolled", "lead_participant_months"]
        + ["days_active_use_per_person_year", "housed_days_per_person_year", "employed_days_per_person_year"]
        + [N.COMMUNITY_DAYS_METRIC] + list(N.SHARE_METRICS)
        + ["cost_total_per_person_usd", "cost_no_modelled_benefit_per_person_usd"]
        + [f"cost_{a}_per_person_usd" for a in sc.costs.agencies]
        + [f"cost_payer_{p}_per_person_usd" for p in sc.costs.payers]
        + list(WHOLE_GROUP_METRICS)
        + [f"cost_payer_{p}_usd" for p in sc.costs.payers]
    )


#: whole-group totals over the analysis period, listed after the per-person metrics: LEAD
#: participants and their time enrolled; undiscounted counts of re-arrests, jail days and days of
#: active drug use (at the community-day rate, as the CEA counts use); the discounted cost of the
#: whole target group (``cost_total_per_person_usd * people``), followed by each payer's
#: (``cost_payer_<payer>_usd``). The cost totals carry the names the PSA and CEA tables use.
WHOLE_GROUP_METRICS = ("lead_participants", "lead_participant_years", "rearrests_in_period", "jail_days_in_period",
                       "active_use_days_in_period", "cost_total_usd")


def arm_metrics(events: pd.DataFrame, spells: pd.DataFrame, people: pd.DataFrame, sc: Scenario, t_end: float,
                lines: pd.DataFrame | None = None) -> dict[str, float]:
    """Every metric for one arm-replication, from its tables (``lines``: its cost lines, if known;
    they need only ``costing.TOTALS_COLUMNS``)."""
    n_people, py = exposure(people, t_end)
    per_py = (lambda x: x / py) if py > 0 else (lambda x: float("nan"))
    per_person = (lambda x: x / n_people) if n_people > 0 else (lambda x: float("nan"))
    counts = _event_counts(events, t_end)
    out: dict[str, float] = {"people": float(n_people), "person_years": py}
    for metric, (event, _) in N.RATE_METRICS.items():
        out[metric] = per_py(float(counts.get(event, 0)))
    out["jail_days_per_person_year"] = per_py(spell_days(spells, N.JAIL, t_end))
    out.update(rearrest(events, people, t_end))
    out["lead_referrals"] = float(counts.get(N.LEAD_REFERRAL, 0))
    out["lead_enrolled"] = float(counts.get(N.LEAD_INTAKE, 0))
    out["lead_participant_months"] = spell_days(spells, N.LEAD_ENROLLED, t_end) / N.DAYS_PER_MONTH
    for metric, kind in N.DAY_METRICS.items():
        if metric != "jail_days_per_person_year":
            out[metric] = per_py(spell_days(spells, kind, t_end))
    present, community = community_time(people, spells, t_end)  # (days present, days in the community)
    out[N.COMMUNITY_DAYS_METRIC] = per_py(community)
    for metric, kind in N.SHARE_METRICS.items():
        out[metric] = spell_days(spells, kind, t_end) / community if community > 0 else float("nan")
    if lines is None:
        lines = cost_lines(events, spells, sc, t_end, columns=TOTALS_COLUMNS)
    by_agency = cost_by_agency(lines, list(sc.costs.agencies))
    out["cost_total_per_person_usd"] = per_person(sum(by_agency.values()))
    out["cost_no_modelled_benefit_per_person_usd"] = per_person(cost_without_modelled_benefit(lines, sc))
    for agency, usd in by_agency.items():
        out[f"cost_{agency}_per_person_usd"] = per_person(usd)
    for payer, usd in cost_by_payer(lines, list(sc.costs.payers)).items():
        out[f"cost_payer_{payer}_per_person_usd"] = per_person(usd)
        out[f"cost_payer_{payer}_usd"] = usd
    out["cost_total_usd"] = float(sum(by_agency.values()))
    out["lead_participants"] = float(lead_participants(spells, t_end))
    out["lead_participant_years"] = spell_days(spells, N.LEAD_ENROLLED, t_end) / N.DAYS_PER_YEAR
    out["rearrests_in_period"] = float(len(rearrests(events, t_end)))  # (rearrests reads the window only)
    out["jail_days_in_period"] = spell_days(spells, N.JAIL, t_end)
    out["active_use_days_in_period"] = (out["share_of_community_days_active_use"] * present
                                        if community > 0 else 0.0)
    return {k: out[k] for k in metric_names(sc)}


# ---- per LEAD participant: paired differences over each arm's participants ----------------------------

#: comparison-only metrics: name -> (whole-group metric whose paired difference is divided, the
#: arm's metric that divides it). A participant is a person enrolled at least once in the period;
#: an enrolled person-year is a year of time enrolled. They exist only as differences from the
#: comparator (comparison.csv), never as one arm's value.
PER_PARTICIPANT = {
    "cost_total_per_participant_usd": ("cost_total_usd", "lead_participants"),
    "rearrests_per_participant": ("rearrests_in_period", "lead_participants"),
    "jail_days_per_participant": ("jail_days_in_period", "lead_participants"),
    "active_use_days_per_participant": ("active_use_days_in_period", "lead_participants"),
    "cost_total_per_participant_year_usd": ("cost_total_usd", "lead_participant_years"),
    "rearrests_per_participant_year": ("rearrests_in_period", "lead_participant_years"),
    "jail_days_per_participant_year": ("jail_days_in_period", "lead_participant_years"),
    "active_use_days_per_participant_year": ("active_use_days_in_period", "lead_participant_years"),
}


def per_participant_names(payers: list[str]) -> dict[str, tuple[str, str]]:
    """:data:`PER_PARTICIPANT` with each payer's cost per participant (``cost_payer_<payer>_per_participant_usd``)."""
    out = dict(PER_PARTICIPANT)
    for p in payers:
        out[f"cost_payer_{p}_per_participant_usd"] = (f"cost_payer_{p}_usd", "lead_participants")
    return out


def per_participant_differences(metrics: pd.DataFrame, comparator: str) -> pd.DataFrame:
    """Rows of comparison.csv for the metrics per LEAD participant and per enrolled person-year.

    ``metrics``: long (arm, replication, metric, value). For each arm but the comparator and each
    ratio of :func:`per_participant_names` whose two metrics are present: the mean over
    replications of (arm - comparator) in the whole-group metric, divided by the arm's mean of
    the divisor (its participants or enrolled person-years), with Fieller's 95% interval of that
    ratio of means over the paired replications (``stats.ratio_ci``: with the same divisor in every
    replication, the t-interval of the differences divided by it).
    ``comparator_mean`` and ``arm_mean`` are empty: the ratio has no value for one arm alone.
    NaN where the arm has no participants.
    """
    columns = ["metric", "comparator", "arm", "comparator_mean", "arm_mean", "difference", "ci_low", "ci_high"]
    present = set(metrics["metric"])
    payers = [m[len("cost_payer_"):-len("_usd")] for m in dict.fromkeys(metrics["metric"])
              if m.startswith("cost_payer_") and m.endswith("_usd") and not m.endswith("_per_person_usd")]
    wide = metrics.pivot_table(index="replication", columns=["metric", "arm"], values="value", dropna=False, sort=False)
    rows = []
    arms = [a for a in dict.fromkeys(metrics["arm"]) if a != comparator]
    for name, (numerator, divisor) in per_participant_names(payers).items():
        if numerator not in present or divisor not in present:
            continue
        for arm in arms:
            diff = (wide[(numerator, arm)] - wide[(numerator, comparator)]).to_numpy(dtype=float)
            den = wide[(divisor, arm)].to_numpy(dtype=float)
            keep = ~(np.isnan(diff) | np.isnan(den))
            d_mean, den_mean = mean_ci(diff[keep])[0], mean_ci(den[keep])[0]
            if not den_mean > 0:
                rows.append((name, comparator, arm, np.nan, np.nan, np.nan, np.nan, np.nan))
                continue
            lo, hi = ratio_ci(diff[keep], den[keep])
            rows.append((name, comparator, arm, np.nan, np.nan, d_mean / den_mean, lo, hi))
    return pd.DataFrame(rows, columns=columns)


#: outcomes for cost-effectiveness: name -> (direction, unit); "averted" outcomes are bad
CEA_OUTCOMES = {
    "rearrests": ("averted", "re-arrest"),
    "bookings": ("averted", "booking"),
    "jail_days": ("averted", "jail day"),
    "active_use_years": ("averted", "person-year of active drug use (at the community-day rate)"),
    "housed_days": ("gained", "housed day (at the community-day rate)"),
}


def outcome_totals(events: pd.DataFrame, spells: pd.DataFrame, people: pd.DataFrame, rate_per_year: float,
                   t_end: float) -> dict[str, float]:
    """Discounted totals of the cost-effectiveness outcomes in the analysis window.

    A re-arrest is an arrest that follows the same person's first arrest or LEAD referral in
    the window. Events are discounted at their time, days over their span (as costs are).

    Active use and housing are counted at the arm's community-day rate over all time in the
    target group: ``active_use_years = (discounted active-use days / discounted community days)
    * discounted person-years in the target group`` (``housed_days`` likewise, in days). Counted
    as plain days they would grow with every day kept out of custody, since they are recorded in
    the community only. Time in the target group is the same in every arm: entry days come from
    the ``arrivals`` stream and each exit day is drawn from the person's own ``attributes``
    stream at entry (``model.engine.new_person``), before and apart from anything LEAD changes,
    so with common random numbers two arms that differ in LEAD (or costs) have the same people
    and the same person-time, and their difference is the change in the state at equal community
    time, not an artefact of custody. (An arm that changed arrivals or exits would change the
    person-time too.) Without community time there are no days in the state: 0.
    """
    from lead_sim.outcomes.costing import discount_factor, discounted_days

    ev = events[(events["day"] >= 0.0) & (events["day"] < t_end)]
    re = rearrests(ev, t_end)
    out = {
        "rearrests": float(discount_factor(re["day"], rate_per_year).sum()),
        "bookings": float(discount_factor(ev.loc[ev["event"] == N.BOOKING, "day"], rate_per_year).sum()),
    }
    a, b = in_window_days(spells, N.JAIL, t_end)
    out["jail_days"] = float(discounted_days(a, b, rate_per_year).sum())
    present, community = community_time(people, spells, t_end, rate_per_year)
    for name, kind, scale in (("active_use_years", N.ACTIVE_USE, 1 / N.DAYS_PER_YEAR), ("housed_days", N.HOUSED, 1.0)):
        a, b = in_window_days(spells, kind, t_end)
        in_state = float(discounted_days(a, b, rate_per_year).sum())
        out[name] = in_state / community * present * scale if community > 0 else 0.0
    return out


GROUP_COLUMNS = {"district": "district", "sex": "sex", "race_ethnicity": "race_ethnicity"}


def metrics_by_group(events: pd.DataFrame, spells: pd.DataFrame, people: pd.DataFrame, sc: Scenario, t_end: float,
                     lines: pd.DataFrame, by: str) -> pd.DataFrame:
    """Every metric for each level of a person attribute (district, sex, race_ethnicity).

    LEAD volumes (referrals, enrolments, participant months) count the group's members.
    """
    column = GROUP_COLUMNS[by]
    rows = []
    for level, members in people.groupby(column, sort=True):
        ids = members["person_id"]
        m = arm_metrics(events[events["person_id"].isin(ids)], spells[spells["person_id"].isin(ids)], members, sc, t_end,
                        lines=lines[lines["person_id"].isin(ids)])
        rows += [(by, str(level), k, v) for k, v in m.items()]
    return pd.DataFrame(rows, columns=["group", "level", "metric", "value"])
