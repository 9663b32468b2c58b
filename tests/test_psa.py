"""PSA machinery without the command line: the uncertainty schema, draws, re-pricing, CEAC/EVPI.

Hand-computed examples where the answer is known; the small demo (``conftest.SMALL``) wherever a
simulation is needed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS, SMALL
from scipy import stats

from lead_sim.analysis import psa as P
from lead_sim.analysis import psa_analysis as A
from lead_sim.model.engine import simulate
from lead_sim.outcomes.costing import cost_lines
from lead_sim.outcomes.metrics import arm_metrics
from lead_sim.outcomes.repricing import cost_values, is_pricing_key, prices, quantities
from lead_sim.runs.checkpoint import Checkpoint, CheckpointError
from lead_sim.scenario.loading import ScenarioError, load
from lead_sim.scenario.uncertainty import Uncertainty

DEMO = SCENARIOS / "demo.yaml"


@pytest.fixture(scope="module")
def small():
    return load(DEMO, SMALL)


def _with_uncertainty(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "u.yaml"
    path.write_text(f"extends: {DEMO}\nuncertainty:\n{body}", encoding="utf-8")
    return path


# ---- schema -------------------------------------------------------------------------------------------


def test_bundled_scenario_declares_uncertainty():
    base = load(SCENARIOS / "denver_pilot.yaml").base
    unc = base.uncertainty
    assert unc is not None and len(unc.parameters) >= 20, "denver_pilot.yaml should declare a PSA parameter set"
    assert "lead.rr_contact_engaged" in unc.parameters
    assert "costs.program.staffing.case_manager_usd_per_year" in unc.parameters
    assert "costs.per_day.jail.jail.marginal.usd" in unc.parameters and "costs.per_day.jail.jail.average.usd" in unc.parameters


def test_unknown_key_is_an_error_naming_it(tmp_path):
    path = _with_uncertainty(tmp_path, "  parameters:\n    lead.rr_contact_engagd: {dist: uniform, min: 0, max: 1}\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    text = "\n".join(err.value.problems)
    assert "uncertainty.parameters.lead.rr_contact_engagd" in text and "no such key" in text, text
    assert "rr_contact_engaged" in text, f"the message should list the keys that exist; found {text}"


@pytest.mark.parametrize(("key", "expect"), [
    ("lead.p_officer_trained", "dated schedule"),
    ("lead.enrollment_days", "distribution"),
    ("lead.enabled", "expected a key holding a number"),
    ("run.seed", "cannot be an uncertain parameter"),
])
def test_key_must_hold_a_number(tmp_path, key, expect):
    path = _with_uncertainty(tmp_path, f"  parameters:\n    {key}: {{dist: uniform, min: 0, max: 1}}\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert expect in "\n".join(err.value.problems), err.value.problems


def test_schedule_entries_and_distribution_parameters_can_be_uncertain(tmp_path):
    path = _with_uncertainty(tmp_path, "  parameters:\n"
                             "    lead.p_officer_trained.2019-07-01: {dist: uniform, min: 0.2, max: 0.3}\n"
                             "    lead.enrollment_days.median: {dist: uniform, min: 200, max: 400}\n")
    unc = load(path).base.uncertainty
    assert "lead.p_officer_trained.2019-07-01" in unc.parameters


def test_correlation_must_be_a_valid_matrix():
    common = {"parameters": {k: {"dist": "uniform", "min": 0, "max": 1} for k in ("a.x", "a.y", "a.z")}}
    bad = [{"parameters": ["a.x", "a.y"], "rho": 0.9}, {"parameters": ["a.x", "a.z"], "rho": 0.9},
           {"parameters": ["a.y", "a.z"], "rho": -0.9}]
    with pytest.raises(ValueError, match="positive definite"):
        Uncertainty.model_validate({**common, "correlation": bad})
    with pytest.raises(ValueError, match="a.w"):
        Uncertainty.model_validate({**common, "correlation": [{"parameters": ["a.x", "a.w"], "rho": 0.5}]})


# ---- draws ----------------------------------------------------------------------------------------------


def test_draws_reproducible_from_the_seed(small):
    unc, base = small.base.uncertainty, small.base
    a = P.generate_draws(unc, 50, 7, base)
    b = P.generate_draws(unc, 50, 7, base)
    pd.testing.assert_frame_equal(a, b)
    c = P.generate_draws(unc, 50, 8, base)
    assert not np.allclose(a.iloc[:, 1:].to_numpy(), c.iloc[:, 1:].to_numpy()), "another seed should give other draws"
    first = P.generate_draws(unc, 20, 7, base)
    pd.testing.assert_frame_equal(first, a.iloc[:20].reset_index(drop=True), obj="draw i must not depend on the number of draws")


def test_draws_follow_distributions_and_correlation(small):
    unc, base = small.base.uncertainty, small.base
    d = P.generate_draws(unc, 4000, 1, base)
    tri = d["costs.per_day.jail.jail.marginal.usd"]
    assert tri.between(36, 81).all(), f"triangular 36/54/81 draws outside the range: {tri.min()} to {tri.max()}"
    assert abs(tri.mean() - 171 / 3) < 0.6, f"triangular mean should be 57; found {tri.mean():.2f}"
    case_load = d["lead.caseload_per_manager"]
    assert set(case_load.unique()) == set(range(12, 26)), "uniform 11.5-25.5 rounded should give every whole 12..25"
    rho = stats.spearmanr(d["costs.per_event.arrest.police.average"], d["costs.per_event.police_contact.police.average"]).statistic
    # Spearman's rho of a Gaussian copula with r = 0.6 is (6/pi) asin(r/2) = 0.582
    assert abs(rho - 0.582) < 0.04, f"expected rank correlation about 0.58; found {rho:.3f}"
    rho0 = stats.spearmanr(d["costs.per_day.jail.jail.marginal.usd"], d["costs.per_event.arrest.police.average"]).statistic
    assert abs(rho0) < 0.05, f"uncorrelated parameters should be about independent; found rho {rho0:.3f}"


def test_a_draw_outside_a_parameters_bounds_is_rejected(tmp_path):
    path = _with_uncertainty(tmp_path, "  parameters:\n    lead.p_referral_declined: {dist: uniform, min: 0.5, max: 1.5}\n")
    loaded = load(path, SMALL)
    d = P.generate_draws(loaded.base.uncertainty, 10, 3, loaded.base)
    cases = [{"lead.p_referral_declined": v} for v in d["lead.p_referral_declined"]]
    arms = {a: loaded.arms[a] for a in ("usual_processing", "lead_pilot")}
    first_bad = next(i for i, c in enumerate(cases) if c["lead.p_referral_declined"] > 1)
    with pytest.raises(ScenarioError) as err:
        P.make_plan(arms, {}, cases, 1, [f"PSA draw {i}" for i in range(10)])
    text = "\n".join(err.value.problems)
    assert f"PSA draw {first_bad}" in text and "lead.p_referral_declined" in text, text
    assert "less than or equal to 1" in text, f"the message should say what was expected; found {text}"


# ---- one simulation, many prices ------------------------------------------------------------------------


def test_repricing_equals_costing_a_full_run(small):
    sc = small.arms["lead_pilot"]
    sim = simulate(sc, 0)
    q = quantities(sim.events, sim.spells, sc, sim.t_end)
    d = P.generate_draws(small.base.uncertainty, 3, 11, small.base)
    for row in d.to_dict("records"):
        costs_only = {k: v for k, v in row.items() if k != "draw" and is_pricing_key(k)}
        priced = P.apply_values(sc, costs_only, label="test")
        full = arm_metrics(sim.events, sim.spells, sim.people, priced,
                           sim.t_end, lines=cost_lines(sim.events, sim.spells, priced, sim.t_end))
        fast = cost_values(q, prices(priced), full["people"])
        for k, v in full.items():
            if k.startswith("cost_"):
                assert math.isclose(fast[k], v, rel_tol=1e-9, abs_tol=1e-6), f"{k}: re-priced {fast[k]} vs costed {v}"


def test_usual_processing_ignores_lead_parameters(small):
    """simulation_key leaves out the lead section of an arm without LEAD; the model must agree."""
    sc = small.arms["usual_processing"]
    other = P.apply_values(sc, {"lead.rr_contact_engaged": 0.1, "lead.caseload_per_manager": 7,
                                "lead.enrollment_days.median": 100, "lead.p_referral_declined": 0.5}, label="test")
    assert P.simulation_key(sc) == P.simulation_key(other)
    a, b = simulate(sc, 1), simulate(other, 1)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.spells, b.spells)


def test_cost_only_cases_share_simulations(small):
    arms = {a: small.arms[a] for a in ("usual_processing", "lead_pilot")}
    cases = [{"costs.per_day.jail.jail.marginal.usd": v} for v in (40.0, 60.0, 90.0)] + [{"lead.rr_contact_engaged": 0.3}]
    plan = P.make_plan(arms, {}, cases, 2)
    # usual: one simulation per replication; lead_pilot: base-effect and rr=0.3, per replication
    assert len(plan.tasks) == 2 + 2 * 2, f"expected 6 distinct simulations; found {len(plan.tasks)}"
    table = P.assemble(plan, P.execute(plan))
    lead = table[table["arm"] == "lead_pilot"].set_index("case")
    assert lead.loc[0, "jail_days"] == lead.loc[2, "jail_days"], "re-priced cases share their outcomes"
    assert lead.loc[0, "cost_jail_per_person_usd"] < lead.loc[2, "cost_jail_per_person_usd"]


# ---- CEAC and EVPI by hand ------------------------------------------------------------------------------


def test_ceac_and_evpi_against_a_hand_computed_example():
    # 4 draws, 2 arms (A = comparator, B). Outcome: re-arrests (to avert, sign -1).
    # NMB = -wtp * rearrests - cost.
    psa = pd.DataFrame({
        "draw": [0, 0, 1, 1, 2, 2, 3, 3],
        "arm": ["A", "B"] * 4,
        "cost_total_usd": [100, 150, 100, 130, 100, 180, 100, 90],
        "rearrests": [10, 8, 10, 9, 10, 9, 10, 11],
    })
    ceac, evpi = A.ceac_table(psa, "rearrests", [0.0, 20.0, 40.0])
    p = ceac.pivot(index="wtp_usd", columns="arm", values="p_best_of_all_arms")
    ce = ceac.pivot(index="wtp_usd", columns="arm", values="p_cost_effective_vs_comparator")
    assert ce["A"].isna().all() and (ceac["comparator"] == "A").all(), "the first arm is the comparator by default"
    assert ce["B"].equals(p["B"]), "with two arms, cost-effective against the comparator is being the best"
    # wtp 0: B wins only draw 3 (90 < 100): P(B) = 0.25
    # wtp 20: NMB diff B-A = 20*(10-rB) - (cB-100): d0 = 40-50=-10, d1 = 20-30=-10, d2 = 20-80=-60, d3 = -20+10=-10 -> P(B)=0
    # wtp 40: d0 = 80-50=30, d1 = 40-30=10, d2 = 40-80=-40, d3 = -40+10=-30 -> P(B)=0.5
    assert p.loc[0.0, "B"] == 0.25 and p.loc[20.0, "B"] == 0.0 and p.loc[40.0, "B"] == 0.5, p
    assert (p.sum(axis=1) == 1).all()
    e = evpi.set_index("wtp_usd")
    # EVPI = mean(max(0, d)) - max(0, mean(d)) on the differences B - A
    # wtp 0: d = -50,-30,-80,10 -> mean max(0,d) = 2.5; mean d = -37.5 -> EVPI 2.5
    # wtp 20: all d < 0 -> 0; wtp 40: d = 30,10,-40,-30 -> mean max = 10; mean d = -7.5 -> EVPI 10
    assert e.loc[0.0, "evpi_usd"] == pytest.approx(2.5)
    assert e.loc[20.0, "evpi_usd"] == pytest.approx(0.0)
    assert e.loc[40.0, "evpi_usd"] == pytest.approx(10.0)
    assert e.loc[40.0, "optimal_arm"] == "A", "mean NMB difference is -7.5, so A is optimal in expectation"


def three_arms() -> pd.DataFrame:
    """4 draws of arms A (comparator), B and C; re-arrests are to avert: NMB = -wtp * rearrests - cost.

    wtp 0:  B - A = -20, -30, -10, +10 -> B cost-effective in 1 of 4; best: A, A, A, B
    wtp 20: NMB A/B/C = -300/-280/-250, -300/-310/-260, -300/-290/-360, -300/-310/-260
            B beats A in draws 0 and 2 (1/2), C in 0, 1 and 3 (3/4); best: C, C, B, C
    wtp 40: NMB = -500/-440/-350, -500/-490/-380, -500/-470/-520, -500/-530/-360
            B beats A in draws 0, 1, 2 (3/4), C in 0, 1, 3 (3/4); best: C, C, B, C
    So at 40 B is cost-effective against A in 3 draws of 4 but the best of all arms in only 1.
    """
    rows = [(0, "A", 100, 10), (0, "B", 120, 8), (0, "C", 150, 5),
            (1, "A", 100, 10), (1, "B", 130, 9), (1, "C", 140, 6),
            (2, "A", 100, 10), (2, "B", 110, 9), (2, "C", 200, 8),
            (3, "A", 100, 10), (3, "B", 90, 11), (3, "C", 160, 5)]
    return pd.DataFrame(rows, columns=["draw", "arm", "cost_total_usd", "rearrests"])


def test_cost_effective_against_the_comparator_and_best_of_all_differ_by_hand():
    ceac, _ = A.ceac_table(three_arms(), "rearrests", [0.0, 20.0, 40.0], comparator="A")
    assert list(ceac.columns) == A.CEAC_COLUMNS
    ce = ceac.pivot(index="wtp_usd", columns="arm", values="p_cost_effective_vs_comparator")
    best = ceac.pivot(index="wtp_usd", columns="arm", values="p_best_of_all_arms")
    assert ce["A"].isna().all(), "the comparator is not compared with itself"
    assert list(ce["B"]) == [0.25, 0.5, 0.75] and list(ce["C"]) == [0.0, 0.75, 0.75]
    assert list(best["A"]) == [0.75, 0.0, 0.0] and list(best["B"]) == [0.25, 0.25, 0.25]
    assert list(best["C"]) == [0.0, 0.75, 0.75]
    lo, hi = A.wilson(3, 4)
    b40 = ceac[(ceac["arm"] == "B") & (ceac["wtp_usd"] == 40.0)].iloc[0]
    assert (b40["p_cost_effective_ci_low"], b40["p_cost_effective_ci_high"]) == pytest.approx((lo, hi))
    assert (b40["p_best_ci_low"], b40["p_best_ci_high"]) == pytest.approx(A.wilson(1, 4))


def test_a_tie_with_the_comparator_is_not_cost_effective():
    psa = pd.DataFrame([(0, "A", 100, 10), (0, "B", 100, 10)], columns=["draw", "arm", "cost_total_usd", "rearrests"])
    ceac, _ = A.ceac_table(psa, "rearrests", [0.0], comparator="A")
    assert ceac.set_index("arm").loc["B", "p_cost_effective_vs_comparator"] == 0.0


def test_savings_probability_and_wilson_interval():
    psa = pd.DataFrame({"draw": [0, 0, 1, 1, 2, 2, 3, 3], "arm": ["A", "B"] * 4,
                        "cost_total_usd": [10, 9, 10, 11, 10, 8, 10, 10],
                        "cost_payer_city_usd": [5, 4, 5, 4, 5, 4, 5, 6], "cost_payer_society_usd": [0.0] * 8})
    s = A.savings(psa, "A", ["city", "society"]).set_index("payer")
    assert s.loc["society", ["p_saves_money", "p_ci_low", "p_ci_high"]].isna().all(), "no cost in any draw: n/a, not 0%"
    assert s.loc["all_payers", "p_saves_money"] == 0.5, "B costs strictly less in draws 0 and 2"
    assert s.loc["city", "p_saves_money"] == 0.75
    lo, hi = A.wilson(2, 4)
    assert lo == pytest.approx(0.1500, abs=1e-4) and hi == pytest.approx(0.8500, abs=1e-4)


def test_drivers_rank_the_parameter_that_matters():
    rng = np.random.default_rng(0)
    n = 200
    x1, x2, x3 = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    rows = []
    for i in range(n):
        rows.append({"draw": i, "arm": "A", "cost_total_usd": 0.0, "p.big": x1[i], "p.small": x2[i], "p.none": x3[i]})
        rows.append({"draw": i, "arm": "B", "cost_total_usd": 3 * x1[i] + x2[i], "p.big": x1[i], "p.small": x2[i],
                     "p.none": x3[i]})
    d = A.drivers(pd.DataFrame(rows), "A", ["p.big", "p.small", "p.none"], ["cost_total_usd"]).set_index("parameter")
    assert d.loc["p.big", "rank"] == 1 and d.loc["p.small", "rank"] == 2, d
    assert d.loc["p.big", "r2"] == pytest.approx(1.0)
    assert abs(d.loc["p.none", "src"]) < 1e-9


# ---- checkpoint ---------------------------------------------------------------------------------------------


def test_checkpoint_keeps_exact_floats_and_drops_a_cut_line(tmp_path):
    with Checkpoint(tmp_path) as c:
        c.append("a", {"x": 0.1 + 0.2, "y": float("nan")})
        c.append("b", {"x": 1 / 3})
    with open(tmp_path / "checkpoint.jsonl", "a", encoding="utf-8") as f:
        f.write('{"key": "c", "resu')  # a kill in the middle of a write
    with Checkpoint(tmp_path) as c:
        got = c.load()
        assert set(got) == {"a", "b"} and got["a"]["x"] == 0.1 + 0.2 and got["b"]["x"] == 1 / 3
        assert math.isnan(got["a"]["y"])
        with pytest.raises(CheckpointError, match="another lead-sim process"):
            Checkpoint(tmp_path)
    assert (tmp_path / "checkpoint.jsonl").read_text().endswith("\n"), "the cut line should be dropped"


def test_tornado_shows_the_whole_numbers_an_integer_key_is_simulated_at():
    from lead_sim.analysis import sensitivity as S

    base = load(DEMO).base
    unc = base.uncertainty
    lo, hi = unc.one_way_range("lead.caseload_per_manager")
    assert lo != round(lo), "the scenario's range is not whole: the test needs a fractional bound"
    _, table = S.tornado_cases(unc, ["lead.caseload_per_manager"], P.integer_keys(base, unc.names()))
    shown = table.set_index("level").loc[["low", "high"], "value"].tolist()
    assert shown == [round(lo), round(hi)]
    applied = P.apply_values(base, {"lead.caseload_per_manager": lo}, label="test")
    assert applied.lead.caseload_per_manager == shown[0], "the table shows what the simulation is given"
