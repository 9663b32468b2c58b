"""The report's figures: matplotlib (Agg, no pyplot state), rendered to PNG bytes.

Made to be read in print: every axis has a label with its unit, every figure a legend, lines
differ by dash as well as colour, and colours come from the Okabe-Ito palette (distinguishable
with the common colour-vision deficiencies). Intervals are 95% intervals over replications
(t-intervals of means or of paired differences) unless a caption says otherwise.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import textwrap
from collections.abc import Sequence

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from lead_sim.report.labels import arm_label, money, money_short, payer_label, pretty

#: Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
}
_ARM_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
_ARM_DASHES = ["--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2))]
_ARM_MARKERS = ["s", "^", "D", "v", "P", "X"]
_STACK_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
_HATCHES = ["", "//", "..", "xx", "\\\\", "++", "oo", "--"]
DPI = 150
WIDTH_IN = 7.2  # fits an A4 or Letter page between margins

_RC = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#d9d9d9", "grid.linewidth": 0.6, "axes.axisbelow": True, "font.family": "DejaVu Sans",
    "hatch.linewidth": 0.6, "hatch.color": "#ffffff",
}


class ArmStyle:
    """Colour, dash and marker of each arm: the comparator black and solid, others Okabe-Ito."""

    def __init__(self, arms: Sequence[str], comparator: str | None):
        """``arms`` in run order; the others take the palette's colours, dashes and markers in that order."""
        self.comparator = comparator
        others = [a for a in arms if a != comparator]
        self._i = {a: i for i, a in enumerate(others)}

    def colour(self, arm: str) -> str:
        """Line and marker colour of ``arm`` (hex)."""
        return "#000000" if arm == self.comparator else _ARM_COLOURS[self._i.get(arm, 0) % len(_ARM_COLOURS)]

    def dash(self, arm: str):
        """Line dash of ``arm``, as matplotlib's ``linestyle`` takes it."""
        return "-" if arm == self.comparator else _ARM_DASHES[self._i.get(arm, 0) % len(_ARM_DASHES)]

    def marker(self, arm: str) -> str:
        """Marker of ``arm``, as matplotlib's ``marker`` takes it."""
        return "o" if arm == self.comparator else _ARM_MARKERS[self._i.get(arm, 0) % len(_ARM_MARKERS)]


def styled(plot):
    """Run a plotting function under the report's rcParams (artists read them when created).

    Figures are built with the object-oriented API on an Agg canvas: no pyplot, no global
    backend switch, nothing left behind in the caller's matplotlib state.
    """
    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_RC):
            return plot(*args, **kwargs)
    return wrapper


def figure(height_in: float, width_in: float = WIDTH_IN) -> Figure:
    """A blank figure with constrained layout on its own Agg canvas (inches; default width fits a printed page)."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes at ``DPI``, on white, with no Software tag (so the bytes do not change with the matplotlib version)."""
    buf = io.BytesIO()
    # (matplotlib's stubs want a dict keyed by a Literal of every rcParams name; _RC's keys are such names)
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def subplots(fig: Figure, *args, **kwargs):
    """``fig.subplots(...)``: the axes of a figure made by :func:`figure`."""
    return fig.subplots(*args, **kwargs)


def _tick(v: float) -> str:
    """A compact tick label: -0.004 not -0.0040000001, 1,200 not 1200.0."""
    if v == 0:
        return "0"
    av = abs(v)
    if av >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def plural(unit: str) -> str:
    """'re-arrest' -> 're-arrests'; 'person-year of active drug use' -> 'person-years of active drug use';
    'housed day (at the community-day rate)' -> 'housed days (at the community-day rate)'."""
    cut = min((i for i in (unit.find(" of "), unit.find(" (")) if i >= 0), default=len(unit))
    return unit[:cut] + "s" + unit[cut:]


def usd_axis(ax, axis: str = "y", scale: float = 1.0) -> None:
    """Label an axis's ticks as short dollars ($950, $12.5k, $1.2M)."""
    fmt = FuncFormatter(lambda v, _p: money_short(v * scale))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def _date_axis(ax) -> None:
    """Month ticks every half year; over more than three years (a --through projection), one a year."""
    x0, x1 = ax.get_xlim()
    if x1 - x0 > 3 * 366:
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
        return
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 7)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.xaxis.set_minor_locator(mdates.MonthLocator())


# ---- recidivism ---------------------------------------------------------------------------------


@styled
def km_plot(curves: pd.DataFrame, style: ArmStyle, arms: Sequence[str], windows: Sequence[int] = (6, 12, 24)) -> Figure:
    """Probability of re-arrest by months since the index arrest or LEAD referral, per arm."""
    fig = figure(3.6)
    ax = subplots(fig)
    for arm in arms:
        c = curves[curves["arm"] == arm]
        if c.empty:
            continue
        ok = c["failure"].notna()
        x = c.loc[ok, "month"]
        n = c["people"].iloc[0]
        ax.step(x, c.loc[ok, "failure"], where="post", color=style.colour(arm), linestyle=style.dash(arm), linewidth=1.6,
                label=f"{arm_label(arm)} (about {n:,.0f} people followed)")
        ax.fill_between(x, c.loc[ok, "ci_low"], c.loc[ok, "ci_high"], step="post", color=style.colour(arm), alpha=0.12,
                        linewidth=0)
    for w in windows:
        ax.axvline(w, color="#7f7f7f", linewidth=0.8, linestyle=":")
        ax.text(w, 0.99, f" {w} months", color="#555555", fontsize=8, va="top", ha="left",
                transform=ax.get_xaxis_transform())
    ax.set_ylim(0, 1)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Months since the first arrest or LEAD referral in the analysis period")
    ax.set_ylabel("Re-arrested by then (%)")
    ax.set_title("Time to re-arrest (Kaplan-Meier), shaded: 95% interval")
    ax.legend(loc="lower right", frameon=True, framealpha=0.9)
    return fig


# ---- differences from the comparator ------------------------------------------------------------------


@styled
def difference_panels(panels: list[tuple[str, str, dict[str, tuple[float, float, float]]]], style: ArmStyle,
                      arms: Sequence[str], title: str, ncols: int = 2) -> Figure:
    """One small panel per metric: each arm's paired difference from the comparator, 95% interval.

    ``panels``: (title, unit, {arm: (difference, low, high)}).
    """
    n = len(panels)
    nrows = math.ceil(n / ncols)
    fig = figure(0.5 + 1.35 * nrows + 0.25 * len(arms))
    axes = np.atleast_1d(subplots(fig, nrows, ncols)).ravel()
    ys = {a: i for i, a in enumerate(reversed(list(arms)))}
    for ax, (name, unit, values) in zip(axes, panels, strict=False):
        for arm, (m, lo, hi) in values.items():
            y = ys[arm]
            if np.isfinite(lo) and np.isfinite(hi):
                ax.errorbar(m, y, xerr=[[m - lo], [hi - m]], fmt=style.marker(arm), color=style.colour(arm), capsize=3,
                            markersize=5, linewidth=1.4)
            else:
                ax.plot(m, y, style.marker(arm), color=style.colour(arm), markersize=5)
        ax.axvline(0, color="#000000", linewidth=0.8)
        ax.set_yticks(list(ys.values()), [arm_label(a) for a in ys])
        ax.set_ylim(-0.6, len(ys) - 0.4)
        ax.set_title(name, loc="left")
        ax.set_xlabel(unit)
        lo_x, hi_x = ax.get_xlim()
        span = max(abs(lo_x), abs(hi_x))
        ax.set_xlim(-span * 1.05, span * 1.05)  # zero in the middle: better or worse reads at a glance
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, symmetric=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _tick(v)))
        ax.grid(axis="y", visible=False)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    return fig


# ---- costs --------------------------------------------------------------------------------------------


@styled
def payer_styles(payers: Sequence[str]) -> dict[str, tuple[str, str]]:
    """payer -> (colour, hatch), fixed by the payer's place in the scenario so every chart agrees."""
    return {p: (_STACK_COLOURS[i % len(_STACK_COLOURS)], _HATCHES[i % len(_HATCHES)]) for i, p in enumerate(payers)}


def stacked_bars(values: pd.DataFrame, totals: dict[str, tuple[float, float, float]] | None, ylabel: str, title: str,
                 legend_title: str, styles: dict[str, tuple[str, str]], height_in: float = 3.6, label=payer_label) -> Figure:
    """Stacked bars: ``values`` has one row per bar (index = bar label) and one column per segment."""
    fig = figure(height_in)
    ax = subplots(fig)
    x = np.arange(len(values))
    bottom = np.zeros(len(values))
    handles = []
    for i, col in enumerate(values.columns):
        v = values[col].to_numpy(dtype=float)
        colour, hatch = styles.get(col, (_STACK_COLOURS[i % len(_STACK_COLOURS)], _HATCHES[i % len(_HATCHES)]))
        ax.bar(x, v, bottom=bottom, color=colour, hatch=hatch, edgecolor="white", linewidth=0.6, width=0.62)
        handles.append(Patch(facecolor=colour, hatch=hatch, edgecolor="white", label=label(col)))
        bottom += v
    if totals:
        for i, bar in enumerate(values.index):
            m, lo, hi = totals.get(bar, (np.nan, np.nan, np.nan))
            if np.isfinite(lo) and np.isfinite(hi):
                ax.errorbar(i, m, yerr=[[m - lo], [hi - m]], color="#000000", capsize=4, linewidth=1.2)
            ax.annotate(money(m), (i, hi if np.isfinite(hi) else m), textcoords="offset points", xytext=(0, 4),
                        ha="center", va="bottom", fontsize=8.5)
    ax.set_xticks(x, [arm_label(b) for b in values.index])
    usd_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    ax.margins(y=0.12)
    ax.grid(axis="x", visible=False)
    ax.legend(handles=list(reversed(handles)), title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    return fig


@styled
def agency_bars(rows: list[tuple[str, dict[str, tuple[float, float, float]]]], style: ArmStyle, arms: Sequence[str],
                xlabel: str, title: str, zero_line: bool = False) -> Figure:
    """Horizontal grouped bars, one group per agency, one bar per arm, with 95% intervals.

    ``rows``: (agency label, {arm: (value, low, high)}).
    """
    n_arms = max(1, len(arms))
    fig = figure(1.1 + 0.13 * len(rows) * (n_arms + 0.6))
    ax = subplots(fig)
    h = 0.8 / n_arms
    for j, arm in enumerate(arms):
        ys, ms, los, his = [], [], [], []
        for i, (_label, values) in enumerate(rows):
            if arm in values:
                m, lo, hi = values[arm]
                ys.append(len(rows) - 1 - i + (n_arms - 1) / 2 * h - j * h)
                ms.append(m)
                los.append(m - lo if np.isfinite(lo) else 0.0)
                his.append(hi - m if np.isfinite(hi) else 0.0)
        if not ys:
            continue
        ax.barh(ys, ms, height=h * 0.92, color=style.colour(arm), hatch=_HATCHES[j % len(_HATCHES)], edgecolor="white",
                linewidth=0.5, label=arm_label(arm))
        ax.errorbar(ms, ys, xerr=[los, his], fmt="none", ecolor="#333333", capsize=2, linewidth=0.9)
    ax.set_yticks(range(len(rows)), [label for label, _ in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    usd_axis(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.grid(axis="y", visible=False)
    if zero_line:
        ax.axvline(0, color="#000000", linewidth=0.8)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=n_arms, frameon=False)
    return fig


@styled
def fiscal_year_stacks(by_payer: pd.DataFrame, arms: Sequence[str], payers: Sequence[str],
                       styles: dict[str, tuple[str, str]]) -> Figure:
    """Undiscounted cost by fiscal year: one stacked bar per arm in each year, segments by payer."""
    years = sorted(by_payer["fiscal_year"].unique())
    fig = figure(3.8)
    ax = subplots(fig)
    n = len(arms)
    w = 0.8 / n
    handles = {}
    for j, arm in enumerate(arms):
        a = by_payer[by_payer["arm"] == arm]
        xs = np.arange(len(years)) - 0.4 + w / 2 + j * w
        bottom = np.zeros(len(years))
        for payer in payers:
            v = np.array([a.loc[(a["fiscal_year"] == y) & (a["payer"] == payer), "cost_undiscounted_usd"].sum() for y in years])
            colour, hatch = styles[payer]
            ax.bar(xs, v, bottom=bottom, width=w * 0.9, color=colour, hatch=hatch, edgecolor="white", linewidth=0.5)
            handles[payer] = Patch(facecolor=colour, hatch=hatch, edgecolor="white", label=payer_label(payer))
            bottom += v
        for x, b in zip(xs, bottom, strict=True):
            ax.text(x, b, _arm_initials(arm, arms), ha="center", va="bottom", fontsize=7.5)
    ax.set_xticks(range(len(years)), [f"FY{y}" for y in years])
    usd_axis(ax)
    ax.set_ylabel("Cost, undiscounted US dollars")
    ax.set_xlabel("Fiscal year (each payer's own; named by the year in which it ends)")
    ax.set_title("Cost of the target group by fiscal year and payer (mean of replications)", loc="left")
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.08)
    keys = [Patch(facecolor="none", edgecolor="none", label=f"{_arm_initials(a, arms)}: {arm_label(a)}") for a in arms]
    fig.legend(handles=list(reversed(list(handles.values()))), title="Payer", loc="outside right upper", frameon=False)
    fig.legend(handles=keys, title="Bars in each year", loc="outside right lower", frameon=False, handlelength=0,
               handletextpad=0)
    return fig


def _arm_initials(arm: str, arms: Sequence[str]) -> str:
    return chr(ord("A") + list(arms).index(arm))


@styled
def fiscal_year_differences(diffs: pd.DataFrame, arms: Sequence[str], payers: Sequence[str],
                            styles: dict[str, tuple[str, str]]) -> Figure:
    """Each arm minus the comparator by fiscal year and payer (undiscounted), 95% intervals."""
    years = sorted(diffs["fiscal_year"].unique())
    fig = figure(0.6 + 2.4 * len(arms))
    axes = np.atleast_1d(subplots(fig, len(arms), 1, sharex=True))
    n = max(1, len(payers))
    w = 0.8 / n
    for ax, arm in zip(axes, arms, strict=True):
        a = diffs[diffs["arm"] == arm]
        for i, payer in enumerate(payers):
            p = a[a["payer"] == payer].set_index("fiscal_year").reindex(years)
            xs = np.arange(len(years)) - 0.4 + w / 2 + i * w
            m = p["difference_undiscounted_usd"].to_numpy(dtype=float)
            lo, hi = p["ci_low"].to_numpy(dtype=float), p["ci_high"].to_numpy(dtype=float)
            colour, hatch = styles[payer]
            ax.bar(xs, m, width=w * 0.92, color=colour, hatch=hatch, edgecolor="white", linewidth=0.5,
                   label=payer_label(payer))
            ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(m)
            ax.errorbar(xs[ok], m[ok], yerr=[m[ok] - lo[ok], hi[ok] - m[ok]], fmt="none", ecolor="#333333", capsize=2,
                        linewidth=0.9)
        ax.axhline(0, color="#000000", linewidth=0.8)
        usd_axis(ax)
        ax.set_ylabel("Difference, undiscounted USD")
        ax.set_title(f"{arm_label(arm)} minus the comparator: above 0 costs more, below 0 saves", loc="left")
        ax.grid(axis="x", visible=False)
    axes[-1].set_xticks(range(len(years)), [f"FY{y}" for y in years])
    axes[-1].set_xlabel("Fiscal year (each payer's own; named by the year in which it ends)")
    axes[0].legend(title="Payer", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


@styled
def grant_burn_down(monthly: pd.DataFrame, grant: pd.DataFrame, style: ArmStyle, arms: Sequence[str]) -> Figure:
    """Cumulative spending of the grant payer's agencies by month against the grant."""
    fig = figure(3.4)
    ax = subplots(fig)
    grant_usd = float(grant["grant_usd"].max()) if len(grant) else float("nan")
    for arm in arms:
        m = monthly[monthly["arm"] == arm]
        if m.empty:
            continue
        dates = [dt.date(int(s[:4]), int(s[5:7]), 1) for s in m["month"]]
        ends = [_month_end(d) for d in dates]
        ax.plot(ends, m["cumulative_usd"], color=style.colour(arm), linestyle=style.dash(arm), linewidth=1.8,
                label=arm_label(arm))
        g = grant[grant["arm"] == arm]
        if len(g) and isinstance(g["month_grant_runs_out"].iloc[0], str):
            mo = g["month_grant_runs_out"].iloc[0]
            d = _month_end(dt.date(int(mo[:4]), int(mo[5:7]), 1))
            ax.plot([d], [grant_usd], marker="o", color=style.colour(arm), markersize=6)
            ax.annotate(f"runs out {d:%b %Y}", (d, grant_usd), textcoords="offset points", xytext=(4, -12), fontsize=8,
                        color=style.colour(arm))
    if np.isfinite(grant_usd):
        ax.axhline(grant_usd, color="#555555", linewidth=1.0, linestyle=(0, (4, 2)))
        ax.text(0.01, grant_usd, f" grant {money(grant_usd)}", transform=ax.get_yaxis_transform(), va="bottom",
                fontsize=8.5, color="#333333")
    _date_axis(ax)
    usd_axis(ax)
    ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], grant_usd * 1.12 if np.isfinite(grant_usd) else 0))
    ax.set_ylabel("Cumulative spending, undiscounted USD")
    ax.set_title("Grant burn-down: program spending paid by the grant (mean of replications)", loc="left")
    ax.legend(loc="upper left", frameon=True, framealpha=0.9, bbox_to_anchor=(0.0, 0.88))
    return fig


def _month_end(d: dt.date) -> dt.date:
    nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


# ---- census over time --------------------------------------------------------------------------------


@styled
def census(daily: pd.DataFrame, start: dt.date, style: ArmStyle, arms: Sequence[str],
           capacity: dict[str, list[tuple[dt.date, dt.date, float]]], pilot_ends: dict[str, dt.date],
           jail_window_days: int = 28) -> Figure:
    """Jail census (rolling mean), LEAD caseload (with its places) and, if anyone waited, the waiting list."""
    waited = bool((daily.loc[daily["kind"] == "lead_waiting", "count"] > 0).any())
    kinds = ["jail", "lead_enrolled"] + (["lead_waiting"] if waited else [])
    fig = figure(1.0 + 2.0 * len(kinds))
    axes = np.atleast_1d(subplots(fig, len(kinds), 1, sharex=True))
    titles = {
        "jail": f"Target group in jail ({jail_window_days}-day centred rolling mean)",
        "lead_enrolled": "Enrolled in LEAD (caseload); thin solid steps: places (case managers x caseload)",
        "lead_waiting": "Waiting for a LEAD place",
    }
    for ax, kind in zip(axes, kinds, strict=True):
        for arm in arms:
            d = daily[(daily["arm"] == arm) & (daily["kind"] == kind)]
            y = d["count"].to_numpy(dtype=float)
            if d.empty or (kind != "jail" and not (y > 0).any()):
                continue  # an arm without LEAD has no caseload to draw
            if kind == "jail":
                y = pd.Series(y).rolling(jail_window_days, center=True, min_periods=jail_window_days // 2).mean().to_numpy()
            dates = [start + dt.timedelta(days=int(x)) for x in d["day"]]
            ax.plot(dates, y, color=style.colour(arm), linestyle=style.dash(arm), linewidth=1.4, label=arm_label(arm),
                    drawstyle="steps-post" if kind != "jail" else "default")
        if kind == "lead_enrolled":
            for arm in arms:
                for a, b, places in capacity.get(arm, []):
                    ax.plot([a, b], [places, places], color=style.colour(arm), linewidth=0.9)
        for arm, end in pilot_ends.items():
            ax.axvline(end, color=style.colour(arm), linewidth=0.9, linestyle=":")
        ax.set_ylim(bottom=0)
        ax.margins(y=0.1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
        ax.set_title(titles[kind], loc="left")
        ax.set_ylabel("People")
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if pilot_ends:
        handles.append(Line2D([], [], color="#555555", linestyle=":", linewidth=0.9))
        labels.append("end of LEAD in that arm")
    _date_axis(axes[-1])
    axes[-1].set_xlabel("Date (analysis period)")
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)), frameon=False)
    return fig


# ---- cost-effectiveness ------------------------------------------------------------------------------------


@styled
def ce_plane(points: pd.DataFrame, frontier: pd.DataFrame | None, outcomes: dict[str, tuple[str, str]],
             style: ArmStyle, arms: Sequence[str], comparator: str) -> Figure:
    """Incremental cost against incremental effect per replication, one panel per outcome.

    ``points``: arm, replication, outcome, d_cost, d_effect (effect signed so that more is better).
    The comparator sits at the origin; the frontier (non-dominated arms, joined in order of cost)
    is drawn through the arms' means.
    """
    names = list(outcomes)
    ncols = 2
    nrows = math.ceil((len(names) + 1) / ncols)
    fig = figure(2.55 * nrows + 0.3)
    axes = np.atleast_1d(subplots(fig, nrows, ncols)).ravel()
    others = [a for a in arms if a != comparator]
    for ax, outcome in zip(axes, names, strict=False):
        direction, unit = outcomes[outcome]
        p = points[points["outcome"] == outcome]
        for arm in others:
            q = p[p["arm"] == arm]
            ax.scatter(q["d_effect"], q["d_cost"], s=18, marker=style.marker(arm), color=style.colour(arm), alpha=0.6,
                       linewidths=0)
            ax.scatter([q["d_effect"].mean()], [q["d_cost"].mean()], s=60, marker=style.marker(arm),
                       color=style.colour(arm), edgecolors="#000000", linewidths=0.8, zorder=3)
        ax.scatter([0], [0], s=40, marker="o", color="#000000", zorder=3)
        if frontier is not None and len(frontier):
            f = frontier[(frontier["outcome"] == outcome) & (frontier["status"] == "ND")].sort_values("cost")
            if len(f) > 1:
                xs = [float(p.loc[p["arm"] == a, "d_effect"].mean()) if a != comparator else 0.0 for a in f["arm"]]
                ys = [float(p.loc[p["arm"] == a, "d_cost"].mean()) if a != comparator else 0.0 for a in f["arm"]]
                ax.plot(xs, ys, color="#555555", linewidth=1.0, linestyle="-", zorder=2)
        ax.axhline(0, color="#000000", linewidth=0.7)
        ax.axvline(0, color="#000000", linewidth=0.7)
        usd_axis(ax)
        what = pretty(plural(unit))
        ax.set_xlabel("\n".join(textwrap.wrap(f"{what} {direction} (discounted)", 46)))
        ax.set_ylabel("Incremental cost, USD")
        ax.set_title(f"{what} {direction}", loc="left")
        include_origin(ax)
    leg = axes[len(names)]
    leg.axis("off")
    handles = [Line2D([], [], marker="o", color="#000000", linestyle="", label=f"{arm_label(comparator)} (origin)")]
    for arm in others:
        handles.append(Line2D([], [], marker=style.marker(arm), color=style.colour(arm), linestyle="", alpha=0.6,
                              label=f"{arm_label(arm)}: one replication"))
        handles.append(Line2D([], [], marker=style.marker(arm), color=style.colour(arm), markeredgecolor="#000000",
                              linestyle="", markersize=8, label=f"{arm_label(arm)}: mean"))
    handles.append(Line2D([], [], color="#555555", label="efficiency frontier"))
    leg.legend(handles=handles, loc="center left", frameon=False)
    leg.text(0.0, 0.02, "Right of 0: outcome better than the comparator.\nAbove 0: costs more (all payers).",
             transform=leg.transAxes, fontsize=8, va="bottom")
    for ax in axes[len(names) + 1:]:
        ax.set_visible(False)
    fig.suptitle("Cost-effectiveness plane: each arm against the comparator, per replication", x=0.01, ha="left",
                 fontsize=10)
    return fig


def include_origin(ax) -> None:
    """Widen the axes' limits so that (0, 0) is inside them, with a margin."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    dx, dy = (x1 - x0) * 0.08 or 1.0, (y1 - y0) * 0.08 or 1.0
    ax.set_xlim(min(x0, -dx), max(x1, dx))
    ax.set_ylim(min(y0, -dy), max(y1, dy))


@styled
def breakeven_price(lines: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], roots: dict[str, float],
                    current: dict[str, float], payer: str, style: ArmStyle, arms: Sequence[str]) -> Figure:
    """The payer's cost difference against the program price per participant-month, per arm.

    ``lines``: arm -> (price grid, mean difference, (low, high) stacked as 2 x n); ``current``:
    arm -> what the program's agencies spend per participant-month in the run.
    """
    fig = figure(3.4)
    ax = subplots(fig)
    for arm in arms:
        if arm not in lines:
            continue
        x, m, band = lines[arm]
        r = roots.get(arm, float("nan"))
        label = f"{arm_label(arm)}: break-even {money(r)}" if np.isfinite(r) else f"{arm_label(arm)}: no break-even"
        ax.plot(x, m, color=style.colour(arm), linestyle=style.dash(arm), linewidth=1.6, label=label)
        ax.fill_between(x, band[0], band[1], color=style.colour(arm), alpha=0.12, linewidth=0)
        if np.isfinite(r):
            ax.plot([r], [0], marker="o", color=style.colour(arm), markeredgecolor="#000000", zorder=3)
        c = current.get(arm)
        if c is not None and np.isfinite(c):
            ax.axvline(c, color=style.colour(arm), linewidth=0.9, linestyle=":",
                       label=f"{arm_label(arm)}: program's cost in this run {money(c)}")
    ax.axhline(0, color="#000000", linewidth=0.8)
    usd_axis(ax)
    usd_axis(ax, "x")
    ax.set_xlim(left=0)
    ax.set_xlabel("Program cost per participant-month, if this payer paid it (USD)")
    ax.set_ylabel("Payer's cost difference, USD")
    ax.set_title(f"Break-even program price: {payer_label(payer)} (above 0: pays more)", loc="left")
    ax.legend(loc="upper left", frameon=True, framealpha=0.9)
    return fig


# ---- cumulative net cost and payback ---------------------------------------------------------------


@styled
def cumulative_net_cost(cum: pd.DataFrame, arms: Sequence[str], payers: Sequence[str],
                        styles: dict[str, tuple[str, str]]) -> Figure:
    """Each arm's cumulative net cost against the comparator, year by year: one line per payer (its own
    fiscal years) and all payers (calendar years, black), 95% bands; payback years marked.

    ``cum``: budget_cumulative.csv (arm, payer, year_kind, year, cumulative_difference_usd, ci_low,
    ci_high, pays_back_here).
    """
    ncols = 1 if len(arms) <= 2 else 2
    nrows = math.ceil(len(arms) / ncols)
    fig = figure(0.9 + 2.6 * nrows)
    axes = np.atleast_1d(subplots(fig, nrows, ncols, sharex=True, squeeze=False)).ravel()
    lines = {}
    for ax, arm in zip(axes, arms, strict=False):
        a = cum[cum["arm"] == arm]
        for payer in [*payers, "all_payers"]:
            p = a[a["payer"] == payer].sort_values("year")
            if p.empty:
                continue
            x = p["year"].to_numpy(dtype=float)
            m = p["cumulative_difference_usd"].to_numpy(dtype=float)
            colour, lw, ls = ("#000000", 2.2, "-") if payer == "all_payers" else (styles[payer][0], 1.4, "--")
            (line,) = ax.plot(x, m, color=colour, linewidth=lw, linestyle=ls, marker="o", markersize=3)
            lines[payer] = line
            lo, hi = p["ci_low"].to_numpy(dtype=float), p["ci_high"].to_numpy(dtype=float)
            if np.isfinite(lo).all() and np.isfinite(hi).all():
                ax.fill_between(x, lo, hi, color=colour, alpha=0.10 if payer == "all_payers" else 0.07, linewidth=0)
            for r in p[p["pays_back_here"].astype(bool)].itertuples():
                ax.plot([r.year], [r.cumulative_difference_usd], marker="*", markersize=12, color=colour,
                        markeredgecolor="#000000", zorder=4)
                ax.annotate(f"pays back {int(r.year)}", (r.year, r.cumulative_difference_usd), xytext=(4, 6),
                            textcoords="offset points", fontsize=7.5, color=colour)
        ax.axhline(0, color="#000000", linewidth=0.8)
        usd_axis(ax)
        ax.set_title(arm_label(arm), loc="left", fontsize=9)
        ax.set_ylabel("Cumulative net cost, USD\n(undiscounted; above 0: costs more)", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[len(arms):]:
        ax.set_visible(False)
    for ax in axes[max(0, len(arms) - ncols):len(arms)]:
        ax.set_xlabel("Year (payers: fiscal; all payers: calendar)")
        ax.tick_params(labelbottom=True)
    handles = [Line2D([], [], color=lines[p].get_color(), linestyle=lines[p].get_linestyle(),
                      linewidth=lines[p].get_linewidth(), label="All payers" if p == "all_payers" else payer_label(p))
               for p in [*payers, "all_payers"] if p in lines]
    handles.append(Line2D([], [], marker="*", color="#777777", markeredgecolor="#000000", linestyle="", markersize=10,
                          label="payback (turns into a saving)"))
    fig.legend(handles=handles, loc="outside upper center", ncols=3, frameon=False, fontsize=8)
    return fig
