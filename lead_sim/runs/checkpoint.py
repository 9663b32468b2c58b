"""Checkpoints of long runs: each finished simulation is appended to the run folder at once.

``checkpoint.jsonl`` holds one JSON line per finished simulation (its key and its summary).
Lines are flushed and synced to disk as they are written, so a run killed at any moment loses at
most the simulations still in flight; a line cut short by the kill is ignored when the run is
resumed. JSON keeps every float exactly (``repr`` round trip), so a resumed run computes the
same results, to the last bit, as one that was never interrupted.

A run folder is used by one process at a time: :class:`Checkpoint` holds an exclusive lock on
``.lock`` in the folder (released by the operating system if the process dies).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any, TextIO

FILE = "checkpoint.jsonl"
LOCK = ".lock"


class CheckpointError(Exception):
    """The checkpoint cannot be used (damaged, or the folder is in use)."""


class Checkpoint:
    """The checkpoint file of one run folder, held under its exclusive lock until :meth:`close`
    (also as a context manager)."""

    def __init__(self, folder: Path):
        """Lock ``folder`` for this process; CheckpointError if another process holds it. The
        checkpoint itself is not read or written yet."""
        self.path = Path(folder) / FILE
        self._lock = open(Path(folder) / LOCK, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise CheckpointError(f"{folder} is being used by another lead-sim process; wait for it to finish") from None
        self._out: TextIO | None = None

    def load(self) -> dict[str, Any]:
        """Every complete line written so far: key -> result."""
        if not self.path.exists():
            return {}
        text = self.path.read_text(encoding="utf-8")
        *complete, partial = text.split("\n")  # every complete line ends with a newline
        out: dict[str, Any] = {}
        for i, line in enumerate(complete):
            try:
                rec = json.loads(line)
                out[rec["key"]] = rec["result"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise CheckpointError(f"{self.path}: line {i + 1} is damaged; cannot resume from it") from None
        if partial:
            # the last line was cut short by a kill: drop it (that simulation is redone)
            with open(self.path, "w", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in complete))
        return out

    def append(self, key: str, result: Any) -> None:
        """Write one finished simulation's line (``key`` and its JSON-able ``result``) and sync it to
        disk before returning."""
        if self._out is None:
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._out.write(json.dumps({"key": key, "result": result}, separators=(",", ":")) + "\n")
        self._out.flush()
        os.fsync(self._out.fileno())

    def close(self) -> None:
        """Close the file and release the folder's lock (calling it again does nothing)."""
        if self._out is not None:
            self._out.close()
            self._out = None
        if not self._lock.closed:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self) -> Checkpoint:
        """Use the checkpoint in a ``with`` block, closed at its end."""
        return self

    def __exit__(self, *exc) -> None:
        """Close the checkpoint and release the lock."""
        self.close()
