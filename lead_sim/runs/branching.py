"""Simulate the years before LEAD starts once for every arm or PSA draw that differs only in LEAD.

Arms of a comparison (and the draws of a PSA that sample only LEAD and cost parameters) differ
in nothing the model reads before LEAD starts: the same people, the same random streams, the
same history through the warm-up. :class:`lead_sim.model.engine.Simulation` runs every
simulation in two phases (LEAD off until LEAD's start; then the arm's LEAD parameters), so that
phase 1 can be run once and the process *forked* for each arm: each child puts in its own LEAD
parameters, runs phase 2, and sends its (small, picklable) result back through a pipe.

The result is identical to simulating each arm from the start (``tests/test_branching.py``
checks it on every bundled scenario); only the time differs. Forking is used only where it is
safe: on systems with ``os.fork``, from the main thread of a process whose only other thread is
lead-sim's own parent watcher (so not inside a Dask worker's thread pool), and not when
``LEAD_SIM_NO_FORK`` is set. Otherwise each arm is simulated from the start, with the same
result.
"""

from __future__ import annotations

import gc
import math
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from lead_sim.model.engine import SimResult, Simulation, gc_paused, lead_start_day, prefix_key, simulate
from lead_sim.model.params import ModelParams
from lead_sim.scenario.schema import Scenario

R = TypeVar("R")
WATCHER_THREAD = "lead-sim-parent-watch"


class SimulationProcessDied(RuntimeError):
    """A forked simulation process ended without sending its result (killed, out of memory)."""


def group_by_prefix(items: Sequence[Any], scenario_of: Callable[[Any], Scenario],
                    replication_of: Callable[[Any], int], max_size: int | None = None) -> list[list[int]]:
    """Indices of ``items`` in groups that can share phase 1 (first-seen order; at most ``max_size`` each)."""
    groups: dict[Hashable, list[list[int]]] = {}
    for i, item in enumerate(items):
        chunks = groups.setdefault((replication_of(item), prefix_key(scenario_of(item))), [[]])
        if max_size is not None and len(chunks[-1]) >= max_size:
            chunks.append([])
        chunks[-1].append(i)
    out = [c for chunks in groups.values() for c in chunks]
    out.sort(key=lambda c: c[0])
    return out


def can_fork() -> bool:
    """Whether phase 1 may be shared by forking here: ``os.fork`` exists, ``LEAD_SIM_NO_FORK`` is
    not set, and this is the main thread with no other thread but lead-sim's parent watcher."""
    if not hasattr(os, "fork") or os.environ.get("LEAD_SIM_NO_FORK"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    return all(t is threading.main_thread() or t.name == WATCHER_THREAD for t in threading.enumerate())


def simulate_branches(scenarios: Sequence[Scenario], replication: int,
                      finish: Callable[[int, SimResult], R], record_from: float = -math.inf) -> list[R]:
    """``[finish(i, simulate(sc, replication, record_from)) for i, sc in enumerate(scenarios)]``,
    sharing phase 1 where possible.

    ``scenarios`` must share :func:`prefix_key`; ``finish`` turns a simulation into what the
    caller keeps (it runs in the child, so only its result crosses the pipe).
    """
    if len(scenarios) <= 1 or not can_fork():
        return [finish(i, simulate(sc, replication, record_from)) for i, sc in enumerate(scenarios)]
    keys = {prefix_key(sc) for sc in scenarios}
    if len(keys) != 1:
        raise ValueError("simulate_branches: the scenarios differ outside LEAD and costs")
    with gc_paused():
        params = [ModelParams(sc) for sc in scenarios]  # before the people: see Simulation.finish
        sim = Simulation(scenarios[0], replication, record_from)
        sim.run_until(min(lead_start_day(P) for P in params))
        # Python's advice for fork without exec: no collection in a child may touch phase 1's
        # objects (it would write to every page of them and so copy them, for each child)
        gc.freeze()
        try:
            out = [_in_child(sim, i, sc, params[i], finish) for i, sc in enumerate(scenarios[:-1])]
        finally:
            gc.unfreeze()
        sim.set_lead(scenarios[-1], params[-1])  # the last one in this process: nothing is left to share
        last = sim.finish()
    out.append(finish(len(scenarios) - 1, last))
    return out


def _in_child(sim: Simulation, index: int, sc: Scenario, params: ModelParams, finish: Callable[[int, SimResult], R]) -> R:
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    # A Ctrl-C (SIGINT to the whole process group) that lands while os.fork runs Python's
    # at-fork hooks would raise KeyboardInterrupt inside a hook, where Python prints it as an
    # ignored exception with a traceback and drops it. It is held instead, and raised again
    # once the child exists, where the child is ended below; the child ignores Ctrl-C.
    held: list[int] = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        pid = os.fork()
    except BaseException:
        signal.signal(signal.SIGINT, handler)
        raise
    if pid == 0:  # the child: never returns
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.close(read_fd)
        _child(sim, index, sc, params, finish, write_fd, parent)
    signal.signal(signal.SIGINT, handler)
    os.close(write_fd)
    chunks = []
    try:
        if held:
            os.kill(os.getpid(), signal.SIGINT)  # now, with the handler the caller had
        with os.fdopen(read_fd, "rb") as pipe:
            while chunk := pipe.read(1 << 20):
                chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        if pid:  # interrupted while the child ran: do not leave it behind
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
    if not chunks:
        code = os.waitstatus_to_exitcode(status)
        how = f"was killed by signal {-code} (out of memory?)" if code < 0 else f"exited with status {code}"
        raise SimulationProcessDied(f"the forked simulation process for one arm {how} before sending its result")
    ok, value = pickle.loads(b"".join(chunks))
    if ok:
        return value
    raise value


def _child(sim: Simulation, index: int, sc: Scenario, params: ModelParams, finish, write_fd: int, parent: int) -> None:
    code = 0
    try:
        exit_when_orphaned(parent)  # the pid from before the fork: the parent may die before this line
        sim.set_lead(sc, params)
        result = sim.finish()  # the collector is paused, as in the parent (phase 1's objects stay frozen)
        gc.enable()
        payload = pickle.dumps((True, finish(index, result)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent, which raises it
        code = 1
        exc.add_note("(in the forked simulation process)\n" + "".join(traceback.format_exception(exc)))
        try:
            payload = pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            payload = pickle.dumps((False, RuntimeError("".join(traceback.format_exception(exc)))))
    try:
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
    except BaseException:  # noqa: BLE001 - the parent is gone or interrupted
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffers


def exit_when_orphaned(parent: int, poll_seconds: float = 0.5) -> None:
    """End this process as soon as ``parent`` is gone (a daemon thread polls).

    A run killed by SIGTERM or SIGKILL cannot shut its workers down; without this they would go
    on simulating (or block forever on a full result pipe) as orphans. ``parent`` comes from the
    parent itself: a pid read here with ``getppid`` would already be init's if the parent was
    killed while this process started, and nothing would ever end it. Gone means this process
    was re-parented or ``parent`` no longer exists (a pool may start workers from a fork server,
    not from ``parent`` itself).
    """
    first_ppid = os.getppid()

    def gone() -> bool:
        if os.getppid() != first_ppid:
            return True
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # exists, owned by someone else: pid reused, so ours is gone
            return True
        return False

    def watch() -> None:
        while True:
            if gone():
                os._exit(1)
            time.sleep(poll_seconds)

    threading.Thread(target=watch, name=WATCHER_THREAD, daemon=True).start()
