"""Decision analysis on a PSA table: summaries, chance of saving money, CEACs, EVPI, drivers.

Pure functions of ``psa.csv`` (one row per draw and arm: every metric, the discounted totals
and the sampled parameter values). Differences are paired by draw: an arm minus the comparator
under the same parameter values and random numbers.

* **Intervals.** Each mean carries a Monte Carlo interval (t-interval of the mean over draws:
  how precisely the draws pin the mean down); the 2.5th-97.5th percentiles of the draws are the
  uncertainty interval (what the parameter uncertainty implies). Probabilities carry Wilson
  intervals for the finite number of draws.
* **Net monetary benefit** of an arm at willingness to pay ``wtp`` per unit of an outcome:
  ``wtp * sign * outcome - cost`` (sign -1 for outcomes to avert, such as re-arrests; +1 for
  outcomes to gain). Costs are all payers', discounted, for the whole target group.
* **Chance of being cost-effective** (ceac.csv), two answers to two questions at each ``wtp``:
  ``p_cost_effective_vs_comparator``, the share of draws in which an arm's net benefit beats the
  comparator's (incremental net monetary benefit > 0: the arm is worth its extra cost against the
  comparator, whatever the other arms do), and ``p_best_of_all_arms``, the share of draws in
  which it has the highest net benefit of all the arms (the CEAC of a choice among them; with
  two arms the two agree, but with three an arm can be cost-effective against the comparator in
  every draw and best in none, when another arm beats it).
* **EVPI** at ``wtp``: ``mean over draws of max over arms of NMB  -  max over arms of mean NMB``,
  what resolving all parameter uncertainty would be worth for the modelled target group.
* **Drivers**: standardised regression coefficients (SRC) of each difference on the sampled
  parameters (both scaled to unit variance), with the regression's R^2 (near 1: the ranking
  explains the output; low: interactions or simulation noise dominate) and Spearman's rank
  correlation as a check that does not assume linearity. With fewer draws than parameters + 2
  there is no regression: parameters are ranked by |Spearman| alone.

:func:`psa_files` builds ``psa.csv`` from a plan's simulation results and every table above from it
(what ``lead-sim psa`` writes).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lead_sim.analysis.psa import Plan, assemble, total_columns, with_parameters
from lead_sim.outcomes.metrics import CEA_OUTCOMES
from lead_sim.stats import mean_ci

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes out of n."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _wide(psa: pd.DataFrame, column: str, case: str = "draw") -> pd.DataFrame:
    return psa.pivot(index=case, columns="arm", values=column)


def arm_order(psa: pd.DataFrame) -> list[str]:
    """The arms in the order they first appear in the PSA table (the run's order)."""
    return list(dict.fromkeys(psa["arm"]))


def _describe(v: np.ndarray) -> dict:
    v = v[~np.isnan(v)]
    m, lo, hi = mean_ci(v)
    if len(v) == 0:
        return {"mean": m, "mc_ci_low": lo, "mc_ci_high": hi, "sd": math.nan, "p2_5": math.nan, "p50": math.nan,
                "p97_5": math.nan, "draws": 0}
    q = np.percentile(v, [2.5, 50, 97.5])
    return {"mean": m, "mc_ci_low": lo, "mc_ci_high": hi, "sd": float(v.std(ddof=1)) if len(v) > 1 else math.nan,
            "p2_5": float(q[0]), "p50": float(q[1]), "p97_5": float(q[2]), "draws": int(len(v))}


def summary(psa: pd.DataFrame, comparator: str, metrics: list[str], case: str = "draw") -> pd.DataFrame:
    """psa_summary.csv: per arm and per difference from the comparator, for each metric."""
    rows = []
    arms = arm_order(psa)
    for metric in metrics:
        w = _wide(psa, metric, case)
        for arm in arms:
            rows.append({"kind": "arm", "arm": arm, "comparator": "", "metric": metric, **_describe(w[arm].to_numpy())})
        for arm in arms:
            if arm != comparator:
                d = (w[arm] - w[comparator]).to_numpy()
                rows.append({"kind": "difference", "arm": arm, "comparator": comparator, "metric": metric, **_describe(d)})
    return pd.DataFrame(rows)


def savings(psa: pd.DataFrame, comparator: str, payers: list[str], case: str = "draw") -> pd.DataFrame:
    """psa_savings.csv: probability that each arm costs less than the comparator, overall and per payer."""
    rows = []
    for arm in arm_order(psa):
        if arm == comparator:
            continue
        for payer, column in [("all_payers", "cost_total_usd")] + [(p, f"cost_payer_{p}_usd") for p in payers]:
            w = _wide(psa, column, case)
            d = (w[arm] - w[comparator]).to_numpy()
            k, n = int((d < 0).sum()), len(d)
            lo, hi = wilson(k, n)
            m, mlo, mhi = mean_ci(d)
            if n and not d.any():  # the payer's costs are the same in every draw (none at all, say): no chance to state
                lo = hi = math.nan
            rows.append({"arm": arm, "comparator": comparator, "payer": payer,
                         "p_saves_money": k / n if n and d.any() else math.nan,
                         "p_ci_low": lo, "p_ci_high": hi, "mean_difference_usd": m, "mean_ci_low": mlo,
                         "mean_ci_high": mhi, "draws": n})
    return pd.DataFrame(rows)


def effect_sign(outcome: str) -> float:
    """+1 for an outcome to gain, -1 for one to avert: the sign of the outcome in the net monetary benefit."""
    return 1.0 if CEA_OUTCOMES[outcome][0] == "gained" else -1.0


def net_benefit(costs: np.ndarray, effects: np.ndarray, wtp: float, sign: float) -> np.ndarray:
    """NMB (draws x arms) at one willingness to pay."""
    return wtp * sign * effects - costs


def ceac_evpi(costs: np.ndarray, effects: np.ndarray, wtp_grid: list[float], sign: float = -1.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``costs`` and ``effects`` (draws x arms): per wtp, P(each arm is best), the arm best in
    expectation, and EVPI. Ties go to the first arm (in column order)."""
    n, k = costs.shape
    p_best = np.zeros((len(wtp_grid), k))
    best_expected = np.zeros(len(wtp_grid), dtype=int)
    evpi = np.zeros(len(wtp_grid))
    for i, lam in enumerate(wtp_grid):
        nmb = net_benefit(costs, effects, lam, sign)
        winners = np.argmax(nmb, axis=1)
        p_best[i] = np.bincount(winners, minlength=k) / n
        means = nmb.mean(axis=0)
        best_expected[i] = j = int(np.argmax(means))
        # mean(max NMB) - max(mean NMB), written as a mean of non-negative regrets so that
        # rounding can never make it negative
        evpi[i] = float((nmb.max(axis=1) - nmb[:, j]).mean())
    return p_best, best_expected, evpi


def p_cost_effective_vs(costs: np.ndarray, effects: np.ndarray, wtp_grid: list[float], comparator: int,
                        sign: float = -1.0) -> np.ndarray:
    """(wtp x arms): the share of draws in which each arm's net benefit exceeds the comparator's
    (column ``comparator`` of ``costs`` and ``effects``, draws x arms) at each wtp: incremental net
    monetary benefit ``wtp * sign * (E_arm - E_comparator) - (C_arm - C_comparator) > 0``, strictly
    (a tie is not cost-effective). NaN in the comparator's own column."""
    out = np.full((len(wtp_grid), costs.shape[1]), np.nan)
    for i, lam in enumerate(wtp_grid):
        nmb = net_benefit(costs, effects, lam, sign)
        inmb = nmb - nmb[:, [comparator]]
        out[i] = (inmb > 0).mean(axis=0)
        out[i, comparator] = np.nan
    return out


CEAC_COLUMNS = ["outcome", "unit", "wtp_usd", "arm", "comparator", "p_cost_effective_vs_comparator",
                "p_cost_effective_ci_low", "p_cost_effective_ci_high", "p_best_of_all_arms", "p_best_ci_low",
                "p_best_ci_high", "optimal_in_expectation", "draws"]


def ceac_table(psa: pd.DataFrame, outcome: str, wtp_grid: list[float], case: str = "draw",
               people: float | None = None, comparator: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ceac rows: :data:`CEAC_COLUMNS`) and (evpi rows: outcome, wtp, evpi, optimal arm).

    For each wtp and arm: ``p_cost_effective_vs_comparator`` (INMB > 0 against ``comparator``,
    default the first arm; empty for the comparator itself) and ``p_best_of_all_arms`` (highest
    net benefit of all the arms), each with its Wilson 95% interval for the number of draws."""
    arms = arm_order(psa)
    comparator = comparator if comparator is not None else arms[0]
    costs = _wide(psa, "cost_total_usd", case)[arms].to_numpy()
    effects = _wide(psa, outcome, case)[arms].to_numpy()
    sign = effect_sign(outcome)
    p_best, best, evpi = ceac_evpi(costs, effects, wtp_grid, sign)
    p_ce = p_cost_effective_vs(costs, effects, wtp_grid, arms.index(comparator), sign)
    n = costs.shape[0]
    rows, erows = [], []
    direction, unit = CEA_OUTCOMES[outcome]
    for i, lam in enumerate(wtp_grid):
        for j, arm in enumerate(arms):
            lo, hi = wilson(int(round(p_best[i, j] * n)), n)
            ce_lo, ce_hi = (math.nan, math.nan) if arm == comparator else wilson(int(round(p_ce[i, j] * n)), n)
            rows.append({"outcome": outcome, "unit": f"{unit} {direction}", "wtp_usd": lam, "arm": arm,
                         "comparator": comparator, "p_cost_effective_vs_comparator": p_ce[i, j],
                         "p_cost_effective_ci_low": ce_lo, "p_cost_effective_ci_high": ce_hi,
                         "p_best_of_all_arms": p_best[i, j], "p_best_ci_low": lo, "p_best_ci_high": hi,
                         "optimal_in_expectation": j == best[i], "draws": n})
        erows.append({"outcome": outcome, "unit": f"{unit} {direction}", "wtp_usd": lam, "evpi_usd": evpi[i],
                      "evpi_per_person_usd": evpi[i] / people if people else math.nan,
                      "optimal_arm": arms[best[i]], "draws": n})
    return pd.DataFrame(rows, columns=CEAC_COLUMNS), pd.DataFrame(erows)


DRIVER_COLUMNS = ["arm", "comparator", "outcome", "parameter", "src", "rank", "spearman", "r2", "draws"]


def drivers(psa: pd.DataFrame, comparator: str, parameters: list[str], outcomes: list[str],
            case: str = "draw") -> pd.DataFrame:
    """psa_drivers.csv: SRC, R^2 and Spearman correlation of each difference on each parameter."""
    rows = []
    first = psa[psa["arm"] == comparator].set_index(case)
    for arm in arm_order(psa):
        if arm == comparator:
            continue
        this = psa[psa["arm"] == arm].set_index(case)
        X = this[parameters].to_numpy(dtype=float)
        sd = X.std(axis=0, ddof=1) if len(X) > 1 else np.zeros(X.shape[1])
        varying = [p for p, s in zip(parameters, sd, strict=True) if s > 0]
        Xs = (this[varying] - this[varying].mean()) / this[varying].std(ddof=1)
        for outcome in outcomes:
            y = (this[outcome] - first[outcome].reindex(this.index)).to_numpy(dtype=float)
            ok = ~np.isnan(y)
            n = int(ok.sum())
            if n < 3 or np.std(y[ok]) == 0:
                continue
            from scipy.stats import spearmanr  # here: scipy.stats takes ~0.3 s to import

            rho = [float(spearmanr(Xs[p].to_numpy()[ok], y[ok]).statistic) for p in varying]
            if n >= len(varying) + 2:
                ys = (y[ok] - y[ok].mean()) / y[ok].std(ddof=1)
                A = np.column_stack([np.ones(n), Xs.to_numpy()[ok]])
                coef, *_ = np.linalg.lstsq(A, ys, rcond=None)
                resid = ys - A @ coef
                r2 = 1 - float(resid @ resid) / float(ys @ ys)
                src = coef[1:]
                key = np.abs(src)
            else:  # too few draws for the regression: rank by rank correlation alone
                src, r2 = np.full(len(varying), np.nan), math.nan
                key = np.abs(np.array(rho))
            order = np.argsort(-key, kind="stable")
            rank = np.empty(len(varying), dtype=int)
            rank[order] = np.arange(1, len(varying) + 1)
            for j, p in enumerate(varying):
                rows.append({"arm": arm, "comparator": comparator, "outcome": f"difference in {outcome}",
                             "parameter": p, "src": float(src[j]), "rank": int(rank[j]), "spearman": rho[j],
                             "r2": r2, "draws": n})
    out = pd.DataFrame(rows, columns=DRIVER_COLUMNS)
    if len(out):
        out = out.sort_values(["arm", "outcome", "rank"], kind="stable").reset_index(drop=True)
    return out


def default_wtp_grid(outcome: str, maximum: float, points: int = 101) -> list[float]:
    """``points`` evenly spaced willingness-to-pay values from 0 to ``maximum`` (USD per unit of ``outcome``), ends included."""
    return [float(x) for x in np.linspace(0.0, maximum, points)]


# ---- the psa command's tables ------------------------------------------------------------------------


def psa_files(plan: Plan, results: dict[str, dict], cases: list[dict], comparator: str, payers: list[str],
              wtp_max: dict[str, float], wtp_points: int) -> dict[str, pd.DataFrame]:
    """``lead-sim psa``'s results from ``plan``'s simulation ``results``: psa.csv (one row per draw
    and arm, with the draw's parameter values), psa_summary.csv, psa_savings.csv, ceac.csv and
    evpi.csv (for each outcome of ``wtp_max``, willingness to pay from 0 to its maximum in
    ``wtp_points`` steps) and psa_drivers.csv."""
    table = assemble(plan, results, case_column="draw")
    params = pd.DataFrame([{"draw": i, **c} for i, c in enumerate(cases)])
    psa = with_parameters(table, params, on="draw")
    metric_cols = list(dict.fromkeys(plan.metric_names + total_columns(payers)))
    files = {"psa.csv": psa,
             "psa_summary.csv": summary(psa, comparator, metric_cols),
             "psa_savings.csv": savings(psa, comparator, payers)}
    people = float(psa.loc[psa["arm"] == comparator, "people"].mean())
    ceacs, evpis = [], []
    for outcome, top in wtp_max.items():
        c, e = ceac_table(psa, outcome, default_wtp_grid(outcome, top, wtp_points), people=people,
                          comparator=comparator)
        ceacs.append(c)
        evpis.append(e)
    files["ceac.csv"] = pd.concat(ceacs, ignore_index=True)
    files["evpi.csv"] = pd.concat(evpis, ignore_index=True)
    outcomes = ["cost_total_usd"] + [f"cost_payer_{p}_usd" for p in payers] + list(wtp_max)
    files["psa_drivers.csv"] = drivers(psa, comparator, list(params.columns[1:]), outcomes)
    return files
