"""Interrupted, concurrent and refused runs: the run folder is complete or clearly marked incomplete.

A run folder is *complete* when its name does not end in ``.incomplete``. Whatever happens to a
run (Ctrl-C, SIGTERM, SIGKILL at any point, a full disk, an unwritable folder, another run
started at the same moment into the same folder), no folder may look complete unless every
file is in it, and no run may overwrite another's results.

The kill tests start a real ``python -m lead_sim compare`` in its own process group, wait for
the progress bar, and kill it; the group is killed again at teardown so no worker outlives the
test.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import lead_sim.runs.output as output
from lead_sim.cli.main import main
from lead_sim.runs import experiment
from lead_sim.runs.output import INCOMPLETE_SUFFIX, OutputError, RunFolder

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.yaml"
SMALL = [
    "--set", "population.initial_people=120",
    "--set", "population.arrivals_per_year=24",
    "--set", "run.end_date=2020-06-30",
]  # fmt: skip
#: files every complete compare folder holds (more may be added by other commands' options)
CORE_FILES = {"scenario.resolved.yaml", "manifest.json", "metrics.csv", "summary.csv", "comparison.csv"}


# ---- helpers ---------------------------------------------------------------------------------------


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def describe(result: Result) -> str:
    return f"exit {result.exit_code}\n--- stdout:\n{result.stdout}\n--- stderr:\n{result.stderr}\n--- exception: {result.exception!r}"


def run_folders(out: Path, scenario: str = "demo") -> tuple[list[Path], list[Path]]:
    """(complete, incomplete) run folders under ``out/<scenario>``."""
    parent = out / scenario
    entries = sorted(parent.iterdir()) if parent.exists() else []
    incomplete = [p for p in entries if p.name.endswith(INCOMPLETE_SUFFIX)]
    complete = [p for p in entries if not p.name.endswith(INCOMPLETE_SUFFIX)]
    return complete, incomplete


def assert_complete(folder: Path) -> None:
    """A folder that looks complete must hold every core file, the manifest readable."""
    names = {p.name for p in folder.iterdir()}
    missing = CORE_FILES - names
    assert not missing, f"{folder} looks complete but lacks {sorted(missing)}; found {sorted(names)}"
    json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name in ("summary.csv", "comparison.csv", "metrics.csv"):
        assert len(pd.read_csv(folder / name)) > 0, f"{folder / name} is empty"


def assert_no_complete_folder(out: Path, expect_incomplete: int = 1) -> None:
    complete, incomplete = run_folders(out)
    assert not complete, f"expected no complete run folder after an interrupted run; found {[p.name for p in complete]}"
    assert len(incomplete) == expect_incomplete, (
        f"expected {expect_incomplete} folder(s) marked {INCOMPLETE_SUFFIX}; found {[p.name for p in incomplete]}"
    )


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def live_processes_in_group(pgid: int) -> list[str]:
    """Processes of a process group that are still running (zombies waiting to be reaped do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces, so split after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            found.append(f"{entry.name} ({state})")
    return found


def _interruptible() -> None:
    """In the child, before exec: Ctrl-C acts as it does in a terminal. A shell that starts the
    tests in the background (``.ci/run &``) leaves SIGINT ignored, and Python then never turns
    it into KeyboardInterrupt: the Ctrl-C tests would see the run finish instead."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class CliProcess:
    """``python -m lead_sim ARGS`` in its own process group; stderr goes to a file we can poll."""

    def __init__(self, tmp_path: Path, *args: object, prelude: str | None = None, label: str = "run"):
        self.stderr_path = tmp_path / f"{label}.stderr"
        self.stdout_path = tmp_path / f"{label}.stdout"
        if prelude is None:
            cmd = [sys.executable, "-m", "lead_sim", *map(str, args)]
        else:
            code = prelude + "\nfrom lead_sim.cli.main import main\nmain(sys.argv[1:], prog_name='lead-sim')\n"
            cmd = [sys.executable, "-c", code, *map(str, args)]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=python_env(), stdout=out, stderr=err,
                                         start_new_session=True, preexec_fn=_interruptible)
        self.pgid = self.proc.pid

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_for_stderr(self, fragment: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while fragment not in self.stderr:
            if self.proc.poll() is not None:
                raise AssertionError(f"process ended (exit {self.proc.returncode}) before printing {fragment!r}:\n"
                                     f"{self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {fragment!r} on stderr within {timeout} s; found {self.stderr!r}")
            time.sleep(0.02)

    def wait(self, timeout: float = 120.0) -> int:
        return self.proc.wait(timeout=timeout)

    def kill_group(self) -> None:
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - nothing more we can do
            pass


@pytest.fixture
def processes():
    """Every CliProcess a test starts is killed (its whole group) at teardown."""
    started: list[CliProcess] = []
    yield started
    for p in started:
        p.kill_group()


# ---- a real compare, killed after the progress bar starts --------------------------------------------------

KILLS = [
    pytest.param(signal.SIGINT, True, 0.3, id="ctrl-c-to-the-process-group"),
    pytest.param(signal.SIGINT, False, 0.3, id="sigint-to-the-main-process"),
    pytest.param(signal.SIGTERM, False, 0.3, id="sigterm"),
    pytest.param(signal.SIGKILL, False, 0.3, id="sigkill"),
    pytest.param(signal.SIGKILL, False, 0.0, id="sigkill-as-the-bar-appears"),
]


@pytest.mark.parametrize(("sig", "to_group", "delay"), KILLS)
def test_killed_compare_leaves_only_an_incomplete_folder(tmp_path, processes, sig, to_group, delay):
    out = tmp_path / "out"
    run = CliProcess(tmp_path, "compare", DEMO, "--reps", 30, "--jobs", 2, "--out", out)
    processes.append(run)
    run.wait_for_stderr("simulating")
    time.sleep(delay)
    assert run.proc.poll() is None, f"the run ended before it could be killed:\n{run.stderr}"
    (os.killpg if to_group else os.kill)(run.pgid, sig)
    code = run.wait(timeout=60)
    if sig == signal.SIGINT:
        assert code == 130, f"expected exit 130 after Ctrl-C; found {code}\n{run.stderr}"
        assert "interrupted: partial results left in" in run.stderr and INCOMPLETE_SUFFIX in run.stderr, run.stderr
    else:
        assert code == -sig, f"expected death by signal {sig.name}; found exit {code}\n{run.stderr}"
    assert "Traceback" not in run.stderr, f"a traceback was printed:\n{run.stderr}"
    assert_no_complete_folder(out)
    # no worker process may outlive its run (a killed parent cannot shut its pool down)
    deadline = time.monotonic() + 5.0
    while live_processes_in_group(run.pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = live_processes_in_group(run.pgid)
    assert not left, f"expected no process of the killed run left after 5 s; found {left}"


# ---- killed at each step of writing the results ----------------------------------------------------------------

#: counts the RunFolder writes (write_json writes through write_text) and the commit; SIGKILLs
#: itself just before step KILL_AT (0: never) or, with a negative KILL_AT, just after commit
KILL_AT_PRELUDE = textwrap.dedent("""
    import os, signal, sys
    import lead_sim.runs.output as out
    kill_at = int(os.environ["KILL_AT"])
    steps = []
    def wrap(name, f):
        def step(self, *args, **kwargs):
            steps.append(name)
            sys.stderr.write(f"step {len(steps)}: {name}\\n"); sys.stderr.flush()
            if len(steps) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            result = f(self, *args, **kwargs)
            if name == "commit" and kill_at < 0:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return step
    for name in ("write_text", "write_csv", "write_parquet", "commit"):
        setattr(out.RunFolder, name, wrap(name, getattr(out.RunFolder, name)))
""")


def run_killed_at(tmp_path: Path, processes: list, kill_at: int) -> tuple[int, Path, CliProcess]:
    out = tmp_path / f"out-{kill_at}"
    run = CliProcess(tmp_path, "compare", DEMO, "--reps", 1, "--jobs", 1, "--out", out, *SMALL,
                     prelude="import sys\n" + KILL_AT_PRELUDE.replace('os.environ["KILL_AT"]', repr(str(kill_at))),
                     label=f"kill-at-{kill_at}")
    processes.append(run)
    return run.wait(timeout=120), out, run


def write_steps(tmp_path: Path, processes: list) -> list[str]:
    code, out, run = run_killed_at(tmp_path, processes, 0)
    assert code == 0, f"the uninterrupted run failed (exit {code}):\n{run.stderr}"
    complete, incomplete = run_folders(out)
    assert len(complete) == 1 and not incomplete, f"expected one complete folder; found {complete + incomplete}"
    assert_complete(complete[0])
    steps = [line.split(": ", 1)[1] for line in run.stderr.splitlines() if line.startswith("step ")]
    assert steps and steps[-1] == "commit", f"expected the writes to end with commit; found {steps}"
    return steps


def check_killed_at(tmp_path: Path, processes: list, kill_at: int, steps: list[str]) -> None:
    code, out, run = run_killed_at(tmp_path, processes, kill_at)
    assert code == -signal.SIGKILL, f"kill at step {kill_at}: expected death by SIGKILL; found exit {code}\n{run.stderr}"
    complete, incomplete = run_folders(out)
    if kill_at < 0:  # after the rename: the folder is complete, and whole
        assert len(complete) == 1 and not incomplete, f"killed after commit: found {complete + incomplete}"
        assert_complete(complete[0])
    else:
        assert not complete, (
            f"killed before step {kill_at} ({steps[kill_at - 1]}): expected no complete folder; found {complete}"
        )
        assert len(incomplete) == 1, f"killed before step {kill_at}: expected one incomplete folder; found {incomplete}"


def test_killed_while_writing_first_last_and_after_commit(tmp_path, processes):
    steps = write_steps(tmp_path, processes)
    for kill_at in (1, len(steps), -1):  # before the first file, just before the rename, just after it
        check_killed_at(tmp_path, processes, kill_at, steps)


@pytest.mark.slow
def test_killed_before_every_write_step(tmp_path, processes):
    steps = write_steps(tmp_path, processes)
    for kill_at in range(1, len(steps) + 1):
        check_killed_at(tmp_path, processes, kill_at, steps)


@pytest.fixture
def count_writes(monkeypatch):
    """Make RunFolder raise ``exc`` at write step ``at`` (counting write_* and commit calls)."""
    state = {"at": 0, "exc": None, "steps": []}
    for name in ("write_text", "write_csv", "write_parquet", "commit"):
        original = getattr(RunFolder, name)

        def step(self, *args, _name=name, _original=original, **kwargs):
            state["steps"].append(_name)
            if len(state["steps"]) == state["at"]:
                raise state["exc"]
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(RunFolder, name, step)
    return state


def test_ctrl_c_at_every_write_step_leaves_an_incomplete_folder(tmp_path, count_writes):
    base = invoke("compare", DEMO, "--reps", 1, "--jobs", 1, "--out", tmp_path / "full", *SMALL)
    assert base.exit_code == 0, describe(base)
    n_steps = len(count_writes["steps"])
    assert count_writes["steps"][-1] == "commit", count_writes["steps"]
    for at in range(1, n_steps + 1):
        count_writes.update(at=at, exc=KeyboardInterrupt(), steps=[])
        out = tmp_path / f"out-{at}"
        result = invoke("compare", DEMO, "--reps", 1, "--jobs", 1, "--out", out, *SMALL)
        assert result.exit_code == 130, f"Ctrl-C at write step {at}: expected exit 130; found {describe(result)}"
        assert "interrupted: partial results left in" in result.stderr, describe(result)
        assert_no_complete_folder(out)


def test_failed_write_leaves_an_incomplete_folder(tmp_path, count_writes):
    count_writes.update(at=3, exc=OSError(28, "No space left on device"))
    out = tmp_path / "out"
    result = invoke("compare", DEMO, "--reps", 1, "--jobs", 1, "--out", out, *SMALL)
    assert result.exit_code != 0, f"expected a failed run; found {describe(result)}"
    assert_no_complete_folder(out)


def test_failed_write_is_a_clear_error_without_traceback(tmp_path, count_writes):
    count_writes.update(at=3, exc=OSError(28, "No space left on device"))
    out = tmp_path / "out"
    result = invoke("compare", DEMO, "--reps", 1, "--jobs", 1, "--out", out, *SMALL)
    assert result.exit_code == 3, f"expected exit 3; found {describe(result)}"
    assert isinstance(result.exception, SystemExit), f"expected a clean exit; found {result.exception!r}"
    assert "No space left on device" in result.stderr and INCOMPLETE_SUFFIX in result.stderr, describe(result)


# ---- refused before any simulation starts ---------------------------------------------------------------------------


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if a simulation starts."""

    def boom(*args, **kwargs):
        raise AssertionError("a simulation started although the output folder was refused")

    monkeypatch.setattr(experiment, "run_experiment", boom)
    monkeypatch.setattr(experiment, "run_group", boom)


def test_full_disk_is_refused_before_simulating(tmp_path, monkeypatch, no_simulation):
    usage = collections.namedtuple("usage", "total used free")
    free = 3 * 1024**2
    monkeypatch.setattr(output.shutil, "disk_usage", lambda path: usage(10 * 1024**3, 10 * 1024**3 - free, free))
    out = tmp_path / "out"
    result = invoke("compare", DEMO, "--reps", 2, "--jobs", 1, "--out", out, *SMALL)
    assert result.exit_code == 3, f"expected exit 3; found {describe(result)}"
    assert isinstance(result.exception, SystemExit), describe(result)
    line = result.stderr.strip()
    for fragment in ("error: not enough free space", str(out / "demo"), "3.0 MB free", "50 MB needed"):
        assert fragment in line, f"expected {fragment!r} in the error; found {line!r}"
    assert "Traceback" not in result.stderr
    assert not (out / "demo").exists(), f"no run folder should be created; found {list((out / 'demo').iterdir())}"


def test_enough_disk_is_accepted(tmp_path, monkeypatch):
    usage = collections.namedtuple("usage", "total used free")
    calls = []

    def fake(path):
        calls.append(Path(path))
        return usage(10 * 1024**3, 0, output.MIN_FREE_BYTES)

    monkeypatch.setattr(output.shutil, "disk_usage", fake)
    folder = RunFolder(tmp_path / "out", "demo")
    assert folder.path.is_dir() and folder.path.name.endswith(INCOMPLETE_SUFFIX)
    assert calls and calls[0] == tmp_path, f"expected the free space of the nearest existing folder {tmp_path}; found {calls}"


def test_unwritable_output_folder_is_refused_before_simulating(tmp_path, monkeypatch, no_simulation):
    out = tmp_path / "out"
    real_mkdir = Path.mkdir

    def denied(self, *args, **kwargs):
        if str(self).startswith(str(out)):
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", denied)
    result = invoke("compare", DEMO, "--reps", 2, "--jobs", 1, "--out", out, *SMALL)
    assert result.exit_code == 3, f"expected exit 3; found {describe(result)}"
    assert result.stderr.startswith(f"error: cannot write to output folder {out / 'demo'}: Permission denied"), describe(result)
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write to a read-only folder")
def test_read_only_output_folder_is_refused_before_simulating(tmp_path, no_simulation):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = invoke("compare", DEMO, "--reps", 2, "--jobs", 1, "--out", out, *SMALL)
    finally:
        out.chmod(0o700)
    assert result.exit_code == 3, f"expected exit 3; found {describe(result)}"
    assert "error: cannot write to output folder" in result.stderr, describe(result)


# ---- names: unique per run, never outside the output folder ---------------------------------------------------------


@pytest.mark.parametrize("name", ["../escape", "..", ".", "<absolute>", "a/b", "a\\b", ""])
def test_scenario_name_cannot_leave_the_output_folder(tmp_path, name):
    out = tmp_path / "inside" / "out"
    if name == "<absolute>":
        name = str(tmp_path / "absolute-escape")
    with pytest.raises(OutputError) as info:
        RunFolder(out, name)
    assert "would put results outside" in str(info.value), f"expected a clear refusal; found {info.value}"
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert created == [], f"expected nothing created; found {created}"


@pytest.mark.parametrize("name", ["../../escape", "/tmp/escape", "a/b"])
def test_scenario_name_with_a_path_is_a_validation_error(tmp_path, name):
    out = tmp_path / "out"
    result = invoke("compare", DEMO, "--reps", 1, "--jobs", 1, "--out", out, "--set", f"name={name}")
    assert result.exit_code == 2, f"expected exit 2; found {describe(result)}"
    assert result.stderr.startswith("error: --set: name: "), describe(result)
    assert "Traceback" not in result.stderr
    assert not out.exists(), "no output folder should be created for an invalid name"


def test_same_run_id_is_never_reused(tmp_path, monkeypatch):
    """Two runs that draw the same timestamp and id get different folders, complete or not."""

    class FrozenClock:
        class datetime:
            @staticmethod
            def now():
                import datetime as real

                return real.datetime(2026, 1, 2, 3, 4, 5)

    tokens = iter(["aaaaaa", "aaaaaa", "bbbbbb", "aaaaaa", "cccccc"])
    monkeypatch.setattr(output, "dt", FrozenClock)
    monkeypatch.setattr(output.secrets, "token_hex", lambda n: next(tokens))
    out = tmp_path / "out"
    first = RunFolder(out, "demo")
    second = RunFolder(out, "demo")  # "aaaaaa" is taken (incomplete): draws again
    assert first.path.name == "20260102-030405-aaaaaa.incomplete", first.path
    assert second.path.name == "20260102-030405-bbbbbb.incomplete", second.path
    first.write_text("summary.csv", "first\n")
    first.commit()
    third = RunFolder(out, "demo")  # "aaaaaa.incomplete" is free again, but "aaaaaa" is complete: draws again
    assert third.final.name == "20260102-030405-cccccc", f"expected a fresh name; found {third.final}"
    third.write_text("summary.csv", "third\n")
    third.commit()
    assert (first.final / "summary.csv").read_text() == "first\n", "the first run's results were overwritten"
    assert sorted(p.name for p in (out / "demo").iterdir()) == [
        "20260102-030405-aaaaaa", "20260102-030405-bbbbbb.incomplete", "20260102-030405-cccccc",
    ]


def test_two_runs_started_together_into_one_folder_keep_their_own_results(tmp_path, processes):
    out = tmp_path / "out"
    runs = {}
    for seed in (11, 12):
        runs[seed] = CliProcess(tmp_path, "compare", DEMO, "--reps", 2, "--jobs", 1, "--seed", seed, "--out", out,
                                "--format", "json", *SMALL, label=f"seed-{seed}")
        processes.append(runs[seed])
    for seed, run in runs.items():
        code = run.wait(timeout=180)
        assert code == 0, f"run with seed {seed} failed (exit {code}):\n{run.stderr}"
    complete, incomplete = run_folders(out)
    assert len(complete) == 2 and not incomplete, f"expected two complete folders; found {complete + incomplete}"
    summaries = {}
    for seed, run in runs.items():
        folder = Path(json.loads(run.stdout)["run_dir"])
        if not folder.is_absolute():
            folder = ROOT / folder
        assert folder in complete, f"seed {seed}: run_dir {folder} is not one of {complete}"
        assert_complete(folder)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["seed"] == seed, f"{folder}: expected the manifest of seed {seed}; found seed {manifest['seed']}"
        summaries[seed] = (folder / "summary.csv").read_bytes()
    assert summaries[11] != summaries[12], "the two runs' summaries should differ (different seeds)"


def test_every_file_is_on_disk_before_the_folder_is_renamed_complete(tmp_path, monkeypatch):
    """A power cut after the rename must not find complete-looking folders with empty files:
    commit() fsyncs every file (and the folders) before os.replace, and the parent after it."""
    folder = RunFolder(tmp_path / "out", "demo")
    folder.write_csv("summary.csv", pd.DataFrame({"a": [1, 2]}))
    folder.write_json("manifest.json", {"x": 1})
    (folder.path / "sub").mkdir()
    (folder.path / "sub" / "fit.png").write_bytes(b"png")
    log: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        log.append("fsync " + os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(a, b):
        log.append("replace")
        real_replace(a, b)

    if not Path("/proc/self/fd").exists():
        pytest.skip("needs /proc to name file descriptors")
    monkeypatch.setattr(output.os, "fsync", fsync)
    monkeypatch.setattr(output.os, "replace", replace)
    final = folder.commit()
    cut = log.index("replace")
    synced_before = {Path(x.split(" ", 1)[1]).name for x in log[:cut]}
    assert {"summary.csv", "manifest.json", "fit.png", folder.path.name, "sub"} <= synced_before, log
    assert log[cut + 1:] == [f"fsync {final.parent}"], log


def test_a_worker_whose_parent_died_before_it_started_watching_ends():
    # a pool worker is told its parent's pid (branching.exit_when_orphaned, given as the pool's initializer); if the
    # parent was killed while the worker started, the worker is re-parented before it starts
    # watching, so only the parent's absence can tell it to end, not a change of parent
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid now names no process
    code = ("import sys, time\nfrom lead_sim.runs.branching import exit_when_orphaned\n"
            f"exit_when_orphaned({dead.pid}, poll_seconds=0.05)\ntime.sleep(30)\n")
    t0 = time.monotonic()
    worker = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=python_env(), timeout=60)
    assert worker.returncode == 1, f"expected the watcher to end the process (exit 1); found {worker.returncode}"
    assert time.monotonic() - t0 < 20, "the watcher took too long to notice"
