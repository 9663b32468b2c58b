"""Shared, capacity-limited resources: the LEAD case-manager pool and counted places.

These are deliberately small counters rather than ``simpy.Resource``: a slot is held for a
whole enrolment while the person goes on living (being contacted, jailed, ...) in their own
process, and ``simpy.Resource`` scans its user list on every release (see
PERFORMANCE_NOTES.md). Waiting is first come, first served; a waiter can be withdrawn (an
intake deadline passes, the person leaves) without disturbing the others.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable


class SlotPool:
    """``capacity`` slots; requests beyond it wait in FIFO order until a slot frees.

    ``request(key, on_grant)`` returns True when a slot is taken at once; otherwise the key
    waits and ``on_grant(key)`` is called when it gets a slot. ``cancel(key)`` withdraws a
    waiting key; ``release()`` frees a held slot (handing it to the first waiter).
    """

    __slots__ = ("capacity", "in_use", "_waiting")

    def __init__(self, capacity: int):
        """A pool of ``capacity`` slots, none held and no one waiting."""
        self.capacity = capacity
        self.in_use = 0
        self._waiting: OrderedDict[Hashable, Callable[[Hashable], None]] = OrderedDict()

    @property
    def waiting(self) -> int:
        """The number of keys waiting for a slot."""
        return len(self._waiting)

    def full(self) -> bool:
        """Whether every slot is held."""
        return self.in_use >= self.capacity

    def request(self, key: Hashable, on_grant: Callable[[Hashable], None]) -> bool:
        """Take a slot for ``key`` now (True) or queue it behind those waiting (False: ``on_grant(key)``
        is called when it gets one)."""
        if self.in_use < self.capacity and not self._waiting:
            self.in_use += 1
            return True
        self._waiting[key] = on_grant
        return False

    def cancel(self, key: Hashable) -> bool:
        """Withdraw ``key`` from the queue; False if it was not waiting."""
        return self._waiting.pop(key, None) is not None

    def release(self) -> None:
        """Free a held slot and hand it to the first waiter, if any; RuntimeError if none is held."""
        if self.in_use <= 0:
            raise RuntimeError("SlotPool.release() without a held slot")
        self.in_use -= 1
        self._grant_waiting()

    def set_capacity(self, capacity: int) -> None:
        """Change the number of slots (case managers hired or gone): freed room goes to the waiters at
        once; slots held beyond a lower capacity stay held until released."""
        self.capacity = capacity
        self._grant_waiting()

    def _grant_waiting(self) -> None:
        while self._waiting and self.in_use < self.capacity:
            key, on_grant = self._waiting.popitem(last=False)
            self.in_use += 1
            on_grant(key)


class Counter:
    """Counted places (jail beds, housing vouchers); ``None`` capacity never binds."""

    __slots__ = ("capacity", "in_use")

    def __init__(self, capacity: int | None):
        """``capacity`` places (None: unlimited), none taken."""
        self.capacity = capacity
        self.in_use = 0

    def try_take(self) -> bool:
        """Take a place if one is free (True); False when all are taken."""
        if self.capacity is not None and self.in_use >= self.capacity:
            return False
        self.in_use += 1
        return True

    def give_back(self) -> None:
        """Give back a place taken with ``try_take``."""
        self.in_use -= 1
