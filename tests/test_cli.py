"""The command line: exit codes, clear errors without tracebacks, run folders and reproducibility.

Runs go through click's ``CliRunner`` into ``tmp_path``; the demo scenario is shrunk further with
``--set`` (and two replications) wherever the full demo is not the point of the test.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result

from lead_sim.cli.main import main
from lead_sim.scenario.loading import load

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
DEMO = SCENARIOS / "demo.yaml"
ARMS = ["usual_processing", "lead_pilot", "lead_continued"]
COMPARATOR = "usual_processing"
SMALL = [
    "--set", "population.initial_people=200",
    "--set", "population.arrivals_per_year=40",
    "--set", "run.end_date=2020-06-30",
]  # fmt: skip
SUMMARY_COLUMNS = ["arm", "metric", "mean", "ci_low", "ci_high", "reps"]
COMPARISON_COLUMNS = ["metric", "comparator", "arm", "comparator_mean", "arm_mean", "difference", "ci_low", "ci_high"]


# ---- helpers ---------------------------------------------------------------------------------------


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def describe(result: Result) -> str:
    return f"exit {result.exit_code}\n--- stdout:\n{result.stdout}\n--- stderr:\n{result.stderr}"


def assert_ok(result: Result) -> None:
    assert result.exit_code == 0, f"expected exit 0; found {describe(result)}"


def assert_clean_failure(result: Result, code: int = 2) -> None:
    """Failed with ``code`` through sys.exit (not an uncaught exception) and printed no traceback."""
    assert result.exit_code == code, f"expected exit {code}; found {describe(result)}"
    assert isinstance(result.exception, SystemExit), f"expected a clean exit; found {result.exception!r}"
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream, f"a traceback was printed: {describe(result)}"


def run_folder(out: Path, scenario: str = "demo") -> Path:
    """The single, complete run folder under ``out/<scenario>/``."""
    folders = sorted((out / scenario).iterdir())
    incomplete = [f.name for f in folders if f.name.endswith(".incomplete")]
    assert not incomplete, f"expected no incomplete run folders; found {incomplete}"
    assert len(folders) == 1, f"expected one run folder; found {[f.name for f in folders]}"
    assert folders[0].is_dir()
    return folders[0]


def read_bytes(folder: Path, *names: str) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in names}


def write_bad_scenario(tmp_path: Path) -> Path:
    doc = yaml.safe_load((SCENARIOS / "denver_pilot.yaml").read_text(encoding="utf-8"))
    doc["population"]["p_female"] = 1.5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


# ---- validate ------------------------------------------------------------------------------------------


def test_validate_good_files():
    files = [SCENARIOS / n for n in ("denver_pilot.yaml", "demo.yaml", "citywide.yaml")]
    result = invoke("validate", *files)
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert len(lines) == 3, f"expected one line per file; found {lines}"
    for path, line in zip(files, lines, strict=True):
        assert line.startswith(f"ok: {path} (scenario {path.stem}; arms: usual_processing, lead_pilot"), line
    assert "lead_all_districts" in lines[2], f"citywide's extra arm is not listed: {lines[2]!r}"
    assert result.stderr == "", f"expected nothing on stderr; found {result.stderr!r}"


def test_validate_bad_file(tmp_path):
    bad = write_bad_scenario(tmp_path)
    result = invoke("validate", DEMO, bad)
    assert_clean_failure(result, 2)
    expected = f"error: {bad}: population.p_female: expected less than or equal to 1; found 1.5"
    assert expected in result.stderr.splitlines(), f"expected the line {expected!r}; found {describe(result)}"
    assert "1 of 2 file(s) invalid" in result.stderr
    assert result.stdout.startswith(f"ok: {DEMO} "), "the good file should still be reported ok"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n\xff\xfe", "not a text file", id="binary"),
        pytest.param(b"name: a\nrun: [1\n", "not valid YAML", id="syntax"),
        pytest.param(b"", "file is empty", id="empty"),
    ],
)
def test_validate_unreadable_file(tmp_path, content, fragment):
    path = tmp_path / "odd.yaml"
    path.write_bytes(content)
    result = invoke("validate", path)
    assert_clean_failure(result, 2)
    assert result.stderr.startswith(f"error: {path}: "), describe(result)
    assert fragment in result.stderr, f"expected {fragment!r}; found {describe(result)}"


def test_validate_with_bad_set():
    result = invoke("validate", DEMO, "--set", "lead.case_managers=-1")
    assert_clean_failure(result, 2)
    assert "error: --set: lead.case_managers: expected a number >= 0, found -1" in result.stderr, describe(result)


# ---- compare on the demo, as a user would run it -----------------------------------------------------


@pytest.fixture(scope="module")
def demo_compare(tmp_path_factory) -> tuple[Result, Path, Path]:
    """``lead-sim compare scenarios/demo.yaml --reps 2 --jobs 1 --out <tmp>``: result, out, run folder."""
    out = tmp_path_factory.mktemp("out")
    result = invoke("compare", DEMO, "--reps", "2", "--jobs", "1", "--out", out)
    assert_ok(result)
    return result, out, run_folder(out)


def test_compare_prints_table(demo_compare):
    """The default print: the headline, then the compact table (its own tests: tests/test_headline.py)."""
    result, _, folder = demo_compare
    assert result.stdout.startswith("LEAD pilot against usual processing, "), describe(result)
    lines = result.stdout.splitlines()
    header = lines[next(i for i, line in enumerate(lines) if "minus usual processing" in line) - 1]
    for arm in ("LEAD pilot", "LEAD continued"):
        assert arm in header, f"expected arm {arm} in the table header; found {header!r}"
    assert "scenario demo: 3 arm(s), 2 paired replications, seed 20190122" in result.stdout, describe(result)
    assert "over 2 replications only" in " ".join(result.stdout.split()), "the reader is told what the intervals are"
    assert f"results: {folder}" in result.stdout


def test_compare_all_prints_the_full_table(tmp_path):
    result = invoke("compare", DEMO, "--reps", "2", "--jobs", "1", "--out", tmp_path, "--all", *SMALL)
    assert_ok(result)
    folder = run_folder(tmp_path)
    header = next(line for line in result.stdout.splitlines() if line.startswith("metric"))
    for arm in ARMS:
        assert arm in header, f"expected arm {arm} in the table header; found {header!r}"
    assert f"difference vs {COMPARATOR}" in result.stdout
    assert "few replications, so the intervals are wide" in result.stdout, "2 replications: the reader is warned"
    for metric in pd.read_csv(folder / "summary.csv")["metric"].unique():
        assert metric in result.stdout, f"metric {metric} missing from the table"


def test_compare_writes_complete_run_folder(demo_compare):
    _, out, folder = demo_compare
    assert folder.parent == out / "demo"
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", folder.name), f"expected <date>-<time>-<id>; found {folder.name!r}"
    for name in (
        "scenario.resolved.yaml",
        "manifest.json",
        "summary.csv",
        "comparison.csv",
        "events.parquet",
        "people.parquet",
    ):
        assert (folder / name).is_file(), (
            f"expected {name} in {folder}; found {sorted(p.name for p in folder.iterdir())}"
        )
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith(".incomplete") or p.name == ".write-test"]
    assert not leftovers, f"expected no leftovers; found {leftovers}"


def test_compare_manifest(demo_compare):
    _, _, folder = demo_compare
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 20190122, manifest["seed"]
    assert manifest["replications"] == 2, manifest["replications"]
    assert manifest["arms"] == ARMS
    versions = manifest["package_versions"]
    for pkg in ("python", "lead-sim", "simpy", "numpy", "pandas", "pydantic"):
        assert versions.get(pkg) not in (None, "", "not installed"), (
            f"package_versions[{pkg!r}] = {versions.get(pkg)!r}"
        )
    expected_inputs = {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in (DEMO, SCENARIOS / "denver_pilot.yaml")
    }
    assert manifest["input_files"] == expected_inputs, (
        f"expected sha256 of both inputs; found {manifest['input_files']}"
    )
    assert isinstance(manifest["wall_seconds"], int | float) and manifest["wall_seconds"] > 0, manifest["wall_seconds"]
    cmd = manifest["command_line"]
    assert isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd), f"command_line: {cmd!r}"


def test_compare_manifest_records_the_command_that_ran(demo_compare):
    _, _, folder = demo_compare
    cmd = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["command_line"]
    assert "compare" in cmd and "--reps" in cmd and str(DEMO) in cmd, f"expected the compare command; found {cmd}"


def test_compare_summary_csv(demo_compare):
    _, _, folder = demo_compare
    summary = pd.read_csv(folder / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS, f"found columns {list(summary.columns)}"
    assert list(summary["arm"].unique()) == ARMS
    per_arm = summary.groupby("arm")["metric"].apply(list)
    assert all(m == per_arm[COMPARATOR] for m in per_arm), "every arm should report the same metrics in order"
    assert set(summary["reps"]) <= {0, 2}, f"expected reps of 2 (or 0 where undefined); found {set(summary['reps'])}"
    ok = summary.dropna(subset=["ci_low", "ci_high"])
    assert (ok["ci_low"] <= ok["mean"]).all() and (ok["mean"] <= ok["ci_high"]).all(), "mean outside its interval"
    people = summary.set_index(["arm", "metric"])["mean"].xs("people", level="metric")
    assert people.nunique() == 1 and people.iloc[0] > 0, f"arms should see the same people; found {people.to_dict()}"


def test_compare_comparison_csv(demo_compare):
    _, _, folder = demo_compare
    comparison = pd.read_csv(folder / "comparison.csv")
    summary = pd.read_csv(folder / "summary.csv").set_index(["arm", "metric"])
    assert list(comparison.columns) == COMPARISON_COLUMNS, f"found columns {list(comparison.columns)}"
    assert set(comparison["comparator"]) == {COMPARATOR}
    assert list(comparison["arm"].unique()) == [a for a in ARMS if a != COMPARATOR]
    per_participant = comparison["metric"].str.contains("_per_participant")
    assert per_participant.any() and comparison.loc[per_participant, ["comparator_mean", "arm_mean"]].isna().all().all(), \
        "differences per LEAD participant have no value for one arm alone"
    for row in comparison[~per_participant].itertuples(index=False):
        assert row.arm_mean == pytest.approx(summary.loc[(row.arm, row.metric), "mean"], nan_ok=True)
        assert row.comparator_mean == pytest.approx(summary.loc[(COMPARATOR, row.metric), "mean"], nan_ok=True)
        # the CSV keeps 10 significant digits: the means' rounding bounds the difference's
        scale = max(1.0, abs(row.arm_mean), abs(row.comparator_mean)) if row.arm_mean == row.arm_mean else 1.0
        assert row.difference == pytest.approx(row.arm_mean - row.comparator_mean, rel=1e-6, abs=1e-9 * scale,
                                               nan_ok=True), (
            f"{row.arm} {row.metric}: difference {row.difference} != {row.arm_mean} - {row.comparator_mean}"
        )
    referrals = comparison.set_index(["arm", "metric"]).loc[("lead_continued", "lead_referrals"), "difference"]
    assert referrals > 0, f"LEAD should refer people that usual processing does not; found difference {referrals}"


def test_compare_event_tables(demo_compare):
    _, _, folder = demo_compare
    events = pd.read_parquet(folder / "events.parquet")
    people = pd.read_parquet(folder / "people.parquet")
    for col in ("person_id", "day", "event", "detail", "arm", "replication"):
        assert col in events.columns, f"events.parquet lacks {col}; has {list(events.columns)}"
    assert set(events["arm"]) == set(ARMS), f"expected events of every arm; found {set(events['arm'])}"
    assert set(events["replication"]) == {0}, "--keep-events first should keep replication 0 only"
    assert "police_contact" in set(events["event"])
    assert len(people) > 0 and "person_id" in people.columns


def test_compare_resolved_scenario(demo_compare):
    _, _, folder = demo_compare
    resolved = load(folder / "scenario.resolved.yaml")
    original = load(DEMO, ["run.replications=2"])
    assert resolved.base.name == "demo"
    assert resolved.base.run.replications == 2, "the resolved scenario should carry the --reps override"
    assert resolved.base.model_copy(update={"arms": {}}) == original.base.model_copy(update={"arms": {}})
    assert list(resolved.arms) == ARMS


# ---- formats and a single arm --------------------------------------------------------------------------


def test_compare_json(tmp_path):
    result = invoke("compare", DEMO, "--reps", "2", "--jobs", "1", "--out", tmp_path, "--format", "json", *SMALL)
    assert_ok(result)
    data = json.loads(result.stdout)
    assert data["scenario"] == "demo" and data["arms"] == ARMS and data["comparator"] == COMPARATOR
    assert data["replications"] == 2
    assert Path(data["run_dir"]) == run_folder(tmp_path)
    summary = pd.DataFrame(data["summary"])
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert list(summary["arm"].unique()) == ARMS
    comparison = pd.DataFrame(data["comparison"])
    assert list(comparison.columns) == COMPARISON_COLUMNS
    assert set(comparison["arm"]) == {"lead_pilot", "lead_continued"}


def test_compare_csv(tmp_path):
    result = invoke("compare", DEMO, "--reps", "2", "--jobs", "1", "--out", tmp_path, "--format", "csv", *SMALL)
    assert_ok(result)
    table = pd.read_csv(io.StringIO(result.stdout))
    expected = [*SUMMARY_COLUMNS, "difference", "difference_ci_low", "difference_ci_high"]
    assert list(table.columns) == expected, f"found columns {list(table.columns)}"
    summary = pd.read_csv(run_folder(tmp_path) / "summary.csv")
    pd.testing.assert_frame_equal(table[SUMMARY_COLUMNS].iloc[:len(summary)], summary, check_exact=False, rtol=1e-9,
                                  check_dtype=False)
    rest = table.iloc[len(summary):]
    assert rest["metric"].str.contains("_per_participant").all() and rest["mean"].isna().all(), \
        "then the differences per LEAD participant, which have no mean of one arm"
    assert table.loc[table["arm"] == COMPARATOR, "difference"].isna().all(), "the comparator has no difference"
    assert table.loc[table["arm"] != COMPARATOR, "difference"].notna().any()
    assert f"results: {run_folder(tmp_path)}" in result.stderr, "the run folder is named on stderr"


def test_compare_json_holds_the_subgroup_tables(tmp_path):
    result = invoke("compare", DEMO, "--reps", "2", "--jobs", "1", "--out", tmp_path, "--format", "json", "--by", "sex", *SMALL)
    assert_ok(result)
    data = json.loads(result.stdout)
    written = pd.read_csv(run_folder(tmp_path) / "summary_by_sex.csv")
    pd.testing.assert_frame_equal(pd.DataFrame(data["summary_by_sex"]), written, check_exact=False, rtol=1e-9,
                                  check_dtype=False)
    assert "comparison_by_sex" in data


def test_run_one_arm(tmp_path):
    result = invoke("run", DEMO, "--arm", "lead_pilot", "--reps", "2", "--jobs", "1", "--out", tmp_path, *SMALL)
    assert_ok(result)
    folder = run_folder(tmp_path)
    summary = pd.read_csv(folder / "summary.csv")
    assert set(summary["arm"]) == {"lead_pilot"}, f"expected only lead_pilot; found {set(summary['arm'])}"
    assert set(summary["reps"]) <= {0, 2}
    assert not (folder / "comparison.csv").exists(), "a single arm has nothing to compare"
    assert json.loads((folder / "manifest.json").read_text())["arms"] == ["lead_pilot"]
    assert "LEAD pilot" in result.stdout and "sual processing" not in result.stdout
    assert "difference vs" not in result.stdout


# ---- errors ------------------------------------------------------------------------------------------------


def test_run_unknown_arm(tmp_path):
    out = tmp_path / "out"
    result = invoke("run", DEMO, "--arm", "nobody", "--reps", "2", "--out", out)
    assert_clean_failure(result, 2)
    assert f"error: {DEMO}: --arm 'nobody' is not an arm of this scenario" in result.stderr, describe(result)
    assert str(ARMS) in result.stderr, f"expected the list of arms; found {describe(result)}"
    assert not out.exists(), "no run folder should be created for a bad --arm"


def test_out_under_a_regular_file(tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    result = invoke("compare", DEMO, "--reps", "2", "--jobs", "1", "--out", blocker / "runs", *SMALL)
    assert result.exit_code not in (0, 1), f"expected a handled failure; found {describe(result)}"
    assert_clean_failure(result, result.exit_code)
    assert result.stderr.startswith(f"error: cannot write to output folder {blocker / 'runs'}"), describe(result)
    assert blocker.read_text() == "not a folder"


def test_out_is_a_regular_file(tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    result = invoke("compare", DEMO, "--reps", "2", "--out", blocker)
    assert_clean_failure(result, 2)
    assert "--out" in result.stderr and "is a file" in result.stderr, describe(result)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param(
            "lead.case_managers=lots",
            "error: --set: lead.case_managers: expected a number, found 'lots'",
            id="bad-value",
        ),
        pytest.param(
            "lead.case_managers", "error: --set 'lead.case_managers': expected path.to.key=value", id="no-equals"
        ),
        pytest.param("lead.districts=[1, 9]", ("lead.districts", "[9]", "districts.shares"), id="cross-field"),
    ],
)
def test_compare_bad_set(tmp_path, override, message):
    out = tmp_path / "out"
    result = invoke("compare", DEMO, "--reps", "2", "--out", out, "--set", override)
    assert_clean_failure(result, 2)
    fragments = (message,) if isinstance(message, str) else message
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any(all(f in line for f in fragments) for line in lines), f"expected {fragments}; found {describe(result)}"
    assert not out.exists(), "no run folder should be created for an invalid scenario"


def test_compare_bad_scenario_file(tmp_path):
    bad = write_bad_scenario(tmp_path)
    result = invoke("compare", bad, "--reps", "2", "--out", tmp_path / "out")
    assert_clean_failure(result, 2)
    assert f"error: {bad}: population.p_female: expected less than or equal to 1; found 1.5" in result.stderr


def test_compare_missing_scenario_file(tmp_path):
    result = invoke("compare", tmp_path / "nowhere.yaml", "--out", tmp_path / "out")
    assert_clean_failure(result, 2)
    assert f"error: {tmp_path / 'nowhere.yaml'}: file not found" in result.stderr, describe(result)


# ---- reproducibility -----------------------------------------------------------------------------------------

RESULT_FILES = ("summary.csv", "comparison.csv", "metrics.csv")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Run the shrunk demo once per (label, seed, jobs) and return its result files' bytes."""
    cache: dict[tuple, dict[str, bytes]] = {}

    def run(label: str, seed: int, jobs: int) -> dict[str, bytes]:
        key = (label, seed, jobs)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"repro-{label}")
            result = invoke("compare", DEMO, "--reps", "2", "--seed", seed, "--jobs", jobs, "--out", out, *SMALL)
            assert_ok(result)
            cache[key] = read_bytes(run_folder(out), *RESULT_FILES)
        return cache[key]

    return run


def test_same_seed_gives_identical_results(small_run):
    first, second = small_run("a", 7, 1), small_run("b", 7, 1)
    for name in RESULT_FILES:
        assert first[name] == second[name], f"{name} differs between two runs with seed 7"


def test_worker_count_does_not_change_results(small_run):
    one, two = small_run("a", 7, 1), small_run("c", 7, 2)
    for name in RESULT_FILES:
        assert one[name] == two[name], f"{name} differs between --jobs 1 and --jobs 2"


def test_different_seed_changes_results(small_run):
    seven, eight = small_run("a", 7, 1), small_run("d", 8, 1)
    for name in RESULT_FILES:
        assert seven[name] != eight[name], f"{name} is identical for seeds 7 and 8"


# ---- the module entry point ------------------------------------------------------------------------------------


def test_python_m_lead_sim_help(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lead_sim", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"expected exit 0; found {proc.returncode}\n{proc.stderr}"
    for command in ("compare", "run", "validate"):
        assert command in proc.stdout, f"expected the {command} command in --help; found {proc.stdout}"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["compare", "psa"])
def test_a_simulation_process_killed_mid_run_is_reported(tmp_path, monkeypatch, command):
    """A forked simulation process that dies (as under the out-of-memory killer): exit 3, one line
    saying what happened and where the partial results are; the folder stays marked incomplete."""
    import os
    import signal

    from lead_sim.analysis import psa
    from lead_sim.runs import branching, experiment

    if not branching.can_fork():
        pytest.skip("simulations are not forked here")
    target = experiment if command == "compare" else psa
    name = "_task_result" if command == "compare" else "_summary"
    real, parent = getattr(target, name), os.getpid()

    def dies_in_a_child(*args):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args)

    monkeypatch.setattr(target, name, dies_in_a_child)
    extra = ["--draws", "3", "--reps", "1"] if command == "psa" else ["--reps", "1"]
    result = invoke(command, DEMO, *SMALL, *extra, "--jobs", "1", "--out", tmp_path)
    assert_clean_failure(result, code=3)
    assert "a simulation process died" in result.stderr and "killed by signal 9" in result.stderr
    assert [p.name.endswith(".incomplete") for p in (tmp_path / "demo").iterdir()] == [True]
