"""Where independent tasks run: in this process, a local pool of worker processes, or a Dask cluster.

:func:`run_tasks` calls ``fn(item)`` for every item and hands each result to ``on_result(index,
result)`` as it arrives (in completion order, which varies). Callers put results back in item
order, so what they compute never depends on where or in what order the tasks ran: the same
work gives identical results with ``jobs=1``, ``jobs=8`` or a Dask cluster.

* ``jobs=1`` and no scheduler: in this process, one task after another.
* ``jobs>1``: a ``ProcessPoolExecutor``; its workers end themselves when this process dies
  (``branching.exit_when_orphaned``, each worker's initializer), so a killed run leaves no orphans simulating on.
* ``scheduler="tcp://host:port"``: a ``dask.distributed`` cluster (install ``lead-sim[dask]``;
  every worker needs lead-sim installed at the same version). ``jobs`` is then ignored: the
  cluster decides how many tasks run at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from lead_sim.runs.branching import SimulationProcessDied, exit_when_orphaned

#: a worker or forked simulation process died (killed, out of memory): the run cannot finish
PROCESS_DIED = (BrokenProcessPool, SimulationProcessDied)


class SchedulerError(Exception):
    """The Dask scheduler could not be used."""


def run_tasks(fn: Callable[[Any], Any], items: Sequence[Any], *, jobs: int = 1, scheduler: str | None = None,
              on_result: Callable[[int, Any], None]) -> None:
    """Run ``fn`` on every item; call ``on_result(index, result)`` as each finishes."""
    if not items:
        return
    if scheduler:
        _run_dask(fn, items, scheduler, on_result)
    elif jobs <= 1 or len(items) == 1:
        for i, item in enumerate(items):
            on_result(i, fn(item))
    else:
        _run_pool(fn, items, jobs, on_result)


def _run_pool(fn, items, jobs, on_result) -> None:
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), initializer=exit_when_orphaned,
                             initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            for fut in as_completed(futures):
                on_result(futures[fut], fut.result())
        except BaseException as exc:
            for f in futures:
                f.cancel()
            if isinstance(exc, KeyboardInterrupt):
                # a worker that gets Ctrl-C returns the exception and takes its next queued task:
                # stop them, or the run only ends when those are done (5-10 s, for nothing saved);
                # _processes: the pool's workers (no public way to stop them before Python 3.14)
                for proc in list((pool._processes or {}).values()):
                    proc.terminate()
            raise


def _run_dask(fn, items, scheduler: str, on_result) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise SchedulerError("--scheduler needs dask.distributed: pip install 'lead-sim[dask]'") from None
    try:
        client = Client(scheduler, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        with client.as_current():
            futures = client.map(fn, list(items), pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            try:
                for fut in dask_completed(futures):
                    on_result(index[fut.key], fut.result())
            except BaseException:
                client.cancel(futures)
                raise
    finally:
        client.close()


def describe(jobs: int, scheduler: str | None) -> str:
    """Where the tasks run, in words for the command line's messages."""
    return f"Dask cluster at {scheduler}" if scheduler else f"{jobs} local worker process(es)"
