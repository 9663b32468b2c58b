"""Calibration to published evaluation results, by simulating the evaluation's own design.

Targets are odds ratios (Seattle 2017), so each trial runs the LEAD arm for a fixed set of
replications (the same seeds in every trial: common random numbers keep the objective smooth),
applies the evaluation design to the pooled simulated people (``evaluation.py``) and compares
the simulated log odds ratios with the published ones.

Objective: the sum of named, weighted components, each a normal negative log-likelihood on the
log odds ratio, ``w * (log OR_sim - log OR_target)^2 / (2 se^2)``. The published papers give
no standard errors; ``se`` is derived from the group sizes (``n_lead``, ``n_comparison``) as
for a 2x2x2 table with outcome prevalence 1/2 and independent cells,
``sqrt(2 / (0.25 n_lead) + 2 / (0.25 n_comparison))`` (0.33 for 203 vs 115): conservative,
because repeated measures on the same people correlate.

Targets can be *held out*: they are simulated and reported with the fitted ones (validation:
a prediction the fit did not use) but contribute nothing to the objective. What to fit, its
bounds and the held-out targets can be declared in the scenario's ``calibration`` section
(``scenario/calibration_section.py``); :func:`setup` merges that with the command line.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.model.params import ModelParams
from lead_sim.outcomes import evaluation as E
from lead_sim.runs.experiment import run_experiment
from lead_sim.scenario.calibration_section import calibrated_arm
from lead_sim.scenario.loading import LoadedScenario, ScenarioError, with_value
from lead_sim.scenario.schema import Scenario

#: the ``role`` column of goodness-of-fit tables
FITTED, HELD_OUT = "fitted", "held_out"


DEFAULT_TARGETS = Path(__file__).resolve().parents[2] / "scenarios" / "targets" / "seattle_2017_recidivism.csv"


@dataclass(frozen=True)
class Target:
    """One published result to fit (or to hold out): an odds ratio of the evaluation design, or a
    count (``measure`` ``count``: the evaluation's LEAD group size), with the standard error of its
    log and its weight in the objective."""

    name: str
    odds_ratio: float  # the observed value: an odds ratio, or the count for measure "count"
    se_log_or: float  # standard error of the log of the value
    weight: float = 1.0
    source: str = ""
    fitted: bool = True  # False: held out, predicted and reported but not in the objective
    measure: str = "odds_ratio"

    @property
    def role(self) -> str:
        """``fitted`` or ``held_out``: the ``role`` column of the goodness-of-fit tables."""
        return FITTED if self.fitted else HELD_OUT

    @property
    def value(self) -> float:
        """The observed value (odds ratio or count)."""
        return self.odds_ratio


#: a count target's standard error on the log scale beyond Poisson noise [A]: the evaluation's
#: LEAD group is the referred people who consented and were followed, not every referral
COUNT_EXTRA_SE_LOG = 0.1


def read_targets(path: Path, weights: dict[str, float] | None = None, held_out: Iterable[str] = ()) -> list[Target]:
    """Odds-ratio targets from a CSV with columns target, measure, value, n_lead, n_comparison, source.

    Rows without a value (reported as "no significant effect") are skipped; rows whose target
    the evaluation design does not produce are an error. ``weights`` and ``held_out`` must name
    targets of the file, and at least one target must be left to fit.
    """
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read targets ({exc})"]) from None
    need = {"target", "measure", "value", "n_lead", "n_comparison"}
    missing = need - set(df.columns)
    if missing:
        raise ScenarioError([f"{path}: targets need the columns {sorted(need)}; missing {sorted(missing)}"])
    out = []
    for i, row in df.iterrows():
        if pd.isna(row["value"]):
            continue
        if str(row["measure"]) == "count" and row["target"] == N.TARGET_LEAD_GROUP_SIZE:
            if not row["value"] > 0:
                raise ScenarioError([f"{path}: row {i + 2}: a count must be positive; found {row['value']!r}"])
            out.append(Target(row["target"], float(row["value"]), math.sqrt(1 / row["value"] + COUNT_EXTRA_SE_LOG**2),
                              (weights or {}).get(row["target"], 1.0), str(row.get("source", "")),
                              fitted=row["target"] not in held_out, measure="count"))
            continue
        if not str(row["measure"]).startswith("odds_ratio"):
            continue
        if row["target"] not in E.TARGETS:
            raise ScenarioError([f"{path}: row {i + 2}: target {row['target']!r} is not one the evaluation design "
                                 f"produces; expected one of {list(E.TARGETS)}"])
        if not row["value"] > 0 or not row["n_lead"] > 0 or not row["n_comparison"] > 0:
            raise ScenarioError([f"{path}: row {i + 2}: value, n_lead and n_comparison must be positive"])
        se = math.sqrt(2 / (0.25 * row["n_lead"]) + 2 / (0.25 * row["n_comparison"]))
        w = (weights or {}).get(row["target"], 1.0)
        out.append(Target(row["target"], float(row["value"]), se, w, str(row.get("source", "")),
                          fitted=row["target"] not in held_out))
    if not out:
        raise ScenarioError([f"{path}: no odds-ratio targets with values"])
    found = [t.name for t in out]
    for label, given in (("weight", list(weights or {})), ("held-out target", list(held_out))):
        unknown = [t for t in given if t not in found]
        if unknown:
            raise ScenarioError([f"{path}: {label} {', '.join(map(repr, unknown))} is not an odds-ratio target with "
                                 f"a value in this file; found {found}"])
    if not any(t.fitted for t in out):
        raise ScenarioError([f"{path}: every target is held out ({found}), so nothing is left to fit"])
    return out


@dataclass
class Parameter:
    """A scenario key to calibrate (dotted path) and the bounds it is searched within."""

    path: str
    low: float
    high: float


def parse_parameter(text: str) -> Parameter:
    """``path=low:high``."""
    path, sep, rng = text.partition("=")
    lo, sep2, hi = rng.partition(":")
    try:
        low, high = float(lo), float(hi)
    except ValueError:
        raise ScenarioError([f"--param {text!r}: expected path=low:high, e.g. lead.rr_contact_engaged=0.2:1"]) from None
    if not sep or not sep2 or not path or not low < high:
        raise ScenarioError([f"--param {text!r}: expected path=low:high with low < high"])
    return Parameter(path.strip(), low, high)


@dataclass(frozen=True)
class Setup:
    """One calibration: the arm, what to fit within which bounds, and the targets (fitted or held
    out); the scenario's ``calibration`` section merged with the command line."""

    arm: str
    parameters: list[Parameter]
    targets: list[Target]
    targets_path: Path
    weights: dict[str, float]
    held_out: list[str]

    def section(self) -> dict:
        """This calibration as a scenario's ``calibration`` section (for the calibrated scenario)."""
        out: dict = {"targets": str(self.targets_path), "arm": self.arm,
                     "parameters": {p.path: {"low": p.low, "high": p.high} for p in self.parameters}}
        if self.weights:
            out["weights"] = dict(self.weights)
        if self.held_out:
            out["held_out"] = list(self.held_out)
        return out


def setup(loaded: LoadedScenario, params: Iterable[str] = (), weights: dict[str, float] | None = None,
          targets_path: Path | None = None, held_out: Iterable[str] = (), arm: str | None = None,
          default_targets: Path | None = None) -> Setup:
    """Merge the scenario's ``calibration`` section with command-line options, which win:
    ``params`` (``path=low:high``) replace the section's parameters, ``targets_path`` its targets
    file, ``held_out`` (when given) its held-out list; ``weights`` override the section's weight
    of the same target. Checks what loading the scenario cannot: that the targets file exists
    and holds every target named, and that the arm accepts both bounds of each ``--param``.

    Raises ScenarioError with one line per problem, naming the scenario file and key or the option.
    """
    base, doc = loaded.base, loaded.document
    section = base.calibration
    problems: list[str] = []
    arm = calibrated_arm(list(loaded.arms), base.run.comparator, section, arm)
    if arm not in loaded.arms:
        raise ScenarioError([f"--arm {arm!r}: expected one of {list(loaded.arms)}"])
    params = list(params)
    if params:
        parameters = [parse_parameter(p) for p in params]
        for text, p in zip(params, parameters, strict=True):
            for value in (p.low, p.high):
                try:
                    with_value(loaded.arms[arm], p.path, value)
                except ScenarioError as exc:
                    reasons = "; ".join(line.split(": ", 1)[-1] for line in exc.problems)
                    problems.append(f"--param {text}: arm {arm} refuses {p.path} = {value:g} ({reasons})")
    elif section is not None:
        parameters = [Parameter(path, b.low, b.high) for path, b in section.parameters.items()]
    else:
        raise ScenarioError([f"{doc.origin_of(())}: nothing to calibrate: give --param PATH=LOW:HIGH, or declare "
                             "calibration.parameters in the scenario"])

    def at(key: str) -> str:  # where a value of the section came from: "file: calibration.key"
        return f"{doc.origin_of(('calibration', *key.split('.')))}: calibration.{key}"

    if targets_path is not None:
        path, where = Path(targets_path), f"--targets {targets_path}"
    elif section is not None:
        path, where = Path(section.targets), at("targets")
    else:
        path, where = Path(default_targets or DEFAULT_TARGETS), "default targets"
    if not path.is_file():
        hint = ""
        if where.endswith("calibration.targets"):
            hint = (" (a relative path given with --set is read from the working directory)" if where.startswith("--set")
                    else " (a relative path is read from the folder of the scenario file that declares it)")
        raise ScenarioError(problems + [f"{where}: targets file {path} not found{hint}"])
    try:
        available = read_targets(path)
    except ScenarioError as exc:
        raise ScenarioError(problems + [f"{where}: {line}" for line in exc.problems]) from None
    names = [t.name for t in available]

    merged: dict[str, float] = {}
    sources: dict[str, str] = {}
    for name, w in (section.weights.items() if section is not None else ()):
        merged[name], sources[name] = w, at(f"weights.{name}")
    for name, w in (weights or {}).items():
        merged[name], sources[name] = w, f"--weight {name}={w:g}"
    held = list(held_out)
    held_where = {t: f"--held-out {t}" for t in held}
    if not held and section is not None:
        held = list(section.held_out)
        held_where = {t: at("held_out") for t in held}
    for name in merged:
        if name not in names:
            problems.append(f"{sources[name]}: no target {name!r} with a value in {path}; expected one of {names}")
        elif name in held:
            problems.append(f"{sources[name]}: {name} is held out (predicted, not fitted), so it takes no weight")
        elif not (math.isfinite(merged[name]) and merged[name] > 0):
            problems.append(f"{sources[name]}: expected a positive weight; found {merged[name]:g}")
    for name in held:
        if name not in names:
            problems.append(f"{held_where[name]}: no target {name!r} with a value in {path}; expected one of {names}")
    if held and set(names) <= set(held):
        problems.append(f"{next(iter(held_where.values()))}: every target of {path} is held out; nothing is left to fit")
    if problems:
        raise ScenarioError(problems)
    targets = read_targets(path, merged, held)
    return Setup(arm, parameters, targets, path, merged, held)


def simulated_estimates(sc: Scenario, arm: str, replications: int, jobs: int) -> dict[str, E.Estimate]:
    """The evaluation's estimates on the arm's people, pooled over replications."""
    res = run_experiment({arm: sc}, replications, jobs=jobs, keep_tables="all")
    ev = res.tables["events"]
    ev = ev.assign(person_id=ev["replication"].astype("int64") * 10_000_000 + ev["person_id"])
    P = ModelParams(sc)
    out = {e.target: e for e in E.evaluate(ev, P.t_start, P.t_end, P.lead_t0, E.design_of(sc))}
    per_rep = E.cohorts(ev, P.t_end, P.lead_t0, E.design_of(sc)).query("group == 1").assign(
        replication=lambda c: c["person_id"] // 10_000_000).groupby("replication").size()
    counts = per_rep.reindex(range(replications), fill_value=0).to_numpy(float)
    out[N.TARGET_LEAD_GROUP_SIZE] = count_estimate(N.TARGET_LEAD_GROUP_SIZE, counts)
    return out


def count_estimate(name: str, counts: np.ndarray) -> E.Estimate:
    """A count per replication as an :class:`Estimate`: the mean (in ``odds_ratio``), its log and a
    95% interval from the replications' spread (t-interval of the mean)."""
    from lead_sim.stats import mean_ci

    m, lo, hi = mean_ci(counts)
    if not m > 0:
        return E.Estimate(name, m, lo, hi, math.nan, math.nan, 0, 0)
    se_log = (hi - m) / 1.959963984540054 / m if len(counts) > 1 else math.nan
    return E.Estimate(name, m, lo, hi, math.log(m), se_log, int(round(m)), 0)


@dataclass
class Calibration:
    """The calibration problem for one arm: the objective to minimise and the searches that minimise it.

    Every trial is recorded in ``trials`` (parameter values, simulated odds ratios, components,
    objective) and passed to ``on_trial``; points already tried are answered from a cache, since
    the same seeds give the same answer.
    """

    base: Scenario
    arm: str
    parameters: list[Parameter]
    targets: list[Target]
    replications: int
    jobs: int
    trials: list[dict] = field(default_factory=list)
    on_trial: Callable[[dict], None] | None = None
    _cache: dict[tuple, float] = field(default_factory=dict)

    def scenario_at(self, x) -> Scenario:
        """The base scenario with the parameters set to the values ``x`` (in the order of ``parameters``)."""
        sc = self.base
        for p, v in zip(self.parameters, x, strict=True):
            sc = with_value(sc, p.path, float(v))
        return sc

    def objective(self, x) -> float:
        """Weighted sum of the fitted targets' normal negative log-likelihoods at ``x``, found by simulating.

        ``x`` is clipped to the bounds first. A target whose simulated odds ratio has no finite log
        (an empty cell) adds 1e6, so a search moves away from it.
        """
        x = [min(max(float(v), p.low), p.high) for v, p in zip(x, self.parameters, strict=True)]
        key = tuple(round(v, 12) for v in x)
        if key in self._cache:  # an optimiser revisiting a point (often a bound): same seeds, same answer
            return self._cache[key]
        est = simulated_estimates(self.scenario_at(x), self.arm, self.replications, self.jobs)
        row: dict = {"trial": len(self.trials)} | {p.path: v for p, v in zip(self.parameters, x, strict=True)}
        total = 0.0
        for t in self.targets:
            e = est[t.name]
            row[f"simulated_{'or' if t.measure == 'odds_ratio' else 'value'}_{t.name}"] = e.odds_ratio
            if not t.fitted:
                continue  # held out: predicted at every trial, never fitted
            comp = t.weight * (e.log_or - math.log(t.odds_ratio)) ** 2 / (2 * t.se_log_or**2) if math.isfinite(e.log_or) else 1e6
            row[f"component_{t.name}"] = comp
            total += comp
        row["objective"] = total
        self._cache[key] = total
        self.trials.append(row)
        if self.on_trial:
            self.on_trial(row)
        return total

    def run(self, method: str = "nelder-mead", budget: int = 30, starts: int = 2, seed: int = 0) -> np.ndarray:
        """Minimise the objective and return the best parameter values tried.

        ``method`` is ``nelder-mead`` (``starts`` runs from Halton points in the bounds, sharing about
        ``budget`` evaluations) or ``differential-evolution`` (``budget // 10`` generations, at least
        one). ``seed`` fixes the starting points, not the simulation's random numbers.
        """
        from scipy.optimize import differential_evolution, minimize  # imported here: slow to import
        from scipy.stats import qmc

        lows = np.array([p.low for p in self.parameters])
        highs = np.array([p.high for p in self.parameters])
        if method == "differential-evolution":
            differential_evolution(self.objective, list(zip(lows, highs, strict=True)), maxiter=max(1, budget // 10),
                                   popsize=5, seed=seed, polish=False, init="sobol", updating="immediate", workers=1)
            return self.best()
        sampler = qmc.Halton(d=len(self.parameters), seed=seed)
        per_start = max(4, budget // max(1, starts))
        for unit in sampler.random(starts):
            x0 = lows + unit * (highs - lows)
            minimize(self.objective, x0, method="Nelder-Mead", bounds=list(zip(lows, highs, strict=True)),
                     options={"maxfev": per_start, "xatol": 1e-3 * float(np.max(highs - lows)), "fatol": 1e-3,
                              "initial_simplex": _simplex(x0, lows, highs)})
        return self.best()

    def sir(self, budget: int, resample: int, seed: int = 0) -> pd.DataFrame:
        """Sampling-importance-resampling: ``budget`` parameter sets from uniform priors on the
        bounds (a scrambled Sobol sequence), weighted by the likelihood exp(-objective), then
        ``resample`` sets drawn with those weights. Returns the posterior sample (draw, values,
        prior_importance_weight), usable as PSA draws: its rows are equally likely, and the weight
        of the prior point each was drawn from is kept for diagnostics only (weighting the rows by
        it again would count the likelihood twice)."""
        from scipy.stats import qmc  # imported here: slow to import

        lows = np.array([p.low for p in self.parameters])
        highs = np.array([p.high for p in self.parameters])
        with warnings.catch_warnings():  # any budget is allowed: a power of 2 only balances the points better
            warnings.filterwarnings("ignore", message="The balance properties of Sobol", category=UserWarning)
            pts = qmc.Sobol(d=len(self.parameters), scramble=True, seed=seed).random(budget)
        f = np.array([self.objective(lows + u * (highs - lows)) for u in pts])
        w = np.exp(-(f - f.min()))
        w /= w.sum()
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(pts), size=resample, replace=True, p=w)
        values = lows + pts[idx] * (highs - lows)
        out = pd.DataFrame(values, columns=[p.path for p in self.parameters])
        out.insert(0, "draw", np.arange(resample))
        out["prior_importance_weight"] = w[idx]
        out.attrs["effective_sample_size"] = float(1.0 / np.sum(w**2))
        return out

    def best(self) -> np.ndarray:
        """The best trial so far (an optimiser stopped by its budget may not return it)."""
        row = min(self.trials, key=lambda r: r["objective"])
        return np.array([row[p.path] for p in self.parameters])


def _simplex(x0: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """A starting simplex spanning a quarter of each parameter's range, inside the bounds."""
    pts = [x0]
    for i in range(len(x0)):
        step = 0.25 * (highs[i] - lows[i])
        x = x0.copy()
        x[i] = x0[i] + step if x0[i] + step <= highs[i] else x0[i] - step
        pts.append(x)
    return np.array(pts)


def goodness_of_fit(est: dict[str, E.Estimate], targets: list[Target]) -> pd.DataFrame:
    """Each target against the simulated evaluation (``measure``: odds_ratio, or count for the LEAD
    group size, whose "log odds ratio" in ``est`` is the log of the count per replication).

    ``observed_inside_interval``: the published value inside the simulated one's 95%
    interval, which narrows as replications are added (the published estimate's own
    uncertainty not counted). ``z_difference`` and ``consistent_95``: the difference of the log
    odds ratios over the standard error of that difference, both estimates' uncertainty counted
    (the published one's is ``se_log_or``, from its confidence interval): what to quote when
    saying the model reproduces a published result.
    """
    rows = []
    for t in targets:
        e = est.get(t.name)
        if e is None:  # a count target the caller did not simulate
            continue
        inside = e.ci_low <= t.odds_ratio <= e.ci_high if math.isfinite(e.ci_low) else False
        se = math.hypot(e.se_log_or, t.se_log_or) if math.isfinite(e.se_log_or) else math.nan
        z = (e.log_or - math.log(t.odds_ratio)) / se if math.isfinite(e.log_or) and se > 0 else math.nan
        rows.append({"target": t.name, "measure": t.measure, "role": t.role, "observed_value": t.odds_ratio, "simulated_value": e.odds_ratio,
                     "simulated_ci_low": e.ci_low, "simulated_ci_high": e.ci_high, "observed_inside_interval": inside,
                     "z_difference": z, "consistent_95": bool(abs(z) <= 1.959963984540054) if z == z else False,
                     "n_lead_simulated": e.n_lead, "n_comparison_simulated": e.n_comparison, "source": t.source})
    return pd.DataFrame(rows)


# ---- checking predictions against targets not used in fitting ------------------------------------------


def read_any_targets(path: Path) -> pd.DataFrame:
    """target, value from either format: the published odds ratios (target, measure, value, ...)
    or the table written by ``lead-sim targets`` (target, value, standard_error, ...)."""
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read targets ({exc})"]) from None
    if not {"target", "value"} <= set(df.columns):
        raise ScenarioError([f"{path}: targets need the columns target and value; found {list(df.columns)}"])
    df = df[df["value"].notna()].copy()
    if "measure" in df.columns:
        df = df[df["measure"].astype(str).str.startswith("odds_ratio")]
        df["target"] = df["target"] + "_odds_ratio"
    return df[["target", "value"]].reset_index(drop=True)


def predictions(sc: Scenario, arm: str, replications: int, jobs: int) -> pd.DataFrame:
    """Per-replication predictions, measured the way each kind of target was measured (long table).

    Published odds ratios: the evaluation design on the simulated event log. Targets built from
    records (``lead-sim targets``): the simulated arm is first turned into the records an
    evaluator would receive, then measured by the same code (``records.build_targets``).
    """
    from lead_sim.calibration import records as R

    res = run_experiment({arm: sc}, replications, jobs=jobs, keep_tables="all")
    P = ModelParams(sc)
    rows = []
    ev_all, sp_all = res.tables["events"], res.tables["spells"]
    for rep, ev in ev_all.groupby("replication"):
        for e in E.evaluate(ev, P.t_start, P.t_end, P.lead_t0, E.design_of(sc)):
            rows.append((rep, f"{e.target}_odds_ratio", e.odds_ratio))
        rec = R.records_from_simulation(ev, sp_all[sp_all["replication"] == rep], sc.run.start_date, P.t_end)
        built = R.build_targets(rec, sc.run.start_date, sc.run.end_date, "simulation")
        rows += [(rep, t, v) for t, v in zip(built["target"], built["value"], strict=True)]
    return pd.DataFrame(rows, columns=["replication", "target", "value"])


def check_fit(targets: pd.DataFrame, pred: pd.DataFrame) -> pd.DataFrame:
    """Observed value against the model's 95% prediction interval (2.5th-97.5th percentile of
    the replications: one replication is one simulated evaluation of the scenario's size)."""
    rows = []
    for t in targets.itertuples(index=False):
        v = pred.loc[pred["target"] == t.target, "value"].dropna().to_numpy()
        if len(v) == 0:
            rows.append((t.target, t.value, math.nan, math.nan, math.nan, "not predicted by the model", 0))
            continue
        lo, hi = np.percentile(v, [2.5, 97.5])
        inside = "yes" if lo <= t.value <= hi else "no"
        rows.append((t.target, t.value, float(v.mean()), float(lo), float(hi), inside, len(v)))
    return pd.DataFrame(rows, columns=["target", "observed", "predicted_mean", "prediction_low", "prediction_high",
                                       "inside_95_prediction_interval", "replications"])


def fit_plot(before: pd.DataFrame, after: pd.DataFrame, path: Path) -> None:
    """Observed odds ratios against the simulated ones (95% intervals), before and after fitting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "measure" in after:  # counts (the LEAD group size) are not on the odds-ratio axis
        before = before[before["measure"] == "odds_ratio"]
        after = after[after["measure"] == "odds_ratio"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.0, 0.9 + 0.8 * len(after)))
    y = np.arange(len(after))[::-1]
    for frame, offset, colour, label in ((before, 0.15, "#999999", "simulated, before"),
                                         (after, -0.15, "#0072B2", "simulated, calibrated")):
        f = frame.set_index("target").reindex(after["target"])
        err = np.vstack([f["simulated_value"] - f["simulated_ci_low"], f["simulated_ci_high"] - f["simulated_value"]])
        ax.errorbar(f["simulated_value"], y + offset, xerr=err, fmt="o", color=colour, capsize=3, label=label)
    ax.scatter(after["observed_value"], y, marker="D", s=50, color="#D55E00", zorder=3, label="published")
    ax.axvline(1.0, color="black", lw=0.8, ls=":")
    roles = after["role"] if "role" in after else [FITTED] * len(after)
    ax.set_yticks(y, [t.replace("_", " ") + ("" if r == FITTED else "\n(held out: predicted)")
                      for t, r in zip(after["target"], roles, strict=True)])
    ax.set_xscale("log")
    ticks = [0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0]
    lo = float(np.nanmin([before["simulated_ci_low"].min(), after["simulated_ci_low"].min(), after["observed_value"].min()]))
    hi = float(np.nanmax([before["simulated_ci_high"].max(), after["simulated_ci_high"].max(), 1.0]))
    ax.set_xlim(lo / 1.15, hi * 1.15)
    ax.set_xticks([t for t in ticks if lo / 1.15 <= t <= hi * 1.15], [f"{t:g}" for t in ticks if lo / 1.15 <= t <= hi * 1.15])
    ax.minorticks_off()
    ax.set_xlabel("odds ratio, LEAD vs comparison group, after vs before entry\n(log scale; bars: 95% intervals)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- history matching (calibration/emulator.py) on simulated evaluation summaries -----------------


def observed(targets: list[Target]) -> list:
    """The targets on the emulators' scale: the log of the odds ratio or of the count."""
    from lead_sim.calibration.emulator import Observed

    return [Observed(t.name, math.log(t.odds_ratio), t.se_log_or, t.fitted, t.weight) for t in targets]


def summaries(per_rep: list[list[dict]]) -> dict[str, float]:
    """One parameter set's summaries from its replications' evaluation estimates: per odds-ratio
    target the mean of the finite log odds ratios (NaN when under half the replications give
    one), and the log of the mean LEAD group size (the long-term design's ``n_lead``)."""
    rows = pd.DataFrame([r for rep in per_rep for r in rep])
    out: dict[str, float] = {}
    for target, g in rows.groupby("target", sort=False):
        lo = g["log_or"].to_numpy(float)
        ok = np.isfinite(lo)
        out[str(target)] = float(lo[ok].mean()) if 2 * ok.sum() >= len(lo) and ok.any() else math.nan
    n = float(rows.loc[rows["target"] == N.TARGET_ANY_ARREST_LONG_TERM, "n_lead"].mean())
    out[N.TARGET_LEAD_GROUP_SIZE] = math.log(n) if n > 0 else math.nan
    return out


def point_key(x: Iterable[float]) -> str:
    """A parameter set as a checkpoint key (values rounded to 12 significant digits)."""
    return ",".join(f"{float(v):.12g}" for v in x)


@dataclass
class PointRunner:
    """Simulates parameter sets for history matching: each set in the arm for ``replications``
    replications (the same seeds for every set), all sets of a wave in one batch of tasks (sets
    that differ only in LEAD share the years before LEAD starts). ``done`` holds replications
    already simulated (checkpoint key ``point_key|replication`` -> that replication's estimates);
    ``on_result(key, estimates)`` sees every new one, to save it."""

    base: Scenario
    parameters: list[Parameter]
    replications: int
    jobs: int
    done: dict[str, list[dict]] = field(default_factory=dict)
    on_result: Callable[[str, list[dict]], None] | None = None

    def scenario_at(self, x) -> Scenario:
        """The arm with the parameters set to ``x``."""
        sc = self.base
        for p, v in zip(self.parameters, x, strict=True):
            sc = with_value(sc, p.path, float(v))
        return sc

    def __call__(self, X: np.ndarray) -> list[dict[str, float]]:
        """The summaries of every row of ``X``."""
        from lead_sim.runs.experiment import Task, execute

        keys = [point_key(x) for x in X]
        tasks = [Task(key, rep, self.scenario_at(x), False, ("odds_ratios",))
                 for key, x in zip(keys, X, strict=True) for rep in range(self.replications)
                 if f"{key}|{rep}" not in self.done]

        def got(res) -> None:
            rows = res.extras["evaluation"].to_dict("records")
            key = f"{res.arm}|{res.replication}"
            self.done[key] = rows
            if self.on_result:
                self.on_result(key, rows)

        if tasks:
            execute(tasks, self.jobs, got)
        return [summaries([self.done[f"{key}|{rep}"] for rep in range(self.replications)]) for key in keys]
