"""Named random streams: no global random state, common random numbers across arms.

Every decision draws uniforms from its own stream, identified by a name and (for decisions
about one person) the person's id. A stream's seed is a hash of ``(root seed, replication,
name, person)``, so

* adding a new decision (a new stream name) never shifts the numbers of existing ones;
* both arms of a comparison see the same people and, for each person, the same sequence of
  numbers for each decision, wherever their histories have not diverged (common random
  numbers); the arm is deliberately *not* part of the key;
* the result does not depend on which worker process ran a replication.

``random.Random`` (Mersenne Twister) is used because creating one is ~4 us and a draw ~50 ns,
far cheaper per person than a NumPy Generator; Python guarantees that ``random()`` gives the
same sequence for the same integer seed across versions. Non-uniform values are produced from
these uniforms by inverse transform (see ``lead_sim.scenario.distributions``).

A generator carries 2.5 KB of state, and a person holds up to seven streams for as long as
they are in the simulation: at 100 times the default population that was most of the model's
memory. A person's streams are therefore :class:`BlockStream` s, which keep only the next few
numbers of the same sequence and remake the generator when those run out (see there).
"""

from __future__ import annotations

import _random
import hashlib
from array import array
from itertools import islice


def stream_seed(root_seed: int, replication: int, name: str, person_id: int = -1) -> int:
    """A 128-bit seed for one named stream of one replication (and optionally one person)."""
    material = f"{root_seed}|{replication}|{name}|{person_id}".encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=16).digest(), "little")


class Streams:
    """Factory of named streams for one replication."""

    __slots__ = ("root_seed", "replication")

    def __init__(self, root_seed: int, replication: int):
        self.root_seed = root_seed
        self.replication = replication

    def get(self, name: str, person_id: int = -1) -> _random.Random:
        # the C generator behind random.Random: the same numbers for the same seed, made faster
        # (no Python-level seed()) and 40 bytes smaller (no __dict__); tests/test_model.py checks
        return _random.Random(stream_seed(self.root_seed, self.replication, name, person_id))  # noqa: S311

    def block(self, name: str, person_id: int, size: int) -> BlockStream:
        """The stream ``get(name, person_id)`` would give, held ``size`` numbers at a time."""
        return BlockStream(stream_seed(self.root_seed, self.replication, name, person_id), size)


class BlockStream:
    """A Mersenne Twister stream that holds its next ``size`` numbers instead of the generator.

    It gives exactly the numbers ``random.Random(seed).random()`` gives, in order. When the
    held numbers run out, the generator is made again from the seed and moved past the numbers
    already used: each ``random()`` takes two 32-bit outputs of the generator and
    ``getrandbits(64 * n)`` takes exactly ``2 * n`` (CPython's documented ``getrandbits`` fills
    32 bits at a time), so the next number is the one a kept generator would have given. A
    refill costs about as much as making the generator (a few microseconds); the stream takes
    ~250 bytes (``size`` 4) to ~560 bytes (``size`` 42) instead of ~2.6 KB.
    """

    __slots__ = ("seed", "size", "buf", "pos", "start")

    def __init__(self, seed: int, size: int):
        self.seed = seed
        self.size = size
        self.start = 0  # index in the stream of buf[0]
        self.buf = array("d")
        self.pos = 0  # the next number is buf[pos]

    def _refill(self, n: int) -> None:
        """Hold the next ``max(n, size)`` numbers."""
        used = self.start + self.pos
        mt = _random.Random(self.seed)  # noqa: S311
        if used:
            mt.getrandbits(64 * used)
        self.buf = array("d", islice(iter(mt.random, None), max(n, self.size)))
        self.start, self.pos = used, 0

    def random(self) -> float:
        """The next number of the stream, in [0, 1)."""
        pos = self.pos
        if pos == len(self.buf):
            self._refill(1)
            pos = 0
        self.pos = pos + 1
        return self.buf[pos]

    def take(self, n: int) -> array:
        """The next ``n`` numbers of the stream (an array of floats)."""
        pos = self.pos
        end = pos + n
        if end > len(self.buf):
            self._refill(n)
            pos, end = 0, n
        self.pos = end
        return self.buf[pos:end]
