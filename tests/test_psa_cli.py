"""lead-sim psa / tornado / sweep: files, identical results whatever runs them, interruption and resume.

The small demo (a few hundred people, 18 months) keeps each simulation near 0.1 s. The same PSA
is run in this process, on 2 local workers, on an in-process Dask cluster and as a real
subprocess killed part-way and resumed; every psa.csv must be byte-identical.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from lead_sim.cli.main import main
from lead_sim.runs.output import INCOMPLETE_SUFFIX

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.yaml"
SMALL = [
    "--set", "population.initial_people=160",
    "--set", "population.arrivals_per_year=32",
    "--set", "run.warmup_days=180",
    "--set", "run.end_date=2020-06-30",
]  # fmt: skip
PSA = ["psa", str(DEMO), *SMALL, "--arm", "lead_pilot", "--draws", "12", "--reps", "2"]
PSA_FILES = {"scenario.resolved.yaml", "plan.json", "draws.csv", "checkpoint.jsonl", "psa.csv", "psa_summary.csv",
             "psa_savings.csv", "ceac.csv", "evpi.csv", "psa_drivers.csv", "manifest.json"}


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def describe(r: Result) -> str:
    return f"exit {r.exit_code}\n--- stdout:\n{r.stdout}\n--- stderr:\n{r.stderr}\n--- exception: {r.exception!r}"


def folders(out: Path) -> tuple[list[Path], list[Path]]:
    parent = out / "demo"
    entries = sorted(parent.iterdir()) if parent.exists() else []
    return ([p for p in entries if not p.name.endswith(INCOMPLETE_SUFFIX)],
            [p for p in entries if p.name.endswith(INCOMPLETE_SUFFIX)])


def only_complete(out: Path) -> Path:
    complete, incomplete = folders(out)
    assert len(complete) == 1 and not incomplete, f"expected one complete run folder; found {complete} and {incomplete}"
    return complete[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The PSA run in this process (--jobs 1)."""
    out = tmp_path_factory.mktemp("ref")
    r = invoke(*PSA, "--jobs", 1, "--out", out)
    assert r.exit_code == 0, describe(r)
    return only_complete(out)


def test_psa_writes_its_files(reference):
    names = {p.name for p in reference.iterdir()}
    assert PSA_FILES <= names, f"missing {sorted(PSA_FILES - names)}"
    psa = pd.read_csv(reference / "psa.csv")
    assert len(psa) == 12 * 2 and set(psa["arm"]) == {"usual_processing", "lead_pilot"}
    assert {"lead.rr_contact_engaged", "costs.per_day.jail.jail.marginal.usd", "cost_total_usd", "bookings_per_person_year",
            "rearrests"} <= set(psa.columns)
    draws = pd.read_csv(reference / "draws.csv")
    merged = psa[psa["arm"] == "lead_pilot"].merge(draws, on="draw", suffixes=("", "_drawn"))
    assert (merged["lead.rr_contact_engaged"] - merged["lead.rr_contact_engaged_drawn"]).abs().max() < 1e-9
    manifest = json.loads((reference / "manifest.json").read_text())
    # the bundled set samples usual-processing keys (violations at a new arrest, the drug-misdemeanor
    # mix), so both arms are simulated for every draw; usual processing simulated once and re-priced
    # when only LEAD and cost keys vary: tests/test_psa.py::test_cost_only_cases_share_simulations
    assert manifest["simulations"] == 2 * 12 * 2, manifest["simulations"]
    sav = pd.read_csv(reference / "psa_savings.csv")
    assert {"all_payers", "city_and_county_of_denver"} <= set(sav["payer"])
    known = sav["p_saves_money"].notna()
    assert sav.loc[known, "p_saves_money"].between(0, 1).all()
    assert set(sav.loc[~known, "payer"]) <= {"society"}, "only a payer with no costs (victims: 0 here) has no chance to state"
    ceac = pd.read_csv(reference / "ceac.csv")
    sums = ceac.groupby(["outcome", "wtp_usd"])["p_best_of_all_arms"].sum()
    assert ((sums - 1).abs() < 1e-8).all(), "the arms' probabilities of being the best must sum to 1 at every wtp"
    lead = ceac[ceac["arm"] == "lead_pilot"]
    assert (lead["comparator"] == "usual_processing").all()
    assert (lead["p_cost_effective_vs_comparator"] == lead["p_best_of_all_arms"]).all(), "two arms: the two agree"
    assert ceac.loc[ceac["arm"] == "usual_processing", "p_cost_effective_vs_comparator"].isna().all()
    assert (pd.read_csv(reference / "evpi.csv")["evpi_usd"] >= -1e-9).all(), "EVPI is never negative"


@pytest.mark.slow  # starts an in-process Dask cluster: ~9 s; CI runs it with -m slow
def test_psa_identical_with_two_workers_and_on_dask(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    expected = (reference / "psa.csv").read_bytes()
    r = invoke(*PSA, "--jobs", 2, "--out", tmp_path / "two")
    assert r.exit_code == 0, describe(r)
    assert (only_complete(tmp_path / "two") / "psa.csv").read_bytes() == expected, "psa.csv differs with --jobs 2"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        r = invoke(*PSA, "--scheduler", cluster.scheduler_address, "--out", tmp_path / "dask")
    assert r.exit_code == 0, describe(r)
    folder = only_complete(tmp_path / "dask")
    assert (folder / "psa.csv").read_bytes() == expected, "psa.csv differs on a Dask cluster"
    assert json.loads((folder / "manifest.json").read_text())["scheduler"] == cluster.scheduler_address


def test_killed_psa_resumes_to_the_same_result(reference, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "lead_sim", *PSA, "--jobs", "1", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        lines = 0
        while time.monotonic() < deadline and proc.poll() is None:
            _, incomplete = folders(out)
            ckpt = incomplete[0] / "checkpoint.jsonl" if incomplete else None
            lines = ckpt.read_text().count("\n") if ckpt and ckpt.exists() else 0
            if lines >= 4:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()
    complete, incomplete = folders(out)
    assert not complete and len(incomplete) == 1, f"a killed run must leave only an incomplete folder; found {complete}"
    saved = (incomplete[0] / "checkpoint.jsonl").read_text().count("\n")
    assert 4 <= saved < 26, f"expected part of the 26 simulations checkpointed; found {saved}"
    assert not (incomplete[0] / "psa.csv").exists()

    r = invoke("psa", "--resume", incomplete[0], "--jobs", 2)
    assert r.exit_code == 0, describe(r)
    folder = only_complete(out)
    assert folder.name == incomplete[0].name[: -len(INCOMPLETE_SUFFIX)]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["simulations_resumed_from_checkpoint"] >= saved - 1, "completed simulations must not be redone"
    assert (folder / "psa.csv").read_bytes() == (reference / "psa.csv").read_bytes(), "resumed psa.csv differs"
    again = invoke("psa", "--resume", incomplete[0])
    assert again.exit_code == 3 and "no such run folder" in again.stderr, describe(again)


def test_invalid_draw_stops_before_any_folder(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: {DEMO}\nuncertainty:\n  parameters:\n"
                    "    lead.p_divert_if_eligible: {dist: uniform, min: 0.6, max: 1.6}\n", encoding="utf-8")
    r = invoke("psa", path, *SMALL, "--draws", 5, "--out", tmp_path / "out")
    assert r.exit_code == 2, describe(r)
    assert "PSA draw" in r.stderr and "lead.p_divert_if_eligible" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*")), "no run folder for a rejected run"


def test_tornado_and_resume_refuses_another_command(tmp_path):
    r = invoke("tornado", DEMO, *SMALL, "--arm", "lead_pilot", "--reps", 2, "--jobs", 1, "--out", tmp_path,
               "--param", "lead.rr_contact_engaged", "--param", "costs.per_day.jail.jail.marginal.usd")
    assert r.exit_code == 0, describe(r)
    folder = only_complete(tmp_path)
    t = pd.read_csv(folder / "tornado.csv")
    cost = t[t["outcome"] == "difference in cost_total_usd"].set_index("parameter")
    assert set(cost.index) == {"lead.rr_contact_engaged", "costs.per_day.jail.jail.marginal.usd"}
    assert cost.loc["lead.rr_contact_engaged", "low_value"] == 0.25, "one_way_ranges gives the low value"
    assert cost.loc["costs.per_day.jail.jail.marginal.usd", "resimulated"] == False  # noqa: E712 - numpy bool
    # a weaker effect on contacts (higher rate ratio) makes LEAD cost more
    assert cost.loc["lead.rr_contact_engaged", "result_at_high"] > cost.loc["lead.rr_contact_engaged", "result_at_low"]
    # 5 cases; usual processing shared by all, lead_pilot: base, rr low, rr high (jail cost re-priced)
    assert json.loads((folder / "manifest.json").read_text())["simulations"] == 2 * (1 + 3)


def test_two_way_sweep_breakeven_is_exact_for_a_unit_cost(tmp_path):
    price = "costs.program.all_in.usd_per_participant_month"
    r = invoke("sweep", DEMO, *SMALL, "--set", "costs.program.form=all_in", "--arm", "lead_pilot", "--reps", 2, "--jobs", 2, "--out", tmp_path,
               "--param", f"{price}=0:900:4", "--param", "lead.rr_contact_engaged=0.2,0.6")
    assert r.exit_code == 0, describe(r)
    folder = only_complete(tmp_path)
    d = pd.read_csv(folder / "sweep_differences.csv")
    be = pd.read_csv(folder / "sweep_breakeven.csv")
    assert len(be) == 2, be
    for rr, g in d.groupby("lead.rr_contact_engaged"):
        g = g.sort_values(price)
        slope = g["cost_total_usd"].diff().dropna() / g[price].diff().dropna()
        assert slope.max() - slope.min() < 1e-6 * abs(slope.mean()), "the cost difference must be linear in a unit cost"
        line_root = g[price].iloc[0] - g["cost_total_usd"].iloc[0] / slope.mean()
        row = be[be["lead.rr_contact_engaged"] == rr].iloc[0]
        if line_root >= 0:
            assert row["method"].startswith("exact") and row["breakeven_value"] == pytest.approx(line_root, rel=1e-9)
        else:  # no program price, however low, makes LEAD cost-neutral
            assert row["method"].startswith("none") and math.isnan(row["breakeven_value"]), row
    bad = invoke("sweep", DEMO, *SMALL, "--param", "lead.rr_contact_engaged=a:b:c", "--out", tmp_path / "x")
    assert bad.exit_code == 2 and "expected START:STOP:N" in bad.stderr, describe(bad)


def test_sweep_of_an_unknown_key_is_one_clear_line(tmp_path):
    res = CliRunner().invoke(main, ["sweep", str(DEMO), "--param", "lead.nope=1:2:3", "--reps", "1", "--out", str(tmp_path)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --param lead.nope: no such key in the scenario"), lines
    assert not any(tmp_path.iterdir()), "nothing is simulated or written"
