#!/usr/bin/env python
"""Benchmark harness for lead-sim: the model against a bare-SimPy floor, memory, CLI wall time, profile.

    python benchmarks/run.py            # sizes 1x and 10x of the default scenario
    python benchmarks/run.py --quick    # 1x only
    python benchmarks/run.py --sizes 1,10,100

Everything printed is measured in this run; a dated section is appended to benchmarks/RESULTS.md.
See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import simpy
import yaml
from simpy.events import NORMAL, URGENT

from lead_sim.model.engine import simulate
from lead_sim.model.state import Step
from lead_sim.outcomes.metrics import arm_metrics
from lead_sim.scenario.loading import load

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "denver_pilot.yaml"
DEMO = ROOT / "scenarios" / "demo.yaml"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
PROFILE_FILE = ROOT / "benchmarks" / "last_run.prof"  # *.prof is git-ignored
ARM = "lead_pilot"
REPLICATION = 0
DAYS_PER_YEAR = 365.25
# Keys multiplied by the size factor (their values are read from the scenario, not assumed here).
# Events and spells are recorded from this day on, as `lead-sim compare` does for every replication
# whose tables are not kept (--keep-events) and the PSA for every simulation; kept tables hold
# the warm-up too (about half the rows of the default scenario). Sections of RESULTS.md before
# 2026-12-02 15:00 UTC recorded the whole run.
RECORD_FROM = 0.0
SCALED_KEYS = ("population.initial_people", "population.arrivals_per_year", "lead.case_managers")
PACKAGES = ("simpy", "numpy", "pandas", "scipy", "pydantic", "lead-sim")
PROFILE_TOP = 15


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- scenario at a given size -------------------------------------------------------------------


def _get(doc: dict, dotted: str):
    node = doc
    for part in dotted.split("."):
        node = node[part]
    return node


def _scale(value, factor: int):
    if isinstance(value, bool):
        raise TypeError(f"cannot scale a boolean: {value!r}")
    if isinstance(value, int | float):
        return value * factor
    if isinstance(value, dict):  # a dated value: {start: x, 2020-01-01: y, ...}
        return {k: _scale(v, factor) for k, v in value.items()}
    raise TypeError(f"cannot scale {value!r}")


def size_overrides(factor: int) -> list[str]:
    """``--set`` overrides multiplying population and case managers by ``factor`` (none for 1)."""
    if factor == 1:
        return []
    doc = load(SCENARIO).document.data
    out = []
    for key in SCALED_KEYS:
        scaled = _scale(_get(doc, key), factor)
        text = yaml.safe_dump(scaled, default_flow_style=True).strip()
        if text.endswith("..."):  # a plain scalar is dumped as a document: "30000\n..."
            text = text[: -len("...")].strip()
        out.append(f"{key}={text}")
    return out


def arm_scenario(factor: int, horizon: int = 1):
    return load(SCENARIO, size_overrides(factor) + horizon_overrides(horizon)).arms[ARM]


def horizon_overrides(factor: int) -> list[str]:
    """``--set`` moving ``run.end_date`` so the analysis period is ``factor`` times as long (warm-up unchanged)."""
    if factor == 1:
        return []
    r = load(SCENARIO).base.run
    days = (r.end_date - r.start_date).days + 1
    return [f"run.end_date={r.start_date + dt.timedelta(days=days * factor - 1)}"]


# ---- the floor: bare SimPy ------------------------------------------------------------------------


def _time_without_gc(run) -> float:
    """Seconds that ``run()`` takes with the garbage collector off, as ``engine.simulate`` runs
    (collected before and after, so neither timing pays for the other's garbage)."""
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        run()
        seconds = time.perf_counter() - t0
    finally:
        if gc_was_enabled:
            gc.enable()
    gc.collect()
    return seconds


def simpy_floor(n_procs: int, n_events: int, horizon_days: float, seed: int = 12345) -> float:
    """Seconds for SimPy to run ``n_procs`` processes doing ``n_events`` exponential timeouts in all.

    Process i does k_i steps (k_i differ by at most one, sum k_i = n_events); the mean step is
    chosen so that an average process spans ``horizon_days``. The garbage collector is off for
    the timed part, as it is in ``engine.simulate``. Timed: environment and process creation
    plus ``env.run()`` to exhaustion.
    """
    rng = random.Random(seed)
    expo = rng.expovariate
    rate = n_events / (n_procs * horizon_days)  # events per process-day
    base, extra = divmod(n_events, n_procs)

    def proc(env, k):
        timeout = env.timeout
        for _ in range(k):
            yield timeout(expo(rate))

    def run() -> None:
        env = simpy.Environment()
        for i in range(n_procs):
            env.process(proc(env, base + (1 if i < extra else 0)))
        env.run()

    return _time_without_gc(run)


def simpy_event_floor(n_procs: int, n_events: int, horizon_days: float, seed: int = 12345) -> float:
    """Seconds for SimPy to run the same schedule as :func:`simpy_floor` with the model's mechanism:
    ``n_procs`` chains of the model's own ``Step`` events (its ``pid`` is the chain), each
    scheduled with ``env.schedule`` and whose callback schedules the chain's next one (no
    generator, ``Process`` or ``Timeout``). Chain i starts with an urgent event, as a process
    starts, then does k_i exponential steps."""
    rng = random.Random(seed)
    expo = rng.expovariate
    rate = n_events / (n_procs * horizon_days)
    base, extra = divmod(n_events, n_procs)
    left = [base + (1 if i < extra else 0) for i in range(n_procs)]
    new = object.__new__

    def run() -> None:
        env = simpy.Environment()
        schedule = env.schedule

        def on_tick(tick: Step) -> None:
            i = tick.pid
            if left[i]:
                left[i] -= 1
                t = new(Step)
                t.callbacks, t.pid = callbacks, i
                schedule(t, NORMAL, expo(rate))

        callbacks = (on_tick,)
        for i in range(n_procs):
            t = new(Step)
            t.callbacks, t.pid = callbacks, i
            schedule(t, URGENT, 0)
        env.run()

    seconds = _time_without_gc(run)
    if any(left):
        raise SystemExit("simpy_event_floor: not every chain ran to its end")
    return seconds


# ---- the model -----------------------------------------------------------------------------------


def person_years(people, t_end: float) -> float:
    span = (people["exit_day"].clip(upper=t_end) - people["entry_day"]).clip(lower=0.0)
    return float(span.sum()) / DAYS_PER_YEAR


def model_once(sc) -> dict:
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = simulate(sc, replication=REPLICATION, record_from=RECORD_FROM)
    sim_s = time.perf_counter() - t0
    sim_cpu_s = time.process_time() - c0
    t0 = time.perf_counter()
    arm_metrics(res.events, res.spells, res.people, sc, res.t_end)
    metrics_s = time.perf_counter() - t0
    out = {
        "sim_s": sim_s,
        "sim_cpu_s": sim_cpu_s,
        "metrics_s": metrics_s,
        "n_steps": int(res.n_steps),
        "simpy_events": int(res.simpy_events),
        "n_people": len(res.people),
        "n_events_logged": len(res.events),
        "n_spells": len(res.spells),
        "person_years": person_years(res.people, res.t_end),
        "horizon_days": res.t_end - res.t_start,
    }
    del res
    gc.collect()
    return out


def time_size(factor: int, repeat: int) -> dict:
    """One calibration/warm-up model run, then ``repeat`` x (floor, model) pairs."""
    sc = arm_scenario(factor)
    log(f"size {factor}x: calibration run (untimed warm-up, gives the step count for the floor)")
    cal = model_once(sc)
    floors, event_floors, models = [], [], []
    for i in range(repeat):
        log(f"size {factor}x: repeat {i + 1}/{repeat}: floor ({cal['n_people']:,} processes, "
            f"{cal['n_steps']:,} timeouts)")
        floors.append(simpy_floor(cal["n_people"], cal["n_steps"], cal["horizon_days"]))
        event_floors.append(simpy_event_floor(cal["n_people"], cal["n_steps"], cal["horizon_days"]))
        log(f"size {factor}x: repeat {i + 1}/{repeat}: model")
        m = model_once(sc)
        if m["n_steps"] != cal["n_steps"] or m["n_people"] != cal["n_people"]:
            raise SystemExit(f"size {factor}x: the model is not reproducible: {m['n_steps']} steps / "
                             f"{m['n_people']} people vs {cal['n_steps']} / {cal['n_people']} in the calibration run")
        models.append(m)
    floor_s = statistics.median(floors)
    sim_s = statistics.median(m["sim_s"] for m in models)
    metrics_s = statistics.median(m["metrics_s"] for m in models)
    sim_cpu_s = statistics.median(m["sim_cpu_s"] for m in models)
    floor_eps = cal["n_steps"] / floor_s
    event_floor_s = statistics.median(event_floors)
    event_floor_eps = cal["n_steps"] / event_floor_s
    model_sps = cal["n_steps"] / sim_s
    return {
        "factor": factor,
        "n_people": cal["n_people"],
        "n_steps": cal["n_steps"],
        "simpy_events": cal["simpy_events"],
        "n_events_logged": cal["n_events_logged"],
        "n_spells": cal["n_spells"],
        "person_years": cal["person_years"],
        "floor_s": floor_s,
        "floor_s_all": floors,
        "floor_eps": floor_eps,
        "sim_s": sim_s,
        "sim_s_all": [m["sim_s"] for m in models],
        "sim_cpu_s": sim_cpu_s,
        "model_sps": model_sps,
        "py_per_s": cal["person_years"] / sim_s,
        "ratio": model_sps / floor_eps,
        "event_floor_s": event_floor_s,
        "event_floor_s_all": event_floors,
        "event_floor_eps": event_floor_eps,
        "event_ratio": model_sps / event_floor_eps,
        "metrics_s": metrics_s,
        "metrics_s_all": [m["metrics_s"] for m in models],
    }


def time_horizon(factor: int, repeat: int) -> dict:
    """The 1x population over an analysis period ``factor`` times as long: is the cost per step flat?"""
    sc = arm_scenario(1, factor)
    log(f"horizon {factor}x: {repeat} model run(s)")
    runs = [model_once(sc) for _ in range(repeat)]
    m = runs[0]
    sim_s = statistics.median(r["sim_s"] for r in runs)
    return {"factor": factor, "analysis_days": int(m["horizon_days"] - sc.run.warmup_days), "n_people": m["n_people"],
            "n_steps": m["n_steps"], "person_years": m["person_years"], "sim_s": sim_s,
            "sim_s_all": [r["sim_s"] for r in runs], "us_per_step": sim_s / m["n_steps"] * 1e6,
            "py_per_s": m["person_years"] / sim_s}


# ---- peak memory: one fresh child process per size -----------------------------------------------


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _vmhwm_mib() -> float | None:
    """This process image's own peak RSS (Linux /proc/self/status VmHWM), as a cross-check."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_child(factor: int) -> None:
    """Runs in a fresh interpreter: load, simulate, metrics; prints peak RSS figures as JSON."""
    sc = arm_scenario(factor)
    gc.collect()
    base = _maxrss_mib()
    t0 = time.perf_counter()
    res = simulate(sc, replication=REPLICATION, record_from=RECORD_FROM)
    sim_s = time.perf_counter() - t0
    after_sim = _maxrss_mib()
    arm_metrics(res.events, res.spells, res.people, sc, res.t_end)
    after_metrics = _maxrss_mib()
    print(json.dumps({"factor": factor, "baseline_mib": base, "after_sim_mib": after_sim,
                      "peak_mib": after_metrics, "vmhwm_mib": _vmhwm_mib(), "sim_s": sim_s,
                      "n_people": len(res.people)}))


def measure_memory(factor: int) -> dict:
    """Run ``memory_child`` in a fresh process and return what it measured.

    Linux carries a process's ru_maxrss across exec from the process that exec'd, and Python's
    subprocess uses vfork, so a child started directly from this (large) process would report
    at least this process's peak. ``/bin/sh`` forks a small child of its own before exec'ing
    Python (the command is not the shell's last), so the figure is the benchmark child's own.
    VmHWM, which belongs to the exec'd image alone, is reported as a cross-check.
    """
    log(f"size {factor}x: peak memory in a fresh process")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_memory-child", str(factor)]
    if Path("/bin/sh").exists():
        cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"memory child for size {factor}x failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- CLI wall time -------------------------------------------------------------------------------


def cli_command() -> list[str]:
    exe = Path(sys.executable).with_name("lead-sim")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lead_sim"]


def time_cli(label: str, scenario_args: list[str]) -> dict:
    log(f"CLI: {label}")
    with tempfile.TemporaryDirectory(prefix="lead-sim-bench-") as tmp:
        cmd = [*cli_command(), "compare", *scenario_args, "--out", tmp]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"`{' '.join(cmd)}` failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
        manifests = sorted(Path(tmp).rglob("manifest.json"))
        if len(manifests) != 1:
            raise SystemExit(f"{label}: expected one manifest.json under {tmp}, found {len(manifests)}")
        man = json.loads(manifests[0].read_text())
    shown = ["lead-sim", "compare", *scenario_args, "--out", "<tmpdir>"]
    return {
        "label": label,
        "command": " ".join(shown),
        "wall_s": wall,
        "internal_s": man.get("wall_seconds"),
        "jobs": man.get("jobs"),
        "replications": man.get("replications"),
        "arms": len(man.get("arms", [])),
        "model_events": man.get("model_events"),
        "person_years": man.get("person_years_simulated"),
    }


# ---- profile -------------------------------------------------------------------------------------


def profile_default() -> tuple[str, dict[str, str]]:
    log("cProfile of one default-scenario arm-replication (simulate + arm_metrics)")
    sc = arm_scenario(1)
    gc.collect()
    prof = cProfile.Profile()
    prof.enable()
    res = simulate(sc, replication=REPLICATION, record_from=RECORD_FROM)
    arm_metrics(res.events, res.spells, res.people, sc, res.t_end)
    prof.disable()
    prof.dump_stats(PROFILE_FILE)
    out = {}
    total = ""
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(PROFILE_TOP)
        lines = buf.getvalue().splitlines()
        total = next((ln.strip() for ln in lines if "function calls" in ln), total)
        start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
        out[key] = "\n".join(ln.rstrip() for ln in lines[start:] if ln.strip())
    return total, out


# ---- environment ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def versions() -> dict[str, str]:
    """The versions the run folders record (lead_sim.runs.output), restricted to the benchmark's list."""
    from lead_sim.runs.output import package_versions

    every = package_versions()
    return {name: every.get(name, "not recorded") for name in PACKAGES}


def load_average() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def code_fingerprint() -> str:
    """A hash of everything under lead_sim/ and scenarios/ that is tracked or would be (not ignored)."""
    import hashlib

    p = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", "lead_sim", "scenarios"],
                       cwd=ROOT, capture_output=True, text=True)
    h = hashlib.sha256()
    for rel in sorted(p.stdout.split()):
        f = ROOT / rel
        if f.is_file():
            h.update(rel.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def git_state() -> str:
    def git(*args: str) -> str:
        p = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = [ln for ln in git("status", "--porcelain", "--", "lead_sim", "scenarios").splitlines() if ln.strip()]
    if dirty:
        return f"{commit} + {len(dirty)} uncommitted change(s) under lead_sim/ or scenarios/"
    return f"{commit} (lead_sim/ and scenarios/ clean)"


# ---- report --------------------------------------------------------------------------------------


def fmt_range(values: list[float], digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"


def _spread(values: list[float], digits: int = 3) -> str:
    return f" [{fmt_range(values, digits)}]" if len(values) > 1 else ""


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(args, started: dt.datetime, sizes: list[dict], horizons: list[dict], mem: list[dict], cli: list[dict],
           prof_total: str, prof: dict[str, str], elapsed: float, env_start: dict, env_end: dict) -> str:
    v = versions()
    if env_start["fingerprint"] == env_end["fingerprint"]:
        code_note = f"fingerprint {env_end['fingerprint']} unchanged during the run"
    else:
        code_note = (f"WARNING: lead_sim/ or scenarios/ changed during the run (fingerprint "
                     f"{env_start['fingerprint']} at start, {env_end['fingerprint']} at end); figures may mix versions")
    out = [
        f"## {started.strftime('%Y-%m-%d %H:%M %Z').strip()} — sizes {','.join(str(s['factor']) + 'x' for s in sizes)}, "
        f"repeat {args.repeat}",
        "",
        f"- command: `{' '.join(['python', 'benchmarks/run.py', *sys.argv[1:]])}`",
        f"- machine: {usable_cores()} usable core(s) ({os.cpu_count()} online), {cpu_model()}, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); "
        + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- code: git {env_start['git']} at start; {code_note}",
        f"- load average (1/5/15 min): {env_start['load']} at start, {env_end['load']} at end "
        "(other work on the machine slows every figure; compare wall and CPU seconds)",
        f"- scenario: {SCENARIO.relative_to(ROOT)}, arm `{ARM}`, replication {REPLICATION}; size Nx multiplies "
        + ", ".join(f"`{k}`" for k in SCALED_KEYS),
        f"- recorded: events and spells from day {RECORD_FROM:g} on (`simulate(..., record_from={RECORD_FROM})`, as compare's "
        "replications whose tables are not kept and the PSA; the warm-up is not recorded)",
        f"- harness wall time: {elapsed:.0f} s",
        "",
        "### Model vs bare-SimPy floor (same process, floor timed right before each model run; medians of "
        f"{args.repeat}, range in brackets where repeat > 1)",
        "",
    ]
    rows = []
    for s in sizes:
        rows.append([
            f"{s['factor']}x",
            f"{s['n_people']:,}",
            f"{s['n_steps']:,}",
            f"{s['simpy_events']:,}",
            f"{s['floor_s']:.3f}{_spread(s['floor_s_all'], 3)}",
            f"{s['floor_eps']:,.0f}",
            f"{s['sim_s']:.3f}{_spread(s['sim_s_all'], 3)}",
            f"{s['sim_cpu_s']:.3f}",
            f"{s['model_sps']:,.0f}",
            f"{s['ratio']:.3f}",
            f"{1 / s['ratio']:.2f}x",
            f"{s['event_floor_eps']:,.0f}",
            f"{s['event_ratio']:.3f}",
            f"{s['person_years']:,.0f}",
            f"{s['py_per_s']:,.0f}",
            f"{s['metrics_s']:.3f}{_spread(s['metrics_s_all'], 3)}",
        ])
    out.append(table(
        ["size", "people", "model steps", "SimPy events (model)", "floor s", "floor events/s", "simulate s", "simulate CPU s", "model steps/s",
         "ratio (model/floor throughput)", "model time vs floor", "event floor events/s",
         "ratio vs event floor", "person-years", "person-years/s", "arm_metrics s"],
        rows,
    ))
    out += ["", "Floor: one SimPy process per person yielding timeouts. Event floor: the same schedule as chains of "
            "slotted events whose callbacks schedule the next (`env.schedule`), the mechanism the model's people use "
            "since 2026-12-02. Floors run one SimPy event per model step; since 2026-12-03 the model makes most of its "
            "steps without one (running ahead: `person._stepper`; SimPy events (model) counts those it scheduled), so "
            "a ratio vs the event floor above 1 is possible and the ratios measure the model's steps against SimPy's events."]
    out += ["", "Logged per run: " + "; ".join(
        f"{s['factor']}x {s['n_events_logged']:,} events, {s['n_spells']:,} spells" for s in sizes), ""]
    if horizons:
        out += ["### Longer analysis periods (1x population, warm-up unchanged; medians of "
                f"{args.repeat}): cost per step should not grow with the horizon", ""]
        out.append(table(
            ["horizon", "analysis days", "people", "model steps", "simulate s", "us per step", "person-years",
             "person-years/s"],
            [[f"{h['factor']}x", f"{h['analysis_days']:,}", f"{h['n_people']:,}", f"{h['n_steps']:,}",
              f"{h['sim_s']:.3f}{_spread(h['sim_s_all'], 3)}", f"{h['us_per_step']:.2f}", f"{h['person_years']:,.0f}",
              f"{h['py_per_s']:,.0f}"] for h in horizons],
        ))
        out.append("")
    out += ["### Peak resident memory (ru_maxrss in a fresh process per size: imports + load + simulate + arm_metrics)", ""]
    out.append(table(
        ["size", "peak after imports+load MiB", "peak after simulate MiB", "peak after arm_metrics MiB",
         "peak minus imports+load MiB", "VmHWM MiB (cross-check)", "simulate s (child, cold)"],
        [[f"{m['factor']}x", f"{m['baseline_mib']:.0f}", f"{m['after_sim_mib']:.0f}", f"{m['peak_mib']:.0f}",
          f"{m['peak_mib'] - m['baseline_mib']:.0f}",
          f"{m['vmhwm_mib']:.0f}" if m.get("vmhwm_mib") is not None else "n/a",
          f"{m['sim_s']:.2f}"] for m in mem],
    ))
    out += ["", "### CLI wall time (subprocess, default replications and jobs, `--out` a temp dir)", ""]
    out.append(table(
        ["command", "wall s", "in-CLI s (manifest)", "arms x reps", "jobs", "model steps", "person-years"],
        [[f"`{c['command']}`", f"{c['wall_s']:.1f}",
          f"{c['internal_s']:.1f}" if isinstance(c["internal_s"], (int, float)) else "n/a",
          f"{c['arms']} x {c['replications']}", str(c["jobs"]),
          f"{c['model_events']:,}" if isinstance(c["model_events"], int) else "n/a",
          f"{c['person_years']:,.0f}" if isinstance(c["person_years"], (int, float)) else "n/a"] for c in cli],
    ))
    out += [
        "",
        f"### cProfile: one 1x arm-replication (`simulate` + `arm_metrics`), {prof_total}",
        "",
        f"Top {PROFILE_TOP} by cumulative time:",
        "",
        "```",
        prof["cumulative"],
        "```",
        "",
        f"Top {PROFILE_TOP} by total (own) time:",
        "",
        "```",
        prof["tottime"],
        "```",
        "",
    ]
    return "\n".join(out)


RESULTS_HEADER = """# lead-sim benchmark results

Sections are appended by `python benchmarks/run.py` (see README.md in this folder for what each
figure means). Compare figures within a section as ratios; across sections only on the same machine.

"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only the 1x size (same as --sizes 1)")
    ap.add_argument("--sizes", default=None,
                    help="comma-separated size factors of the default scenario, e.g. 1,10,100 (default: 1,10)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="(floor, model) pairs timed per size after one warm-up run; medians are reported (default 3)")
    ap.add_argument("--horizons", default="1,2",
                    help="comma-separated factors for the analysis period at 1x population (default 1,2; '' for none)")
    ap.add_argument("--no-cli", action="store_true", help="skip the `lead-sim compare` wall-time runs")
    ap.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--_memory-child", dest="memory_child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.memory_child is not None:
        memory_child(args.memory_child)
        return 0
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.quick and args.sizes:
        ap.error("--quick and --sizes are mutually exclusive")
    sizes_text = "1" if args.quick else (args.sizes or "1,10")
    try:
        factors = [int(x) for x in sizes_text.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--sizes: expected comma-separated integers, found {sizes_text!r}")
    if not factors or any(f < 1 for f in factors):
        ap.error("--sizes: factors must be positive integers")

    try:
        horizon_factors = [int(x) for x in args.horizons.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--horizons: expected comma-separated integers, found {args.horizons!r}")
    if any(f < 1 for f in horizon_factors):
        ap.error("--horizons: factors must be positive integers")

    started = dt.datetime.now().astimezone()
    env_start = {"git": git_state(), "fingerprint": code_fingerprint(), "load": load_average()}
    t0 = time.perf_counter()
    sizes = [time_size(f, args.repeat) for f in factors]
    horizons = [time_horizon(f, args.repeat) for f in horizon_factors]
    prof_total, prof = profile_default()
    mem = [measure_memory(f) for f in factors]
    cli = []
    if not args.no_cli:
        cli.append(time_cli("default scenario", []))
        cli.append(time_cli("demo scenario", [str(DEMO.relative_to(ROOT))]))
    elapsed = time.perf_counter() - t0
    env_end = {"fingerprint": code_fingerprint(), "load": load_average()}
    text = report(args, started, sizes, horizons, mem, cli, prof_total, prof, elapsed, env_start, env_end)
    print(text)
    if not args.no_write:
        new = not RESULTS.exists()
        with RESULTS.open("a", encoding="utf-8") as fh:
            if new:
                fh.write(RESULTS_HEADER)
            fh.write(text + "\n")
        log(f"appended to {RESULTS.relative_to(ROOT)}; profile saved to {PROFILE_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
