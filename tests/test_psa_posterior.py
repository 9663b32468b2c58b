"""lead-sim psa --posterior: calibrated parameter sets as PSA draws.

A hand-made posterior with three rows of distinctive values must reach draws.csv and psa.csv
row by row (a draw never mixes two rows), the other uncertain parameters must be drawn exactly as
without --posterior, the choice of rows must follow the documented rule, every kind of bad file
must be one error line and exit 2, and --resume must refuse another posterior. The tiny scenario
(two people, one year) keeps each simulation near 0.01 s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from lead_sim.analysis import psa as P
from lead_sim.calibration import posterior as PO
from lead_sim.cli.main import main
from lead_sim.runs.output import INCOMPLETE_SUFFIX
from lead_sim.scenario.loading import load

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "scenarios" / "tiny.yaml"
RR, DIVERT = "lead.rr_contact_engaged", "lead.p_divert_if_eligible"  # in uncertainty.parameters / not in it
POSTERIOR = f"draw,{RR},{DIVERT},weight\n0,0.111,0.71,0.2\n1,0.222,0.72,0.3\n2,0.333,0.73,0.5\n"
ROWS = {0: (0.111, 0.71), 1: (0.222, 0.72), 2: (0.333, 0.73)}


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def describe(r: Result) -> str:
    return f"exit {r.exit_code}\n--- stdout:\n{r.stdout}\n--- stderr:\n{r.stderr}\n--- exception: {r.exception!r}"


def run_folder(out: Path) -> Path:
    found = sorted((out / "tiny").iterdir())
    assert len(found) == 1 and not found[0].name.endswith(INCOMPLETE_SUFFIX), f"expected one complete run; found {found}"
    return found[0]


@pytest.fixture()
def posterior(tmp_path) -> Path:
    path = tmp_path / "cal" / "posterior.csv"
    path.parent.mkdir()
    path.write_text(POSTERIOR, encoding="utf-8")
    return path


def test_draws_take_the_posterior_rows_jointly(posterior, tmp_path):
    r = invoke("psa", TINY, "--posterior", posterior, "--draws", 7, "--jobs", 1, "--out", tmp_path / "out")
    assert r.exit_code == 0, describe(r)
    notes = [line for line in r.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and RR in notes[0] and DIVERT not in notes[0], f"expected one note naming {RR}; found {notes}"
    folder = run_folder(tmp_path / "out")
    draws = pd.read_csv(folder / "draws.csv")
    assert list(draws.columns[:3]) == ["draw", "posterior_row", RR], list(draws.columns)
    for i, row in zip(draws["draw"], draws["posterior_row"], strict=True):
        found = (draws.at[i, RR], draws.at[i, DIVERT])
        # read back from text: equal to the last bits only with the round-trip parser, so to 1e-12
        assert found == pytest.approx(ROWS[row], rel=1e-12), f"draw {i}: expected the values of posterior row {row}, {ROWS[row]}; found {found}"
    counts = draws["posterior_row"].value_counts()
    assert sorted(counts) == [2, 2, 3], f"7 draws over 3 rows: each row 2 or 3 times; found {counts.to_dict()}"
    assert list(draws["posterior_row"]) == list(PO.assign_rows(3, 7, 20190122)), "rows as documented (run.seed)"
    # every other uncertain parameter is drawn exactly as without --posterior
    base = load(TINY).base
    plain = P.generate_draws(base.uncertainty, 7, base.run.seed, base)
    others = [c for c in plain.columns if c not in ("draw", RR)]
    pd.testing.assert_frame_equal(draws[others], plain[others], check_exact=False, rtol=1e-12, atol=0)
    psa = pd.read_csv(folder / "psa.csv")
    merged = psa.merge(draws[["draw", RR, DIVERT]], on="draw", suffixes=("", "_drawn"))
    for col in (RR, DIVERT):
        np.testing.assert_allclose(merged[col], merged[f"{col}_drawn"], rtol=1e-12, atol=0, err_msg=col)
    manifest = json.loads((folder / "manifest.json").read_text())
    digest = hashlib.sha256(posterior.read_bytes()).hexdigest()
    assert manifest["options"]["posterior"]["sha256"] == digest and manifest["options"]["posterior"]["rows"] == 3
    assert manifest["input_files"][str(posterior.resolve())] == digest


def test_same_seed_same_posterior_same_results_with_one_or_two_workers(posterior, tmp_path):
    args = ["psa", TINY, "--posterior", posterior.parent, "--draws", 5, "--seed", 7]
    one = invoke(*args, "--jobs", 1, "--out", tmp_path / "one")
    two = invoke(*args, "--jobs", 2, "--out", tmp_path / "two")
    assert one.exit_code == 0 and two.exit_code == 0, describe(one) + describe(two)
    for name in ("draws.csv", "psa.csv"):
        a, b = (run_folder(tmp_path / d) / name for d in ("one", "two"))
        assert a.read_bytes() == b.read_bytes(), f"{name} differs between --jobs 1 and --jobs 2"


def test_row_rule_is_balanced_and_independent_of_the_number_of_draws():
    assert sorted(PO.assign_rows(5, 5, 1)) == list(range(5)), "as many draws as rows: every row once"
    few = PO.assign_rows(50, 10, 1)
    assert len(set(few)) == 10, "fewer draws than rows: no row twice"
    many = PO.assign_rows(4, 103, 1)
    assert np.bincount(many).tolist() in ([26, 26, 26, 25], [26, 26, 25, 26], [26, 25, 26, 26], [25, 26, 26, 26])
    assert (PO.assign_rows(4, 40, 1) == many[:40]).all(), "draw i must not depend on the number of draws"
    assert not (PO.assign_rows(4, 40, 2) == many[:40]).all(), "another seed, other rows"


BAD = {
    "missing": (None, "no such file or folder"),
    "empty": ("", "the file is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "not a CSV text file"),
    "not_csv": ("name: demo\nrun:\n  seed: 1\n", "is not a scenario key"),
    "no_parameters": ("draw,weight\n0,1\n", "no parameter columns"),
    "unknown_key": ("draw,lead.rr_contact_engagd,weight\n0,0.5,1\n", "did you mean rr_contact_engaged"),
    "rejected_value": (f"draw,{RR},{DIVERT},weight\n0,0.5,0.5,1\n1,0.5,1.4,1\n",
                       f"row 1 (line 3), arm usual_processing: {DIVERT}: expected less than or equal to 1; found 1.4"),
    "not_a_number": (f"{RR}\n0.5\nabout half\n", f"row 1 (line 3), column {RR}: expected a number"),
    "negative_weight": (f"{RR},weight\n0.5,1\n0.6,-0.1\n", "row 1 (line 3), column weight: expected a weight >= 0"),
    "zero_weights": (f"{RR},weight\n0.5,0\n0.6,0\n", "every weight is 0"),
    "header_only": (f"draw,{RR},weight\n", "a header but no rows"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_posterior_is_one_line_and_exit_2(case, tmp_path):
    content, expected = BAD[case]
    path = tmp_path / "posterior.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    r = invoke("psa", TINY, "--posterior", path, "--draws", 3, "--jobs", 1, "--out", tmp_path / "out")
    assert r.exit_code == 2, describe(r)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], describe(r)
    assert "Traceback" not in r.output and not (tmp_path / "out").exists(), "a refused run leaves no folder"


def test_resume_refuses_another_posterior(posterior, tmp_path):
    out = tmp_path / "out"
    r = invoke("psa", TINY, "--set", "uncertainty=null", "--posterior", posterior, "--jobs", 1, "--out", out)
    assert r.exit_code == 0, describe(r)
    folder = run_folder(out)
    draws = pd.read_csv(folder / "draws.csv")
    assert list(draws.columns) == ["draw", "posterior_row", RR, DIVERT], "no uncertainty section: only the posterior"
    assert sorted(draws["posterior_row"]) == [0, 1, 2], "default --draws: every posterior row once"
    expected = (folder / "psa.csv").read_bytes()
    interrupted = folder.with_name(folder.name + INCOMPLETE_SUFFIX)
    folder.rename(interrupted)  # as a run killed before its end leaves it (every simulation checkpointed)
    other = tmp_path / "other.csv"
    other.write_text(POSTERIOR.replace("0.333", "0.334"), encoding="utf-8")
    refused = invoke("psa", "--resume", interrupted, "--posterior", other, "--jobs", 1)
    assert refused.exit_code == 2 and "not the posterior this run was started with" in refused.stderr, describe(refused)
    assert not folder.exists() and interrupted.exists(), "a refused resume must leave the folder as it was"
    same = invoke("psa", "--resume", interrupted, "--posterior", posterior.parent, "--jobs", 1)
    assert same.exit_code == 0, describe(same)
    assert (folder / "psa.csv").read_bytes() == expected, "the resumed run must give the same psa.csv"


@pytest.mark.slow
def test_calibrate_sir_then_psa_with_its_posterior(tmp_path):
    demo = ROOT / "scenarios" / "demo.yaml"
    small = ["--set", "population.initial_people=160", "--set", "population.arrivals_per_year=32",
             "--set", "run.warmup_days=180", "--set", "run.end_date=2020-06-30"]
    cal = invoke("calibrate", demo, *small, "--param", f"{RR}=0.3:1", "--param", "lead.p_referral_declined=0.01:0.1",
                 "--method", "sir", "--budget", 8, "--posterior-size", 6, "--reps", 1, "--jobs", 1, "--out", tmp_path / "cal")
    assert cal.exit_code == 0, describe(cal)
    cal_dir = next((tmp_path / "cal" / "demo").iterdir())
    posterior = pd.read_csv(cal_dir / "posterior.csv")
    assert list(posterior.columns) == ["draw", RR, "lead.p_referral_declined", "prior_importance_weight"]
    assert "Sobol" not in cal.stderr, "a budget that is not a power of 2 is allowed without a warning"
    r = invoke("psa", demo, *small, "--arm", "lead_pilot", "--posterior", cal_dir, "--reps", 1, "--jobs", 1,
               "--out", tmp_path / "psa")
    assert r.exit_code == 0, describe(r)
    draws = pd.read_csv(next((tmp_path / "psa" / "demo").iterdir()) / "draws.csv")
    assert len(draws) == len(posterior) == 6
    used = posterior.loc[draws["posterior_row"], [RR, "lead.p_referral_declined"]].to_numpy()
    assert np.array_equal(draws[[RR, "lead.p_referral_declined"]].to_numpy(), used), "draws must be the posterior's sets"
