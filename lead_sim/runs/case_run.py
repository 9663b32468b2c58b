"""The resumable run of parameter cases (``lead-sim psa``, ``tornado``, ``sweep``): folder, plan, checkpoint.

A case run validates every case first (an invalid PSA draw or grid point stops it before any
simulation), then writes its inputs into a new run folder (``scenario.resolved.yaml``,
``plan.json``, the draws or cases: :func:`write_inputs`), simulates with checkpoints
(``checkpoint.jsonl``: :func:`simulate`), writes its results and the manifest, and only then
marks the folder complete (:func:`finish`). :func:`resume_run` picks up an interrupted folder
(``...incomplete``) from its own saved inputs.

What the cases are and how they are simulated belongs to the analysis (``analysis.psa``: its
``make_plan`` and ``execute``): this module knows a plan only by its tasks' keys and its
fingerprint (:class:`CasePlan`), and is handed the function that executes it. Nothing here
prints: problems are raised as exceptions with one line per problem (:class:`CaseRunError` and
``ScenarioError`` for what was asked, ``OutputError``, ``CheckpointError`` and
``SchedulerError`` for the folder and the cluster), warnings and progress go to callbacks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

import pandas as pd

from lead_sim.runs.checkpoint import LOCK as CHECKPOINT_LOCK
from lead_sim.runs.checkpoint import Checkpoint
from lead_sim.runs.executors import PROCESS_DIED, describe
from lead_sim.runs.experiment import default_jobs
from lead_sim.runs.output import OutputError, RunFolder, git_commit, lead_sim_version, manifest, sha256_file
from lead_sim.scenario.loading import LoadedScenario, load, resolved_yaml
from lead_sim.scenario.schema import Scenario

PLAN_FILE = "plan.json"


class CaseRunError(Exception):
    """What was asked of a case run cannot be done (a usage problem). ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        """``problems``: one line per problem."""
        super().__init__("\n".join(problems))
        self.problems = problems


class Stopped(Exception):
    """The simulations stopped before the end: ``cause`` is the KeyboardInterrupt (Ctrl-C) or the
    error of a worker process that died; ``where`` says what the checkpoint kept and how to go on."""

    def __init__(self, cause: BaseException, where: str):
        """``cause``: what stopped the simulations; ``where``: one line, the simulations saved and the resume command."""
        super().__init__(where)
        self.cause = cause
        self.where = where


class Task(Protocol):
    """One simulation of a plan, known here by its key (the checkpoint's key)."""

    @property
    def key(self) -> str:
        """The simulation's name in the checkpoint."""
        ...


class CasePlan(Protocol):
    """The distinct simulations of every case (``analysis.psa.Plan``), as far as the run folder needs them."""

    @property
    def tasks(self) -> Sequence[Task]:
        """Every distinct simulation, in plan order."""
        ...

    def fingerprint(self) -> str:
        """Short hash of the simulation keys: a saved run resumes with the same plan only if it matches."""
        ...


class Bar(Protocol):
    """A progress bar (``click.progressbar``): advanced by one for each finished simulation."""

    def update(self, n_steps: int) -> None:
        """Advance the bar by ``n_steps``."""
        ...


#: ``progress(label, simulations_to_run)``: a context manager around the simulations, giving the bar
Progress = Callable[[str, int], AbstractContextManager[Bar]]
#: ``execute(plan, jobs=, scheduler=, done=, on_result=)``: run the plan's tasks not in ``done``;
#: key -> result of every task (``analysis.psa.execute``)
Execute = Callable[..., dict[str, dict]]


class _NoBar:
    def update(self, n_steps: int) -> None:
        pass


def no_progress(_label: str, _todo: int) -> AbstractContextManager[Bar]:
    """A :data:`Progress` that shows nothing."""
    return nullcontext(_NoBar())


@dataclass
class Cases:
    """What a new case run simulates: each case's values, its label, the command's options (kept in
    plan.json and the manifest) and the paired replications per case."""

    values: list[dict]
    labels: list[str]
    options: dict
    replications: int


@dataclass
class CaseRun:
    """One psa/tornado/sweep run: its scenario, cases, plan and folder."""

    command: str
    loaded: LoadedScenario
    arms: list[str]
    replications: int
    cases: list[dict]
    labels: list[str]
    options: dict
    jobs: int
    scheduler: str | None
    inputs: dict[str, str]
    command_line: list[str] | None = None
    folder: RunFolder | None = None
    plan: CasePlan | None = None
    resumed_from: int = 0
    saved_fingerprint: str | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def base(self) -> Scenario:
        """The validated base scenario (overrides applied, before any arm's settings)."""
        return self.loaded.base

    @property
    def comparator(self) -> str:
        """The arm every other arm is compared with (the scenario's ``run.comparator``)."""
        return self.base.run.comparator

    @property
    def arm_scenarios(self) -> dict[str, Scenario]:
        """The validated scenario of every arm run, in scenario order."""
        return {a: self.loaded.arms[a] for a in self.arms}

    @property
    def arm_keys(self) -> dict[str, list[str]]:
        """The keys each arm run sets itself (its ``set``), which a case does not override."""
        return {a: [str(k) for k in self.base.arms[a].set] for a in self.arms}

    @property
    def where(self) -> str:
        """Where the simulations run, in words (local workers or a Dask cluster)."""
        return describe(self.jobs, self.scheduler)


# ---- starting and resuming ------------------------------------------------------------------------


def pick_arms(loaded: LoadedScenario, arms: Sequence[str], command: str, path: Path) -> list[str]:
    """The arms to run: ``arms`` (every arm when empty) and the comparator, in scenario order.

    Raises CaseRunError for an arm the scenario lacks, or when fewer than two arms would be run.
    """
    comparator = loaded.base.run.comparator
    chosen = list(loaded.arms)
    if arms:
        bad = [a for a in arms if a not in loaded.arms]
        if bad:
            raise CaseRunError([f"--arm: expected arms of the scenario {list(loaded.arms)}; found {bad}"])
        chosen = [a for a in loaded.arms if a in arms or a == comparator]
    if len(chosen) < 2:
        raise CaseRunError([f"{path}: {command} compares arms; the scenario needs at least two arms"])
    return chosen


def new_run(command: str, loaded: LoadedScenario, arms: list[str], cases: Cases, jobs: int | None,
            scheduler: str | None, command_line: list[str] | None) -> CaseRun:
    """A new run of ``cases`` for ``arms`` (from :func:`pick_arms`); ``jobs`` None: every core.

    The scenario's files are recorded with their SHA-256; ``command_line`` goes into plan.json and
    the manifest.
    """
    inputs = {str(p): sha256_file(p) for p in loaded.files}
    return CaseRun(command, loaded, arms, cases.replications, cases.values, cases.labels, cases.options,
                   jobs or default_jobs(), scheduler, inputs, command_line)


def resume_run(command: str, folder_path: Path, jobs: int | None, scheduler: str | None,
               command_line: list[str] | None, warn: Callable[[str], None]) -> CaseRun:
    """The interrupted run in ``folder_path`` (its ``.incomplete`` folder), from its own saved inputs.

    Raises OutputError when the folder cannot be resumed, CaseRunError when it is another
    command's run, ScenarioError when its saved scenario no longer loads. ``warn`` is told when
    lead-sim has changed since the run started.
    """
    folder = RunFolder.reopen(folder_path)
    try:
        plan = json.loads((folder.path / PLAN_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise OutputError(f"{folder.path}: cannot read {PLAN_FILE} ({exc}); this folder cannot be resumed") from None
    if plan.get("command") != command:
        raise CaseRunError([f"{folder.path}: this is a `lead-sim {plan.get('command')}` run; resume it with that command"])
    loaded = load(folder.path / "scenario.resolved.yaml")
    if plan.get("git_commit") != git_commit() or plan.get("lead_sim_version") != lead_sim_version():
        warn("lead-sim has changed since this run started (version or git commit); completed simulations are kept, "
             "new ones use the code as it is now")
    run = CaseRun(command, loaded, plan["arms"], plan["replications"], plan["cases"], plan["labels"], plan["options"],
                  jobs or default_jobs(), scheduler, plan.get("inputs", {}), command_line)
    run.folder = folder
    run.saved_fingerprint = plan.get("fingerprint")
    return run


def use_plan(run: CaseRun, plan: CasePlan, warn: Callable[[str], None]) -> None:
    """Keep ``plan`` (made from ``run``'s arms and cases) as the run's; a resumed run whose plan
    differs from the one it started with goes on, and ``warn`` is told."""
    run.plan = plan
    if run.saved_fingerprint and run.saved_fingerprint != plan.fingerprint():
        warn("the simulations planned now differ from those of the interrupted run; only checkpointed simulations "
             "that are still part of the plan are reused")


def write_inputs(run: CaseRun, out: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Claim a new run folder under ``out`` and write the run's inputs: the resolved scenario,
    ``tables`` (the draws or cases, at full precision) and plan.json. OutputError when the
    folder cannot be used."""
    run.folder = RunFolder(out, run.base.name)
    f = run.folder
    f.write_text("scenario.resolved.yaml", resolved_yaml(run.base))
    for name, df in tables.items():  # full precision: these are inputs of the analysis
        df.to_csv(f.path / name, index=False, lineterminator="\n")
    f.write_json(PLAN_FILE, {
        "command": run.command, "arms": run.arms, "replications": run.replications, "labels": run.labels,
        "cases": run.cases, "options": run.options, "fingerprint": _plan(run).fingerprint(),
        "inputs": run.inputs,
        "lead_sim_version": lead_sim_version(), "git_commit": git_commit(),
        "command_line": run.command_line,
    })


# ---- simulating and finishing ---------------------------------------------------------------------


def simulate(run: CaseRun, execute: Execute, progress: Progress = no_progress) -> dict[str, dict]:
    """Run every simulation of the plan not yet in the folder's checkpoint, saving each as it finishes.

    Returns key -> result for every simulation of the plan. ``progress(label, n)`` wraps the
    simulations still to run (``n``) and gets one ``update(1)`` per simulation. Raises
    CheckpointError (folder in use, checkpoint damaged), SchedulerError, and :class:`Stopped`
    on Ctrl-C or when a worker process dies (what is saved, and how to resume).
    """
    plan = _plan(run)
    folder = _folder(run)
    ckpt = Checkpoint(folder.path)
    with ckpt:
        done = ckpt.load()
        done = {k: v for k, v in done.items() if k in {t.key for t in plan.tasks}}
        run.resumed_from = len(done)
        todo = len(plan.tasks) - len(done)
        label = (f"{run.command}: {len(run.cases)} case(s) x {len(run.arms)} arm(s) x {run.replications} rep(s) = "
                 f"{todo} simulation(s) to run" + (f" ({len(done)} done before)" if done else "")
                 + f" on {run.where}")
        try:
            with progress(label, todo) as bar:
                def got(key, res):
                    ckpt.append(key, res)
                    bar.update(1)

                return execute(plan, jobs=run.jobs, scheduler=run.scheduler, done=done, on_result=got)
        except (KeyboardInterrupt, *PROCESS_DIED) as exc:
            where = (f"{len(ckpt.load())} of {len(plan.tasks)} simulations are saved in {folder.path}; "
                     f"continue with: lead-sim {run.command} --resume {folder.path}")
            raise Stopped(exc, where) from exc


def finish(run: CaseRun, files: dict[str, pd.DataFrame], results: dict[str, dict]) -> Path:
    """Write the results ``files`` and the manifest, release the folder and mark it complete; returns its final path."""
    f = _folder(run)
    for name, df in files.items():
        f.write_csv(name, df)
    seconds = sum(r.get("seconds", 0.0) for r in results.values())
    f.write_json("manifest.json", manifest(
        seed=run.base.run.seed, replications=run.replications, arms=run.arms, inputs=[],
        wall_seconds=time.perf_counter() - run.started, jobs=run.jobs, command_line=run.command_line,
        extra={"command": run.command, "scenario": run.base.name, "comparator": run.comparator,
               "input_files": run.inputs, "cases": len(run.cases), "simulations": len(_plan(run).tasks),
               "simulations_resumed_from_checkpoint": run.resumed_from, "simulation_seconds": round(seconds, 1),
               "scheduler": run.scheduler, "options": run.options,
               "model_events": int(sum(r.get("n_steps", 0) for r in results.values()))},
    ))
    (f.path / CHECKPOINT_LOCK).unlink(missing_ok=True)  # only an unfinished folder needs guarding
    return f.commit()


def _plan(run: CaseRun) -> CasePlan:
    return cast(CasePlan, run.plan)  # set by use_plan before anything is written or simulated


def _folder(run: CaseRun) -> RunFolder:
    return cast(RunFolder, run.folder)  # set by write_inputs or resume_run
