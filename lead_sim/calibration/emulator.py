"""History matching with Gaussian-process emulators, and the posterior on the emulators.

Simulating the Seattle evaluation takes seconds per parameter set, too slow for a sampler that
needs hundreds of thousands of likelihood evaluations. So the simulation is replaced, for
inference only, by a statistical surrogate fitted to a few hundred simulated parameter sets:

1. **Waves of design points.** Wave 1 is a scrambled Sobol sample of the parameters' bounds.
   Each point is simulated for a fixed set of replications (the same seeds at every point:
   common random numbers), and each target's *summary* is computed: the mean over replications
   of the log odds ratio of the evaluation design, or the log of the mean LEAD group size.
2. **Emulators.** For every target one Gaussian process (scikit-learn
   ``GaussianProcessRegressor``; constant x Matern 5/2 kernel with one length scale per parameter,
   plus a white-noise term for the replication noise) maps the parameters (scaled to the unit
   cube) to the summary, with a predictive variance.
3. **Implausibility.** ``I_k(x) = |z_k - m_k(x)| / sqrt(v_k(x) + s_k^2 + d_k^2)`` for each fitted
   target k: z the observed value, m and v the emulator's mean and variance, s the observation's
   standard error, d the model discrepancy (``discrepancy_sd`` on the log scale, an assumption).
   Points whose largest I_k exceeds 3 (Pukelsheim's three-sigma rule) are ruled out; the next wave
   is drawn from the points not ruled out yet ("NROY"), spread out by a greedy maximin choice, and
   the emulators are refitted on all points.
4. **Posterior.** A uniform prior on the bounds times the Gaussian likelihood of the fitted
   targets under the emulators (variances as in the implausibility), sampled with ``emcee``'s
   affine-invariant ensemble sampler.

Identifiability is reported from the same pieces: per parameter the prior and posterior and the
shrinkage ``1 - var(posterior) / var(prior)``; the posterior correlations; and, for each target
alone, the shrinkage it would give (importance weights of a large prior sample by that target's
likelihood): which targets inform which parameters.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: implausibility above which a parameter set is ruled out
CUTOFF = 3.0
#: shrinkage below which the targets leave a parameter essentially at its prior
NOT_IDENTIFIED_BELOW = 0.2
WELL_IDENTIFIED_FROM = 0.6


@dataclass(frozen=True)
class Observed:
    """One target on the emulators' scale: its name, the observed value ``z`` (a log odds ratio or
    the log of a count), its standard error ``se`` on that scale, and whether it is fitted (a
    held-out target is emulated and reported, never in the implausibility or the likelihood)."""

    name: str
    z: float
    se: float
    fitted: bool = True
    weight: float = 1.0


@dataclass(frozen=True)
class Bounds:
    """The box the parameters are searched in (the uniform prior): names, lows, highs."""

    names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Parameter values to the unit cube."""
        return (np.asarray(x, float) - self.low) / (self.high - self.low)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Unit-cube points to parameter values."""
        return self.low + np.asarray(u, float) * (self.high - self.low)


def sobol(d: int, n: int, seed: int) -> np.ndarray:
    """``n`` scrambled Sobol points in the unit cube of dimension ``d`` (any ``n``)."""
    from scipy.stats import qmc

    with warnings.catch_warnings():  # a power of 2 only balances the points better
        warnings.filterwarnings("ignore", message="The balance properties of Sobol", category=UserWarning)
        return qmc.Sobol(d=d, scramble=True, seed=seed).random(n)


class Emulators:
    """One Gaussian process per target, fitted on unit-cube inputs (see the module's docstring)."""

    def __init__(self, seed: int = 0):
        """``seed``: for the restarts of the kernel's hyperparameter search (deterministic fits)."""
        self.seed = seed
        self.models: dict[str, Any] = {}  # name -> fitted sklearn GaussianProcessRegressor

    def fit(self, U: np.ndarray, Y: dict[str, np.ndarray]) -> Emulators:
        """Fit each target's process on the points where its summary is finite."""
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        d = U.shape[1]
        for name, y in Y.items():
            ok = np.isfinite(y)
            if ok.sum() < d + 2:
                raise ValueError(f"{name}: only {int(ok.sum())} simulated points give a finite value; the emulator "
                                 f"needs at least {d + 2}")
            kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(d, 0.5), (0.02, 50.0), nu=2.5)
                      + WhiteKernel(0.05, (1e-6, 1.0)))
            gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=3, random_state=self.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence notes of the kernel search at a bound
                gp.fit(U[ok], y[ok])
            self.models[name] = gp
        return self

    def predict(self, U: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per target: the emulator's mean and variance of the *expected* summary at ``U`` (the
        fitted white noise, which is replication noise, removed from the variance)."""
        out = {}
        for name, gp in self.models.items():
            mean, sd = gp.predict(np.atleast_2d(U), return_std=True)
            noise = _white_noise(gp)
            out[name] = (mean, np.maximum(sd**2 - noise, 1e-12))
        return out

    def noise_sd(self) -> dict[str, float]:
        """Per target: the fitted replication-noise standard deviation of the summary."""
        return {name: math.sqrt(_white_noise(gp)) for name, gp in self.models.items()}


def _white_noise(gp) -> float:
    """The fitted WhiteKernel's variance on the data scale (normalize_y rescales it)."""
    scale = float(np.atleast_1d(gp._y_train_std)[0]) if getattr(gp, "_y_train_std", None) is not None else 1.0
    return float(gp.kernel_.k2.noise_level) * scale**2


def implausibility(em: Emulators, targets: Sequence[Observed], U: np.ndarray, discrepancy_sd: float) -> np.ndarray:
    """``I_k`` at each point (rows) for each fitted target (columns, in ``targets`` order)."""
    pred = em.predict(U)
    cols = []
    for t in targets:
        if not t.fitted:
            continue
        m, v = pred[t.name]
        cols.append(np.abs(t.z - m) / np.sqrt(v + t.se**2 + discrepancy_sd**2))
    return np.column_stack(cols)


def log_likelihood(em: Emulators, targets: Sequence[Observed], U: np.ndarray, discrepancy_sd: float,
                   only: str | None = None) -> np.ndarray:
    """The Gaussian log-likelihood of the fitted targets (or of target ``only``) at each point."""
    pred = em.predict(U)
    total = np.zeros(len(np.atleast_2d(U)))
    for t in targets:
        if (only is None and not t.fitted) or (only is not None and t.name != only):
            continue
        m, v = pred[t.name]
        var = v + t.se**2 + discrepancy_sd**2
        total += t.weight * (-0.5 * (t.z - m) ** 2 / var - 0.5 * np.log(2 * math.pi * var))
    return total


def maximin(candidates: np.ndarray, n: int, existing: np.ndarray) -> np.ndarray:
    """``n`` of the candidate points, each in turn the farthest from the points chosen or existing."""
    if len(candidates) <= n:
        return candidates
    chosen: list[int] = []
    ref = existing if len(existing) else candidates[:1]
    dist = np.min(((candidates[:, None, :] - ref[None, :, :]) ** 2).sum(-1), axis=1)
    for _ in range(n):
        i = int(np.argmax(dist))
        chosen.append(i)
        dist = np.minimum(dist, ((candidates - candidates[i]) ** 2).sum(-1))
        dist[i] = -1.0
    return candidates[chosen]


@dataclass
class Wave:
    """What one wave did: its points, and the share of a large prior sample still not ruled out after it."""

    number: int
    points: int
    nroy_share: float
    best_max_implausibility: float


@dataclass
class HistoryMatch:
    """The whole procedure for one calibration problem.

    ``simulate(X)`` receives parameter values (rows) and returns one dict per row, target name ->
    summary (NaN when the design cannot estimate it there); it is where simulation, checkpoints and
    resumption live (the caller's side), so a resumed run gets the same points and answers.
    """

    bounds: Bounds
    targets: list[Observed]
    simulate: Callable[[np.ndarray], list[dict[str, float]]]
    discrepancy_sd: float = 0.1
    seed: int = 0
    X: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    Y: dict[str, np.ndarray] = field(default_factory=dict)
    waves: list[Wave] = field(default_factory=list)
    emulators: Emulators | None = None
    wave_of_point: list[int] = field(default_factory=list)

    @property
    def d(self) -> int:
        """Number of parameters."""
        return len(self.bounds.names)

    def _add(self, X: np.ndarray, wave: int) -> None:
        rows = self.simulate(X)
        self.X = X if self.X.size == 0 else np.vstack([self.X, X])
        for t in self.targets:
            new = np.array([r.get(t.name, math.nan) for r in rows], float)
            self.Y[t.name] = np.concatenate([self.Y.get(t.name, np.empty(0)), new])
        self.wave_of_point += [wave] * len(X)

    def run(self, waves: int, first_points: int, later_points: int, candidates: int = 8192,
            on_wave: Callable[[Wave], None] | None = None) -> None:
        """Run ``waves`` waves (``first_points`` points, then ``later_points`` each)."""
        prior = sobol(self.d, candidates, self.seed + 1)
        self._add(self.bounds.from_unit(sobol(self.d, first_points, self.seed)), 1)
        for w in range(1, waves + 1):
            self.emulators = Emulators(self.seed).fit(self.bounds.to_unit(self.X), self.Y)
            imp = implausibility(self.emulators, self.targets, prior, self.discrepancy_sd).max(axis=1)
            wave = Wave(w, len(self.X), float(np.mean(imp < CUTOFF)), float(imp.min()))
            self.waves.append(wave)
            if on_wave:
                on_wave(wave)
            if w == waves:
                break
            keep = prior[imp < CUTOFF]
            if len(keep) < later_points:  # nothing or little left: refine where the fit is least bad
                keep = prior[np.argsort(imp)[: max(later_points * 4, 64)]]
            new = maximin(keep, later_points, self.bounds.to_unit(self.X))
            self._add(self.bounds.from_unit(new), w + 1)

    def posterior(self, size: int, walkers: int = 32, steps: int = 3000, burn: int = 1000) -> pd.DataFrame:
        """``size`` parameter sets from the posterior on the emulators (emcee), as ``posterior.csv``
        rows: draw, one column per parameter. ``attrs`` holds the sampler's diagnostics."""
        import emcee

        em = self._fitted()
        d = self.d

        def log_post(U: np.ndarray) -> np.ndarray:
            U = np.atleast_2d(U)
            inside = np.all((U >= 0) & (U <= 1), axis=1)
            out = np.full(len(U), -np.inf)
            if inside.any():
                out[inside] = log_likelihood(em, self.targets, U[inside], self.discrepancy_sd)
            return out

        rng = np.random.default_rng(self.seed)
        start_pool = sobol(d, 4096, self.seed + 2)
        lp = log_post(start_pool)
        best = start_pool[np.argsort(-lp)[:walkers]]
        p0 = np.clip(best + rng.normal(0, 0.01, best.shape), 0, 1)
        sampler = emcee.EnsembleSampler(walkers, d, log_post, vectorize=True)
        sampler.random_state = np.random.RandomState(self.seed % 2**32).get_state()
        sampler.run_mcmc(p0, steps, progress=False)
        chain = sampler.get_chain(discard=burn, flat=True)
        logging.getLogger("emcee").setLevel(logging.ERROR)  # its note on short chains: reported in attrs instead
        idx = rng.choice(len(chain), size=size, replace=len(chain) < size)
        values = self.bounds.from_unit(chain[idx])
        out = pd.DataFrame(values, columns=list(self.bounds.names))
        out.insert(0, "draw", np.arange(size))
        try:
            tau = float(np.max(sampler.get_autocorr_time(discard=burn, quiet=True)))
        except Exception:  # noqa: BLE001 - emcee raises its own error types for short chains
            tau = math.nan
        out.attrs.update({"acceptance_fraction": float(np.mean(sampler.acceptance_fraction)),
                          "autocorrelation_steps": tau, "chain_draws": int(len(chain))})
        return out

    def _fitted(self) -> Emulators:
        if self.emulators is None:
            raise RuntimeError("run the waves first")
        return self.emulators

    def identifiability(self, post: pd.DataFrame) -> pd.DataFrame:
        """Per parameter: the prior (uniform on the bounds), the posterior's median and 95%
        interval, the shrinkage 1 - var(posterior)/var(prior), whether the posterior piles up at a
        bound, and a verdict in words."""
        rows = []
        for j, name in enumerate(self.bounds.names):
            lo, hi = float(self.bounds.low[j]), float(self.bounds.high[j])
            v = post[name].to_numpy(float)
            prior_sd = (hi - lo) / math.sqrt(12)
            shrink = 1 - float(np.var(v)) / prior_sd**2
            q = np.quantile(v, [0.025, 0.5, 0.975])
            edge = 0.05 * (hi - lo)
            at_bound = "low" if q[1] - lo < edge else "high" if hi - q[1] < edge else ""
            verdict = ("not identified: the posterior is close to the prior" if shrink < NOT_IDENTIFIED_BELOW else
                       "well identified" if shrink >= WELL_IDENTIFIED_FROM else "partly identified")
            rows.append({"parameter": name, "prior_low": lo, "prior_high": hi, "prior_mean": (lo + hi) / 2,
                         "prior_sd": prior_sd, "posterior_median": q[1], "posterior_low_95": q[0],
                         "posterior_high_95": q[2], "posterior_sd": float(np.std(v)), "shrinkage": shrink,
                         "median_at_bound": at_bound, "verdict": verdict})
        return pd.DataFrame(rows)

    def informs(self, size: int = 16384) -> pd.DataFrame:
        """Which targets inform which parameters: for each target alone (held-out ones too), the
        shrinkage of each parameter under that target's likelihood (importance weights of a prior
        sample), and the effective sample size of the weights."""
        em = self._fitted()
        U = sobol(self.d, size, self.seed + 3)
        rows = []
        for t in self.targets:
            lw = log_likelihood(em, [Observed(t.name, t.z, t.se)], U, self.discrepancy_sd, only=t.name)
            w = np.exp(lw - lw.max())
            w /= w.sum()
            row: dict = {"target": t.name, "role": "fitted" if t.fitted else "held_out",
                         "effective_sample_size": float(1 / np.sum(w**2))}
            for j, name in enumerate(self.bounds.names):
                mean = float(np.sum(w * U[:, j]))
                var = float(np.sum(w * (U[:, j] - mean) ** 2))
                row[name] = 1 - var * 12  # the unit cube's prior variance is 1/12
            rows.append(row)
        return pd.DataFrame(rows)

    def emulator_check(self) -> pd.DataFrame:
        """Out-of-sample check of the emulators: fitted on every wave but the last, each target's
        standardised error at the last wave's points (about 95% should lie within +-2 if the
        emulators' uncertainty is honest). Empty with one wave."""
        last = max(self.wave_of_point) if self.wave_of_point else 1
        train = np.array(self.wave_of_point) < last
        if last == 1 or train.sum() < self.d + 2:
            return pd.DataFrame(columns=["target", "points", "within_2sd", "rmse", "mean_abs_standardised_error"])
        U = self.bounds.to_unit(self.X)
        em = Emulators(self.seed).fit(U[train], {k: v[train] for k, v in self.Y.items()})
        pred = em.predict(U[~train])
        noise = em.noise_sd()
        rows = []
        for t in self.targets:
            y = self.Y[t.name][~train]
            m, v = pred[t.name]
            ok = np.isfinite(y)
            z = (y[ok] - m[ok]) / np.sqrt(v[ok] + noise[t.name] ** 2)
            rows.append({"target": t.name, "points": int(ok.sum()), "within_2sd": float(np.mean(np.abs(z) <= 2)),
                         "rmse": float(np.sqrt(np.mean((y[ok] - m[ok]) ** 2))),
                         "mean_abs_standardised_error": float(np.mean(np.abs(z)))})
        return pd.DataFrame(rows)

    def design_table(self) -> pd.DataFrame:
        """Every simulated point: wave, parameter values, each target's summary."""
        out = pd.DataFrame(self.X, columns=list(self.bounds.names))
        out.insert(0, "wave", self.wave_of_point)
        for name, y in self.Y.items():
            out[f"summary_{name}"] = y
        return out


def posterior_plot(hm: HistoryMatch, post: pd.DataFrame, path) -> None:
    """One panel per parameter: the posterior's histogram over the uniform prior (the bounds), and
    below the diagonal the pairs of parameters (posterior draws)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(hm.bounds.names)
    d = len(names)

    def label(path: str) -> str:  # the key's last part, or two when the last is a distribution's field
        parts = path.split(".")
        short = parts[-2:] if parts[-1] in ("sd", "mean", "median", "p90", "usd", "low", "high") else parts[-1:]
        return " ".join(short).replace("_", " ")

    fig, axes = plt.subplots(d, d, figsize=(2.2 * d + 0.6, 2.2 * d + 0.6), squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i][j]
            lo_j, hi_j = hm.bounds.low[j], hm.bounds.high[j]
            if i == j:
                ax.hist(post[names[j]], bins=30, range=(lo_j, hi_j), density=True, color="#0072B2", alpha=0.8)
                ax.axhline(1 / (hi_j - lo_j), color="#999999", ls="--", lw=1)
                ax.set_yticks([])
            elif i > j:
                ax.scatter(post[names[j]], post[names[i]], s=2, alpha=0.3, color="#0072B2")
                ax.set_ylim(hm.bounds.low[i], hm.bounds.high[i])
            else:
                ax.axis("off")
                continue
            ax.set_xlim(lo_j, hi_j)
            if i == d - 1:
                ax.set_xlabel(label(names[j]), fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(label(names[i]), fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle("posterior (blue) against the uniform prior on the bounds (grey dashes)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
