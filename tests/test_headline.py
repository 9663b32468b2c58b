"""What the commands print first: the headline sentences and the compact table (on hand-made
tables, with known sentences), the psa headline's two chances (checked by hand on three arms), and
the commands as a user runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim.analysis import psa_analysis as A
from lead_sim.cli.main import main
from lead_sim.report.headline import (
    Period,
    compact_table,
    dollars,
    dollars_short,
    headline,
    psa_headline,
    render,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.yaml"
SMALL = ["--set", "population.initial_people=200", "--set", "population.arrivals_per_year=40",
         "--set", "run.end_date=2020-06-30"]
PERIOD = Period("2019-01-22", "2021-12-31", 2019, 0.03, 12)


def flat(text: str) -> str:
    """Wrapped text as one line (the tests look for sentences, not line breaks)."""
    return " ".join(text.split())


# ---- rounding ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x, text", [(9191.37, "$9,200"), (-9191.37, "$9,200"), (237.4, "$240"), (68_234, "$68,000"),
                                     (687_123, "$687,000"), (1_135_374, "$1.14 million"), (12_345_678, "$12.3 million"),
                                     (0.0, "$0"), (4.56, "$4.6"), (2_000_400, "$2.00 million")])
def test_dollars_are_rounded_for_reading(x, text):
    assert dollars(x) == text


def test_short_dollars_for_table_cells():
    assert [dollars_short(x, signed=True) for x in (1_135_374, -116_000, 9191.37, 68_234, 0.0)] == \
        ["+$1.14M", "-$116k", "+$9,200", "+$68k", "$0"]


# ---- the headline on hand-made tables --------------------------------------------------------------------


def tables(noise_free: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    s = [("A", "people", 1000), ("B", "people", 1000), ("A", "lead_participants", 0), ("B", "lead_participants", 100),
         ("A", "cost_total_usd", 5e6), ("B", "cost_total_usd", 5_919_137.4),
         ("A", "cost_total_per_person_usd", 5000), ("B", "cost_total_per_person_usd", 5919.14),
         ("A", "cost_payer_city_usd", 3e6), ("B", "cost_payer_city_usd", 2_879_600),
         ("A", "cost_payer_state_usd", 2e6), ("B", "cost_payer_state_usd", 2_339_537),
         ("A", "cost_payer_grant_usd", 0), ("B", "cost_payer_grant_usd", 700_000),
         ("A", "cost_payer_society_usd", 0), ("B", "cost_payer_society_usd", 0),
         ("A", "p_rearrest_12m", 0.6), ("B", "p_rearrest_12m", 0.59)]
    summary = pd.DataFrame([(a, m, v, v * 0.99, v * 1.01, 12) for a, m, v in s],
                           columns=["arm", "metric", "mean", "ci_low", "ci_high", "reps"])
    c = [("cost_total_usd", 919_137.4, 850_000, 990_000), ("lead_participants", 100, 95, 105),
         ("cost_total_per_person_usd", 919.14, 850, 990), ("cost_total_per_participant_usd", 9191.37, 8500, 9900),
         ("cost_payer_city_usd", -120_400, -140_000, -100_000), ("cost_payer_state_usd", 339_537, 300_000, 380_000),
         ("cost_payer_grant_usd", 700_000, 690_000, 710_000), ("cost_payer_society_usd", 0, 0, 0),
         ("p_rearrest_12m", -0.01, -0.012, -0.008),
         ("rearrests_per_participant", -0.876, -0.95, -0.80), ("jail_days_per_participant", -15.6, -18, -13),
         ("active_use_days_per_participant", 2.3, -1.0, 5.5)]
    comparison = pd.DataFrame([(m, "A", "B", float("nan"), float("nan"), d, lo, hi) for m, d, lo, hi in c],
                              columns=["metric", "comparator", "arm", "comparator_mean", "arm_mean", "difference",
                                       "ci_low", "ci_high"])
    return summary, comparison


def test_headline_sentences_by_hand():
    summary, comparison = tables()
    paragraphs = headline(summary, comparison, ["A", "B"], "A", PERIOD)
    assert paragraphs[0] == [
        "B against a, 22 Jan 2019 to 31 Dec 2021:",
        "Total cost: $919,000 more for the whole target group over the period (95% interval $850,000 to $990,000 "
        "more): $9,200 more per LEAD participant (100 people enrolled at least once) and $920 more per person in the "
        "target group (1,000 people).",
        "Who pays more: Grant $700,000, State $340,000. Who saves: City $120,000.",
        "Per LEAD participant: 0.88 fewer re-arrests, 16 fewer days in jail and 2.3 more days in active drug use "
        "(within simulation noise of no change).",
    ]
    notes = " ".join(paragraphs[-1])
    assert "Money in 2019 US dollars, discounted at 3% a year to 22 Jan 2019." in notes
    assert ("95% intervals from simulation noise over 12 replications only; parameter uncertainty: see "
            "`lead-sim psa`.") in notes
    text = render(paragraphs)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.splitlines()[0] == "B against a, 22 Jan 2019 to 31 Dec 2021:"


def test_headline_says_when_the_arm_saves_and_when_the_interval_crosses_zero():
    summary, comparison = tables()
    comparison = comparison.copy()
    i = comparison.index[comparison["metric"] == "cost_total_usd"][0]
    comparison.loc[i, ["difference", "ci_low", "ci_high"]] = [-2_500_000, -2_700_000, -2_300_000]
    text = flat(render(headline(summary, comparison, ["A", "B"], "A", PERIOD)))
    assert "Total cost: $2.50 million less for the whole target group over the period (95% interval $2.30 to " \
           "$2.70 million less)" in text
    comparison.loc[i, ["difference", "ci_low", "ci_high"]] = [-20_000, -60_000, 20_000]
    text = flat(render(headline(summary, comparison, ["A", "B"], "A", PERIOD)))
    assert "(95% interval $60,000 less to $20,000 more: not distinguishable from no difference)" in text
    comparison.loc[i, ["ci_low", "ci_high"]] = [float("nan"), float("nan")]
    one = Period("2019-01-22", "2021-12-31", 2019, 0.03, 1)
    text = flat(render(headline(summary, comparison, ["A", "B"], "A", one)))
    assert "(no interval: one replication)" in text and "One replication: no intervals" in text


def test_no_headline_without_a_comparator():
    summary, _ = tables()
    assert headline(summary, None, ["A"], None, PERIOD) == []


def test_compact_table_has_labels_and_fits_100_columns():
    summary, comparison = tables()
    text = compact_table(summary, comparison, ["A", "B"], "A")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "_" not in text, "human labels, not metric names"
    row = next(line for line in lines if line.startswith("  per LEAD participant"))
    assert row.split()[-4:] == ["+$9,200", "($8,500", "to", "$9,900)"]
    assert "Society" not in text, "a payer with no cost in any arm is left out"
    assert next(line for line in lines if line.startswith("Re-arrested within 12 months")).split()[-6:] == \
        ["60.0%", "-1", "pp", "(-1.2", "to", "-0.8)"]


def test_compact_table_splits_arms_that_do_not_fit():
    summary, comparison = tables()
    arms = ["A", "B", "C with a long name", "D with a long name", "E with a long name"]
    summary = pd.concat([summary] + [summary[summary["arm"] == "B"].assign(arm=a) for a in arms[2:]])
    comparison = pd.concat([comparison] + [comparison.assign(arm=a) for a in arms[2:]])
    text = compact_table(summary, comparison, arms, "A")
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.count("LEAD participants") == 4, "one table per arm against the comparator"


# ---- the psa: cost-effective against the comparator and best of all arms -----------------------------------


def three_arms() -> pd.DataFrame:
    """The 4 draws of 3 arms of tests/test_psa.py::three_arms (the two chances checked there by hand)."""
    rows = [(0, "A", 100, 10), (0, "B", 120, 8), (0, "C", 150, 5),
            (1, "A", 100, 10), (1, "B", 130, 9), (1, "C", 140, 6),
            (2, "A", 100, 10), (2, "B", 110, 9), (2, "C", 200, 8),
            (3, "A", 100, 10), (3, "B", 90, 11), (3, "C", 160, 5)]
    return pd.DataFrame(rows, columns=["draw", "arm", "cost_total_usd", "rearrests"])


def test_psa_headline_names_both_chances():
    psa = three_arms().assign(lead_participants=lambda d: d["arm"].map({"A": 0, "B": 10, "C": 20}))
    summary = A.summary(psa, "A", ["cost_total_usd", "lead_participants"])
    savings = A.savings(psa, "A", [])
    ceac, _ = A.ceac_table(psa, "rearrests", [0.0, 20.0, 40.0], comparator="A")
    paragraphs = psa_headline(summary, savings, ceac, ["A", "B", "C"], "A", PERIOD, 4)
    b = paragraphs[0]
    assert b[0] == "B against a, 22 Jan 2019 to 31 Dec 2021, over 4 parameter draws:"
    assert b[1].startswith("Total cost: $12 more for the whole target group on average; 95% of draws from $8.5 less "
                           "to $29 more; $1.2 more per LEAD participant (10 enrolled at least once)"), b[1]
    assert b[2] == "Chance of saving money overall: 25%."
    assert b[3] == "Chance it is cost-effective against a, valuing a re-arrest averted at $0, $20, $40: 25%, 50%, 75%."
    assert b[4] == "Chance it is the best of all 3 arms at those values: 25%, 25%, 25%."
    two = psa_headline(summary, savings, ceac[ceac["arm"] != "C"], ["A", "B"], "A", PERIOD, 4)
    assert not any("best of all" in s for s in two[0]), "two arms: being best is being cost-effective"


# ---- the commands, as a user runs them --------------------------------------------------------------------


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


def only_folder(out: Path) -> Path:
    (folder,) = [p for p in (out / "demo").iterdir()]
    return folder


def test_compare_opens_with_the_headline_then_a_compact_table(tmp_path):
    result = invoke("compare", DEMO, "--reps", 3, "--jobs", 1, "--out", tmp_path, *SMALL)
    folder = only_folder(tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0] == "LEAD pilot against usual processing, 22 Jan 2019 to 30 Jun 2020:", lines[:3]
    head = flat("\n".join(lines[:lines.index("")]))
    comparison = pd.read_csv(folder / "comparison.csv").set_index(["arm", "metric"])
    total = comparison.loc[("lead_pilot", "cost_total_usd"), "difference"]
    per = comparison.loc[("lead_pilot", "cost_total_per_participant_usd"), "difference"]
    assert f"Total cost: {dollars(total)} {'more' if total > 0 else 'less'} for the whole target group" in head
    assert f"{dollars(per)} {'more' if per > 0 else 'less'} per LEAD participant" in head
    assert "per person in the target group" in head and "Per LEAD participant:" in head
    assert "Who pays more:" in head or "Who saves:" in head
    assert "95% intervals from simulation noise over 3 replications only; parameter uncertainty: see `lead-sim psa`." \
        in flat(result.stdout)
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", head), "no snake_case names in the headline"
    table_start = next(i for i, line in enumerate(lines) if line.startswith("LEAD participants"))
    table = lines[table_start - 3:lines.index("", table_start)]
    assert max(len(line) for line in table) <= 100, "\n".join(table)
    assert len(lines) < 60, f"a short answer; found {len(lines)} lines"
    assert "cost_police_per_person_usd" not in result.stdout, "the full table needs --all"
    assert lines[-1] == f"  lead-sim report {folder}", "the last line is the command for the report"
    assert lines[-2] == "a report with figures and a one-page brief (or add --report to the command):"
    assert lines[-3].startswith("every metric: add --all")


def test_compare_all_prints_every_metric_and_the_per_participant_rows(tmp_path):
    result = invoke("compare", DEMO, "--reps", 2, "--jobs", 1, "--out", tmp_path, "--all", *SMALL)
    folder = only_folder(tmp_path)
    assert any(line.startswith("metric") for line in result.stdout.splitlines())
    for name in ("summary.csv", "comparison.csv"):
        for metric in pd.read_csv(folder / name)["metric"].unique():
            assert re.search(rf"^{metric}\b", result.stdout, re.M), f"{metric} missing from the --all table"


def test_budget_and_cea_open_with_the_headline(tmp_path):
    for command, extra in (("budget", []), ("cea", ["--no-breakeven"])):
        result = invoke(command, DEMO, "--reps", 2, "--jobs", 1, "--out", tmp_path / command, *SMALL, *extra)
        lines = result.stdout.splitlines()
        assert lines[0] == "LEAD pilot against usual processing, 22 Jan 2019 to 30 Jun 2020:", (command, lines[:3])
        assert "Total cost:" in lines[1]
        assert lines[-1].startswith("  lead-sim report "), (command, lines[-3:])


def test_psa_prints_both_chances_with_three_arms(tmp_path):
    result = invoke("psa", DEMO, *SMALL, "--draws", 3, "--reps", 1, "--jobs", 1, "--out", tmp_path)
    text = flat(result.stdout)
    assert result.stdout.splitlines()[0].startswith("LEAD pilot against usual processing, 22 Jan 2019 to 30 Jun 2020, "
                                                     "over 3 parameter draws:")
    assert "Chance it is cost-effective against usual processing, valuing a re-arrest averted at $0, $25,000, " \
           "$50,000:" in text
    assert "Chance it is the best of all 3 arms at those values:" in text
    assert "P(cost-effective vs usual_processing) per re-arrest averted:" in result.stdout
    assert "P(best of all 3 arms) per re-arrest averted:" in result.stdout
    assert "P(cost-effective) per" not in result.stdout, "the old, ambiguous label is gone"
    ceac = pd.read_csv(only_folder(tmp_path) / "ceac.csv")
    assert {"p_cost_effective_vs_comparator", "p_best_of_all_arms"} <= set(ceac.columns)
    assert "p_cost_effective" not in ceac.columns
