"""The case-manager pool against queueing theory (Erlang C) and its bookkeeping rules."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import simpy
from scipy import stats

from lead_sim.model.resources import Counter, SlotPool


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in an M/M/c queue with offered load a = lambda/mu < c."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def simulate_pool(c: int, lam: float, mu: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Poisson referrals into a pool of c slots held for exponential times; returns (waited, wait)."""
    env = simpy.Environment()
    pool = SlotPool(c)
    rng = random.Random(seed)
    waited = np.zeros(n, dtype=bool)
    waits = np.zeros(n)

    def participant(i: int):
        arrived = env.now
        granted = env.event()
        if not pool.request(i, lambda _key: granted.succeed()):
            waited[i] = True
            yield granted
        waits[i] = env.now - arrived
        yield env.timeout(rng.expovariate(mu))
        pool.release()

    def arrivals():
        for i in range(n):
            yield env.timeout(rng.expovariate(lam))
            env.process(participant(i))

    env.process(arrivals())
    env.run()
    return waited, waits


@pytest.mark.parametrize("c,lam,mu", [(5, 3.5, 1.0), (20, 15.0, 1.0)])
def test_pool_reproduces_erlang_c(c, lam, mu):
    n, burn = 60_000, 2_000
    waited, waits = simulate_pool(c, lam, mu, n, seed=c)
    waited, waits = waited[burn:], waits[burn:]
    p_wait = erlang_c(c, lam / mu)
    mean_wait = p_wait / (c * mu - lam)
    # batch means: 30 batches give a t-interval that accounts for autocorrelation
    batches = 30
    for name, series, truth in (("P(wait)", waited.astype(float), p_wait), ("mean wait", waits, mean_wait)):
        b = series[: len(series) // batches * batches].reshape(batches, -1).mean(axis=1)
        half = stats.t.ppf(0.9995, batches - 1) * b.std(ddof=1) / math.sqrt(batches)
        assert abs(b.mean() - truth) <= half, (
            f"{name}: simulated {b.mean():.4f} +/- {half:.4f} (99.9%) vs Erlang C {truth:.4f} (c={c}, a={lam / mu})"
        )


def test_pool_is_first_come_first_served_and_cancellable():
    pool = SlotPool(1)
    granted: list[str] = []
    assert pool.request("a", granted.append)
    assert not pool.request("b", granted.append)
    assert not pool.request("c", granted.append)
    assert not pool.request("d", granted.append)
    assert pool.cancel("c") and not pool.cancel("c")
    pool.release()
    assert granted == ["b"] and pool.in_use == 1 and pool.waiting == 1
    pool.set_capacity(3)
    assert granted == ["b", "d"] and pool.in_use == 2 and pool.waiting == 0
    pool.release()
    pool.release()
    assert pool.in_use == 0
    with pytest.raises(RuntimeError):
        pool.release()


def test_new_request_queues_behind_waiters_even_after_capacity_frees():
    pool = SlotPool(1)
    order: list[str] = []
    pool.request("a", order.append)
    pool.request("b", order.append)
    pool.set_capacity(0)
    pool.release()  # a leaves; capacity 0 so b keeps waiting
    assert order == [] and pool.waiting == 1
    assert not pool.request("c", order.append), "c must not jump the queue"
    pool.set_capacity(1)
    assert order == ["b"]


def test_counter_capacity():
    unlimited, two = Counter(None), Counter(2)
    assert all(unlimited.try_take() for _ in range(1000))
    assert two.try_take() and two.try_take() and not two.try_take()
    two.give_back()
    assert two.try_take()
