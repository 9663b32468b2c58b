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
memory. In a large simulation a person's streams are therefore :class:`BlockStream` s, which
keep only the next few numbers of the same sequence and remake the generator when those run
out (~13% more instructions: see there); a small one keeps each :class:`Generator`. Both give
the same numbers, so the choice (:meth:`Streams.per_person`) never changes a result.
"""

from __future__ import annotations

import _random
import hashlib
import struct
from itertools import islice


def stream_seed(root_seed: int, replication: int, name: str, person_id: int = -1) -> int:
    """A 128-bit seed for one named stream of one replication (and optionally one person)."""
    material = f"{root_seed}|{replication}|{name}|{person_id}".encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=16).digest(), "little")


class Streams:
    """Factory of named streams for one replication."""

    __slots__ = ("root_seed", "replication", "compact", "_hashers")

    def __init__(self, root_seed: int, replication: int, compact: bool = False):
        """The streams of ``replication`` under ``root_seed``; ``compact``: a person's streams are
        :class:`BlockStream` s (see :meth:`per_person`)."""
        self.root_seed = root_seed
        self.replication = replication
        self.compact = compact  # per-person streams as BlockStreams (see per_person)
        self._hashers: dict = {}  # name -> blake2b of "root|replication|name|", copied per person

    def prepare(self, names) -> None:
        """Make the shared part of the seeds of ``names`` now, not when one is first used halfway
        through a run: long-lived objects made among the people would keep their memory from
        being given back when they are freed (``engine.Simulation.finish``)."""
        for name in names:
            self._hasher(name)
        if self.compact and not _PACKERS:
            _PACKERS.extend(struct.Struct(f"{k}d") for k in range(MAX_BLOCK + 1))

    def seed(self, name: str, person_id: int) -> int:
        """``stream_seed(root_seed, replication, name, person_id)``, from a copy of the hash of the
        part that all people share (one person's streams are made ~20,000 times per simulation)."""
        return _seed(self._hasher(name), person_id)

    def _hasher(self, name: str):
        h = self._hashers.get(name)
        if h is None:
            h = self._hashers[name] = hashlib.blake2b(f"{self.root_seed}|{self.replication}|{name}|".encode(), digest_size=16)
        return h

    def get(self, name: str, person_id: int = -1) -> _random.Random:
        """A new generator of the stream ``name`` (of ``person_id``; -1: a stream about no one person)."""
        # the C generator behind random.Random: the same numbers for the same seed, made faster
        # (no Python-level seed()) and 40 bytes smaller (no __dict__); tests/test_model.py checks
        return _random.Random(self.seed(name, person_id))  # noqa: S311

    def per_person(self, name: str, person_id: int, size: int) -> Generator | BlockStream:
        """A stream a person keeps: a :class:`BlockStream` of ``size`` if ``compact``, else the
        :class:`Generator` itself (same numbers, 2.5 KB, no refills)."""
        if self.compact:
            return BlockStream(self._hasher(name), person_id, size)
        return Generator(self.seed(name, person_id))


def _seed(hasher, person_id: int) -> int:
    """The seed of ``person_id``'s stream, from ``hasher``: the hash of its shared part (see ``Streams.seed``)."""
    h = hasher.copy()
    h.update(b"%d" % person_id)
    return int.from_bytes(h.digest(), "little")


class Generator(_random.Random):
    """The C Mersenne Twister with :meth:`take`, the interface a person's streams share."""

    __slots__ = ()

    def take(self, n: int) -> list[float]:
        """The next ``n`` numbers of the stream."""
        return list(islice(iter(self.random, None), n))  # random() n times, looped in C


#: the most numbers a stream holds at a time, however busy it is (unless one draw asks for more):
#: four police contacts' worth. Larger blocks hold more memory and, as each contact copies the
#: rest of its block, cost more instructions too (callgrind at 1x, compact streams: 512, +0.4%)
MAX_BLOCK = 84
#: ``_PACKERS[k]`` packs k floats (made by ``Streams.prepare`` for compact streams, before a run)
_PACKERS: list[struct.Struct] = []
_EMPTY = b""  # the buffer of every stream that holds no numbers
_unpack_one = struct.Struct("d").unpack_from


class BlockStream:
    """A Mersenne Twister stream that holds its next ``size`` numbers instead of the generator.

    It gives exactly the numbers ``random.Random(seed).random()`` gives, in order. When the
    held numbers run out, the generator is made again from the seed and moved past the numbers
    already used: each ``random()`` takes two 32-bit outputs of the generator and
    ``getrandbits(64 * n)`` takes exactly ``2 * n`` (CPython's documented ``getrandbits`` fills
    32 bits at a time), so the next number is the one a kept generator would have given. A
    refill costs about as much as making the generator (a few microseconds), and a stream that
    runs out holds twice as many numbers the next time (up to ``MAX_BLOCK``).

    Only numbers not yet used are held: a used-up buffer is let go, and a ``take`` (a police
    contact's numbers) keeps only the rest of its buffer. The buffer is the numbers packed as
    C doubles in a ``bytes`` (one 33-byte header and allocation, where an ``array`` has 80
    bytes and two allocations): at 10 times the default population, ~430 bytes of buffers per
    person present at the end of the run as arrays, ~290 as bytes. A stream object takes 80
    bytes besides its buffer and its place in the person's list, instead of ~2.6 KB for a
    generator; making the seed again at each refill costs ~0.7% of the instructions (callgrind at 1x, compact streams
    forced: 9.455 G against 9.496 G with the imports). On the default scenario the extra
    generators, skips and Python-level draws cost ~13% of a simulation's instructions
    (callgrind at 1x, 6.00 G against 5.30 G, 2026-12-02), which is why small simulations keep
    the generators.
    """

    # not the seed itself (a 128-bit int, 48 bytes): the hash it comes from, shared by everyone's
    # stream of that name, and the person, from which a refill makes it again (~0.4 us)
    __slots__ = ("hasher", "pid", "size", "buf", "pos", "start")

    def __init__(self, hasher, pid: int, size: int):
        """Person ``pid``'s stream whose shared seed part ``hasher`` holds (``Streams._hasher``),
        ``size`` numbers at a time; nothing is drawn until the first number is asked for."""
        self.hasher = hasher
        self.pid = pid
        self.size = size
        self.start = 0  # index in the stream of the buffer's first number
        self.buf = _EMPTY  # the numbers held, packed
        self.pos = 0  # the next number is the buffer's number ``pos`` (bytes 8 * pos to 8 * pos + 8)

    def _refill(self, n: int) -> None:
        """Hold the next ``max(n, size)`` numbers."""
        used = self.start + self.pos
        mt = _random.Random(_seed(self.hasher, self.pid))  # noqa: S311
        if used:
            mt.getrandbits(64 * used)
        k = max(n, self.size)
        self.buf = _packer(k).pack(*islice(iter(mt.random, None), k))
        self.start, self.pos = used, 0
        if used:  # a stream that ran out once is a busy one: hold twice as many next time
            self.size = min(2 * self.size, MAX_BLOCK)

    def random(self) -> float:
        """The next number of the stream, in [0, 1)."""
        pos = self.pos
        if pos << 3 == len(self.buf):
            self._refill(1)
            pos = 0
        (x,) = _unpack_one(self.buf, pos << 3)
        pos += 1
        if pos << 3 == len(self.buf):
            # used up: let go at once (a stream often waits months for its next draw, and most
            # of a large simulation's streams are used up)
            self.start += pos
            self.buf, self.pos = _EMPTY, 0
        else:
            self.pos = pos
        return x

    def take(self, n: int) -> tuple[float, ...]:
        """The next ``n`` numbers of the stream."""
        pos = self.pos
        end = pos + n
        if end << 3 > len(self.buf):
            self._refill(n)
            pos, end = 0, n
        buf = self.buf
        out = _packer(n).unpack_from(buf, pos << 3)
        # keep only the numbers not used yet (a take is a contact's worth: a few per person-year)
        self.start += end
        self.buf, self.pos = (buf[end << 3:] if end << 3 < len(buf) else _EMPTY), 0
        return out


def _packer(k: int) -> struct.Struct:
    """Packs and unpacks ``k`` C doubles (made once for each k up to ``MAX_BLOCK``: ``Streams.prepare``)."""
    return _PACKERS[k] if k < len(_PACKERS) else struct.Struct(f"{k}d")
