"""The evaluation design's choices: who enters each group and when, and propensity weights."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lead_sim import names as N
from lead_sim.outcomes import evaluation as E
from lead_sim.scenario.loading import ScenarioError, load
from tests.conftest import SCENARIOS


def _eligible_arrest(pid: int, day: float) -> list[tuple]:
    return [(pid, day, N.POLICE_CONTACT, N.POSSESSION), (pid, day, N.ARREST, "new_offense")]


def _events() -> pd.DataFrame:
    rows = [
        # person 1: an eligible arrest on day 10, then referred on day 50
        *_eligible_arrest(1, 10.0), (1, 50.0, N.LEAD_REFERRAL, "arrest"),
        # person 2: referred first (day 20), an eligible arrest later (day 60: LEAD's officers not on shift)
        (2, 20.0, N.LEAD_REFERRAL, "social_contact"), *_eligible_arrest(2, 60.0),
        # person 3: never referred; eligible arrests on days 30, 70 and 90; an arrest for another offense on day 5
        (3, 5.0, N.POLICE_CONTACT, N.OTHER), (3, 5.0, N.ARREST, "new_offense"),
        *_eligible_arrest(3, 30.0), *_eligible_arrest(3, 70.0), *_eligible_arrest(3, 90.0),
        # person 4: an eligible arrest before LEAD started (day -40) only: in no group
        *_eligible_arrest(4, -40.0),
    ]
    return pd.DataFrame(rows, columns=["person_id", "day", "event", "detail"])


def _groups(design: E.Design) -> dict[int, tuple[int, float]]:
    c = E.cohorts(_events(), t_end=100.0, lead_t0=0.0, design=design)
    return {int(r.person_id): (int(r.group), float(r.entry_day)) for r in c.itertuples()}


def test_first_encounter_decides_the_group_by_each_persons_first_qualifying_event():
    assert _groups(E.Design("first_encounter")) == {1: (0, 10.0), 2: (1, 20.0), 3: (0, 30.0)}


def test_first_arrest_keeps_referred_people_out_of_the_comparison_group():
    assert _groups(E.Design("first_arrest")) == {1: (1, 50.0), 2: (1, 20.0), 3: (0, 30.0)}


def test_random_arrest_picks_one_of_the_persons_eligible_arrests_reproducibly():
    picks = {_groups(E.Design("random_arrest", seed=s))[3][1] for s in range(40)}
    assert picks == {30.0, 70.0, 90.0}  # every one of person 3's eligible arrests can be chosen
    assert _groups(E.Design("random_arrest", seed=7)) == _groups(E.Design("random_arrest", seed=7))
    assert {k: v for k, v in _groups(E.Design("random_arrest")).items() if k != 3} == {1: (1, 50.0), 2: (1, 20.0)}


def test_unknown_rules_are_refused():
    with pytest.raises(ValueError, match="comparison_entry"):
        E.Design("last_arrest")
    with pytest.raises(ValueError, match="weighting"):
        E.Design(weighting="matching")


def _cohort_with_history(n_lead_x: dict[int, int], n_comp_x: dict[int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A cohort whose only varying history is 'any arrest in the 6 months before entry' (x),
    with the given group sizes per x; everyone enters on day 400."""
    rows, cohort, pid = [], [], 0
    for group, sizes in ((1, n_lead_x), (0, n_comp_x)):
        for x, n in sizes.items():
            for _ in range(n):
                pid += 1
                cohort.append((pid, group, 400.0))
                if x:
                    rows.append((pid, 300.0, N.ARREST, "new_offense"))  # within 6 months and 2 years of entry
                rows.append((pid, 10.0, N.ARREST, "new_offense"))  # everyone: one arrest in the 2 years, outside 6 months
    events = pd.DataFrame(rows, columns=["person_id", "day", "event", "detail"])
    return events, pd.DataFrame(cohort, columns=["person_id", "group", "entry_day"])


def test_propensity_weights_equal_the_by_hand_odds_of_treatment_in_each_stratum():
    # arrests_2y is 1 or 2 and any_arrest_6m is 0 or 1, moving together: one stratum variable, so the
    # logistic regression is saturated and p(LEAD | x) is the stratum's share of LEAD people
    events, cohort = _cohort_with_history({0: 30, 1: 60}, {0: 90, 1: 20})
    w = E.propensity_weights(events, cohort)
    x = np.where(cohort["person_id"].isin(events.loc[events["day"] == 300.0, "person_id"]), 1, 0)
    lead = cohort["group"].to_numpy() == 1
    assert np.all(w[lead] == 1.0)
    # ATT: a comparison person in stratum x weighs p/(1-p) = n_lead_x / n_comp_x
    assert w[~lead & (x == 0)] == pytest.approx(30 / 90, rel=1e-6)
    assert w[~lead & (x == 1)] == pytest.approx(60 / 20, rel=1e-6)
    # so the weighted comparison group has the LEAD group's history
    assert np.average(x[~lead], weights=w[~lead]) == pytest.approx(x[lead].mean(), rel=1e-6)
    assert np.all(E.propensity_weights(events, cohort, "none") == 1.0)


def test_weighted_odds_ratio_equals_the_weighted_two_by_two_by_two_table():
    # a saturated model: the odds ratio is the cross-product ratio of the weighted cell counts
    rng = np.random.default_rng(3)
    n = 400
    group = np.repeat([1, 0], n // 2)
    w = np.where(group == 1, 1.0, rng.choice([0.5, 2.0], n))
    rows = [pd.DataFrame({"person_id": np.arange(n), "group": group, "weight": w, "period": p,
                          "y": (rng.random(n) < 0.3 + 0.2 * p * (1 - group)).astype(int)}) for p in (0, 1)]
    table = pd.concat(rows, ignore_index=True)
    est = E.odds_ratio(table, "weighted")
    cell = table.assign(yw=table["y"] * table["weight"], nw=(1 - table["y"]) * table["weight"]).groupby(
        ["group", "period"])[["yw", "nw"]].sum()
    odds = cell["yw"] / cell["nw"]
    by_hand = (odds[(1, 1)] / odds[(1, 0)]) / (odds[(0, 1)] / odds[(0, 0)])
    assert est.odds_ratio == pytest.approx(by_hand, rel=1e-6)
    unweighted = E.odds_ratio(table.drop(columns="weight"), "unweighted")
    assert not math.isclose(unweighted.odds_ratio, est.odds_ratio, rel_tol=1e-3)


def test_the_scenario_chooses_the_design_and_refuses_an_unknown_one(tmp_path):
    loaded = load(SCENARIOS / "seattle_lead.yaml", ["evaluation.comparison_entry=random_arrest",
                                                    "evaluation.weighting=none"])
    assert E.design_of(loaded.base) == E.Design("random_arrest", "none")
    assert E.design_of(load(SCENARIOS / "seattle_lead.yaml").base) == E.Design()
    with pytest.raises(ScenarioError, match="evaluation.comparison_entry"):
        load(SCENARIOS / "seattle_lead.yaml", ["evaluation.comparison_entry=last"])


# ---- negative control: a program with no effect at all ----------------------------------------------


def _sham_evaluation(design_sets: list[str], reps: int = 8):
    from lead_sim.calibration import fit as K
    from lead_sim.runs.experiment import run_experiment, summarise_utilisation

    sets = ["lead.sham_referrals=true", *design_sets]
    sc = load(SCENARIOS / "seattle_lead.yaml", sets).arms["lead_pilot"]
    est = K.simulated_estimates(sc, "lead_pilot", reps, jobs=2)
    res = run_experiment({"lead_pilot": sc}, reps, jobs=2, keep_tables="none", analyses=("evaluation",))
    util = summarise_utilisation(res.extras["evaluation_utilisation"])
    return est, util


@pytest.mark.slow
def test_sham_program_gives_no_effect_under_the_default_design_and_the_old_rule_would_invent_one():
    """Referrals decided and recorded as in LEAD, everyone processed as usual (lead.sham_referrals):
    under the default design (first encounter, propensity weights) every odds ratio's 95% interval
    (people pooled over 8 replications) holds 1 and the bookings difference-in-differences holds 0.
    The rule lead-sim used before (comparison = never-referred people at their first eligible
    arrest, unweighted) finds a large spurious 'effect' in the same simulated people: the test
    can tell a biased design from an unbiased one."""
    from lead_sim.outcomes import utilisation as U

    est, util = _sham_evaluation([])
    assert sum(e.n_lead for e in est.values() if e.target in E.TARGETS) > 0
    for name in E.TARGETS:
        e = est[name]
        assert e.ci_low <= 1.0 <= e.ci_high, f"{name}: a sham program gave OR {e.odds_ratio:.3f} ({e.ci_low:.3f} to {e.ci_high:.3f})"
    did = util[(util["measure"] == U.BOOKINGS) & (util["period"] == "did")]
    assert len(did) == 2
    for row in did.itertuples():
        assert row.ci_low <= 0.0 <= row.ci_high, f"bookings DiD ({row.window}) {row.mean:.3f} ({row.ci_low:.3f} to {row.ci_high:.3f})"
    old, _ = _sham_evaluation(["evaluation.comparison_entry=first_arrest", "evaluation.weighting=none"])
    assert old[N.TARGET_ANY_ARREST_6M].ci_high < 0.7, "the old rule's bias should show under a sham program"
