"""Figures of a probabilistic sensitivity analysis (``lead-sim psa``; tornado: ``lead-sim tornado``).

Drawn like the report's other figures (:mod:`lead_sim.report.plots`: Agg canvas, no pyplot,
Okabe-Ito colours with dashes and markers, every axis labelled with its unit). Inputs are the
PSA folder's tables: psa.csv (one row per draw and arm), ceac.csv, evpi.csv, psa_savings.csv,
psa_drivers.csv, and tornado.csv of a tornado run.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from lead_sim.report.labels import arm_label, money, num, payer_label, pretty
from lead_sim.report.plots import ArmStyle, figure, include_origin, plural, styled, subplots, usd_axis

#: outcome -> (direction, unit) as psa.csv and ceac.csv name them (``outcomes.metrics.CEA_OUTCOMES``)
OutcomeUnits = dict[str, tuple[str, str]]


def _what(outcome: str, units: OutcomeUnits) -> str:
    direction, unit = units.get(outcome, ("", outcome))
    return f"{pretty(plural(unit))} {direction}".strip()


def _panels(n: int, height: float = 2.6):
    ncols = 1 if n == 1 else 2
    nrows = math.ceil(n / ncols)
    fig = figure(0.8 + height * nrows)
    axes = np.atleast_1d(subplots(fig, nrows, ncols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


@styled
def psa_plane(points: pd.DataFrame, outcomes: Sequence[str], units: OutcomeUnits, wtp: dict[str, float],
              style: ArmStyle, others: Sequence[str]) -> Figure:
    """Incremental cost against incremental effect per draw, one panel per outcome, with the line of the
    outcome's own willingness to pay (below it: worth its cost at that value).

    ``points``: arm, draw, outcome, d_cost, d_effect (effect signed so that more is better).
    """
    fig, axes = _panels(len(outcomes))
    for ax, outcome in zip(axes, outcomes, strict=False):
        p = points[points["outcome"] == outcome]
        for arm in others:
            q = p[p["arm"] == arm]
            ax.scatter(q["d_effect"], q["d_cost"], s=14, marker=style.marker(arm), color=style.colour(arm), alpha=0.45,
                       linewidths=0)
            ax.scatter([q["d_effect"].mean()], [q["d_cost"].mean()], s=60, marker=style.marker(arm),
                       color=style.colour(arm), edgecolors="#000000", linewidths=0.8, zorder=3)
        ax.axhline(0, color="#000000", linewidth=0.7)
        ax.axvline(0, color="#000000", linewidth=0.7)
        include_origin(ax)
        lam = wtp.get(outcome)
        if lam is not None and np.isfinite(lam):
            x0, x1 = ax.get_xlim()
            y0, y1 = ax.get_ylim()
            xs = np.array([x0, x1])
            ax.plot(xs, lam * xs, color="#555555", linestyle=(0, (4, 2)), linewidth=1.0)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
        usd_axis(ax)
        ax.set_xlabel("\n".join(textwrap.wrap(f"{_what(outcome, units)} (discounted)", 48)))
        ax.set_ylabel("Incremental cost, USD")
        ax.set_title(_what(outcome, units), loc="left", fontsize=9)
    handles = []
    for arm in others:
        handles.append(Line2D([], [], marker=style.marker(arm), color=style.colour(arm), linestyle="", alpha=0.6,
                              label=f"{arm_label(arm)}: one draw"))
        handles.append(Line2D([], [], marker=style.marker(arm), color=style.colour(arm), markeredgecolor="#000000",
                              linestyle="", markersize=8, label=f"{arm_label(arm)}: mean"))
    if wtp:
        handles.append(Line2D([], [], color="#555555", linestyle=(0, (4, 2)),
                              label="willingness to pay per unit (below the line: worth its cost)"))
    fig.legend(handles=handles, loc="outside upper center", ncols=2, frameon=False, fontsize=8)
    return fig


@styled
def acceptability(ceac: pd.DataFrame, outcomes: Sequence[str], units: OutcomeUnits, wtp: dict[str, float],
                  style: ArmStyle, arms: Sequence[str]) -> Figure:
    """Cost-effectiveness acceptability curves (each arm's chance of the highest net benefit against the
    willingness to pay) and the acceptability frontier (the chance of the arm best on average)."""
    fig, axes = _panels(len(outcomes))
    for ax, outcome in zip(axes, outcomes, strict=False):
        c = ceac[ceac["outcome"] == outcome]
        for arm in arms:
            a = c[c["arm"] == arm].sort_values("wtp_usd")
            if a.empty:
                continue
            ax.plot(a["wtp_usd"], a["p_best_of_all_arms"], color=style.colour(arm), linestyle=style.dash(arm),
                    linewidth=1.5)
        best = c[c["optimal_in_expectation"].astype(bool)].sort_values("wtp_usd")
        ax.plot(best["wtp_usd"], best["p_best_of_all_arms"], color="#999999", linewidth=6, alpha=0.35, zorder=1,
                solid_capstyle="butt")
        lam = wtp.get(outcome)
        if lam is not None and c["wtp_usd"].min() <= lam <= c["wtp_usd"].max():
            ax.axvline(lam, color="#555555", linestyle=":", linewidth=1.0)
            ax.annotate(f"{money(lam)}", (lam, 1.0), xytext=(3, -10), textcoords="offset points", fontsize=7.5)
        ax.set_ylim(-0.02, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        usd_axis(ax, "x")
        _, unit = units.get(outcome, ("", outcome))
        ax.set_xlabel("\n".join(textwrap.wrap(f"Willingness to pay per {unit} {units.get(outcome, ('',))[0]}, USD", 48)))
        ax.set_ylabel("Chance of the highest net benefit")
        ax.set_title(_what(outcome, units), loc="left", fontsize=9)
    handles = [Line2D([], [], color=style.colour(a), linestyle=style.dash(a), label=arm_label(a)) for a in arms]
    handles.append(Line2D([], [], color="#999999", linewidth=6, alpha=0.35,
                          label="frontier (arm with the highest mean net benefit)"))
    if wtp:
        handles.append(Line2D([], [], color="#555555", linestyle=":", label="the outcome's own willingness to pay"))
    fig.legend(handles=handles, loc="outside upper center", ncols=2, frameon=False, fontsize=8)
    return fig


@styled
def evpi_curves(evpi: pd.DataFrame, outcomes: Sequence[str], units: OutcomeUnits, wtp: dict[str, float]) -> Figure:
    """Expected value of perfect information for the modelled target group against the willingness to pay."""
    fig, axes = _panels(len(outcomes), height=2.3)
    for ax, outcome in zip(axes, outcomes, strict=False):
        e = evpi[evpi["outcome"] == outcome].sort_values("wtp_usd")
        ax.plot(e["wtp_usd"], e["evpi_usd"], color="#0072B2", linewidth=1.8)
        ax.fill_between(e["wtp_usd"], 0, e["evpi_usd"], color="#0072B2", alpha=0.12, linewidth=0)
        lam = wtp.get(outcome)
        if lam is not None and len(e) and e["wtp_usd"].min() <= lam <= e["wtp_usd"].max():
            ax.axvline(lam, color="#555555", linestyle=":", linewidth=1.0)
        usd_axis(ax)
        usd_axis(ax, "x")
        if len(e) and not (e["evpi_usd"] > 0).any():
            ax.set_ylim(0, 1)
            ax.set_yticks([0])
            ax.text(0.5, 0.5, "zero: the same arm is best in every draw", transform=ax.transAxes, ha="center",
                    fontsize=8, color="#555555")
        else:
            ax.set_ylim(bottom=0)
        _, unit = units.get(outcome, ("", outcome))
        ax.set_xlabel("\n".join(textwrap.wrap(f"Willingness to pay per {unit} {units.get(outcome, ('',))[0]}, USD", 48)))
        ax.set_ylabel("EVPI, USD (target group)")
        ax.set_title(_what(outcome, units), loc="left", fontsize=9)
    fig.suptitle("Expected value of perfect information (dotted: the outcome's own willingness to pay)", x=0.01,
                 ha="left", fontsize=10)
    return fig


@styled
def saving_chances(savings: pd.DataFrame, style: ArmStyle, others: Sequence[str], payers: Sequence[str]) -> Figure:
    """Each payer's chance of spending less under each arm than under the comparator, with Wilson 95% intervals."""
    rows = [p for p in ["all_payers", *payers] if (savings["payer"] == p).any()
            and savings.loc[savings["payer"] == p, "p_saves_money"].notna().any()]
    fig = figure(1.1 + 0.2 * len(rows) * max(1, len(others)) ** 0.7)
    ax = subplots(fig)
    k = max(1, len(others))
    step = 0.8 / k
    for j, arm in enumerate(others):
        s = savings[savings["arm"] == arm].set_index("payer")
        ys = np.arange(len(rows)) - 0.4 + step / 2 + j * step
        p = np.array([s.at[r, "p_saves_money"] if r in s.index else np.nan for r in rows], dtype=float)
        lo = np.array([s.at[r, "p_ci_low"] if r in s.index else np.nan for r in rows], dtype=float)
        hi = np.array([s.at[r, "p_ci_high"] if r in s.index else np.nan for r in rows], dtype=float)
        ok = np.isfinite(p)
        err = np.clip([p[ok] - lo[ok], hi[ok] - p[ok]], 0.0, None)  # (rounding of the Wilson ends at 0 and 1)
        ax.errorbar(p[ok], ys[ok], xerr=err, fmt=style.marker(arm), color=style.colour(arm),
                    ecolor=style.colour(arm), capsize=2.5, markersize=6, linewidth=1.2, label=arm_label(arm))
    ax.axvline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_yticks(range(len(rows)), ["All payers" if r == "all_payers" else payer_label(r) for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Chance of spending less than under the comparator (share of draws, Wilson 95%)")
    ax.set_title("Chance of saving money, by payer", loc="left")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="best", frameon=True, framealpha=0.9, fontsize=8)
    return fig


def _key_lines(key: str, width: int = 40) -> str:
    """A dotted scenario key on lines of at most ``width`` characters, broken after a dot."""
    lines = [""]
    for part in key.split("."):
        piece = part if not lines[-1] else "." + part
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines[-1] += "."
            lines.append(part)
        else:
            lines[-1] += piece
    return "\n".join(lines)


@styled
def tornado_bars(bars: pd.DataFrame, title: str, xlabel: str, base: float | None) -> Figure:
    """Horizontal bars from the result at each parameter's low value to that at its high value, largest swing first.

    ``bars``: parameter, low_result, high_result (and optional low_value, high_value for the labels).
    """
    n = len(bars)
    fig = figure(1.1 + 0.3 * n)
    ax = subplots(fig)
    ys = np.arange(n)
    for y, r in zip(ys, bars.itertuples(), strict=True):
        lo, hi = float(r.low_result), float(r.high_result)
        ax.barh(y, hi - (base or 0.0), left=base or 0.0, color="#D55E00", height=0.6)
        ax.barh(y, lo - (base or 0.0), left=base or 0.0, color="#0072B2", height=0.6)
    labels = []
    for r in bars.itertuples():
        text = _key_lines(str(r.parameter))
        if hasattr(r, "low_value") and pd.notna(getattr(r, "low_value", np.nan)):
            text += f"\n({num(r.low_value)} to {num(r.high_value)})"
        labels.append(text)
    ax.set_yticks(ys, labels, fontsize=7.5)
    ax.invert_yaxis()
    if base is not None:
        ax.axvline(base, color="#000000", linewidth=0.9)
    usd_axis(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=9.5)
    ax.grid(axis="y", visible=False)
    ax.legend(handles=[Line2D([], [], color="#0072B2", linewidth=6, label="parameter at its low value"),
                       Line2D([], [], color="#D55E00", linewidth=6, label="parameter at its high value")],
              loc="lower right", frameon=True, framealpha=0.9, fontsize=8)
    return fig


@styled
def driver_bars(drivers: pd.DataFrame, title: str) -> Figure:
    """Standardised regression coefficients (else Spearman's rank correlation) of a PSA difference on its parameters."""
    n = len(drivers)
    fig = figure(1.1 + 0.3 * n)
    ax = subplots(fig)
    use_src = drivers["src"].notna().all()
    v = (drivers["src"] if use_src else drivers["spearman"]).to_numpy(dtype=float)
    ys = np.arange(n)
    ax.barh(ys, v, color=["#D55E00" if x > 0 else "#0072B2" for x in v], height=0.6)
    ax.set_yticks(ys, [_key_lines(str(p)) for p in drivers["parameter"]], fontsize=7.5)
    ax.invert_yaxis()
    ax.axvline(0, color="#000000", linewidth=0.9)
    ax.set_xlim(-1.05, 1.05)
    r2 = drivers["r2"].iloc[0] if "r2" in drivers and pd.notna(drivers["r2"].iloc[0]) else None
    ax.set_xlabel(("Standardised regression coefficient" + (f" (R\u00b2 = {r2:.2f})" if r2 is not None else "")) if use_src
                  else "Spearman's rank correlation (too few draws for the regression)")
    ax.set_title(title, loc="left", fontsize=9.5)
    ax.grid(axis="y", visible=False)
    return fig
