"""Plain-text and machine-readable renderings of a comparison (formatting only)."""

from __future__ import annotations

import json
import math

import pandas as pd


def fmt(x: float) -> str:
    """A number for a terminal table: thousands separated, otherwise about 3 significant digits ('n/a' for None or NaN)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.1f}"
    if ax == 0:
        return "0"
    return f"{x:.3g}" if ax >= 0.01 else f"{x:.2g}"


def _cell(mean: float, lo: float, hi: float) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return fmt(mean)
    return f"{fmt(mean)} ({fmt(lo)} to {fmt(hi)})"


def comparison_table(summary: pd.DataFrame, comparison: pd.DataFrame | None, arms: list[str], comparator: str | None) -> str:
    """Metric rows; each arm's mean (95% CI); under it each arm's difference from the comparator.
    Metrics only comparison.csv has (per LEAD participant) follow, as differences alone."""
    only_diffs = [] if comparison is None else [m for m in dict.fromkeys(comparison["metric"])
                                                if m not in set(summary["metric"])]
    metric_w = max(34, *(len(m) for m in summary["metric"]), *(len(m) for m in only_diffs)) + 2
    cells: dict[tuple[str, str], str] = {}
    for row in summary.itertuples(index=False):
        cells[(row.metric, row.arm)] = _cell(row.mean, row.ci_low, row.ci_high)
    diffs: dict[tuple[str, str], str] = {}
    if comparison is not None:
        for row in comparison.itertuples(index=False):
            sign = "+" if row.difference > 0 else ""
            diffs[(row.metric, row.arm)] = sign + _cell(row.difference, row.ci_low, row.ci_high)
    col_w = max([len(a) for a in arms] + [len(v) for v in cells.values()] + [len(v) for v in diffs.values()] + [12]) + 2
    lines = ["metric".ljust(metric_w) + "".join(a.ljust(col_w) for a in arms)]
    lines.append("-" * (metric_w + col_w * len(arms)))
    for metric in [*dict.fromkeys(summary["metric"]), *only_diffs]:
        lines.append(metric.ljust(metric_w) + "".join(cells.get((metric, a), "").ljust(col_w) for a in arms))
        if comparison is not None and comparator is not None:
            label = f"  difference vs {comparator}"
            lines.append(label.ljust(metric_w) + "".join(diffs.get((metric, a), "").ljust(col_w) for a in arms))
    return "\n".join(line.rstrip() for line in lines)


def comparison_csv(summary: pd.DataFrame, comparison: pd.DataFrame | None) -> str:
    """summary.csv rows as CSV text, each with its paired difference from the comparator and its 95% interval where there is one;
    then the differences that have no value for one arm alone (per LEAD participant), with empty means."""
    table = summary.rename(columns={"mean": "mean", "ci_low": "ci_low", "ci_high": "ci_high"})
    if comparison is not None and len(comparison):
        d = comparison[["metric", "arm", "difference", "ci_low", "ci_high"]].rename(
            columns={"ci_low": "difference_ci_low", "ci_high": "difference_ci_high"}
        )
        table = table.merge(d, on=["metric", "arm"], how="left")
        only = d[~d["metric"].isin(set(summary["metric"]))]  # per LEAD participant: no value for one arm alone
        if len(only):
            table = pd.concat([table.astype({"reps": "Int64"}), only[["arm", "metric", *d.columns[2:]]]],
                              ignore_index=True)
    return table.to_csv(index=False, float_format="%.10g", lineterminator="\n")


def comparison_json(info: dict, summary: pd.DataFrame, comparison: pd.DataFrame | None) -> str:
    """``info`` (scenario, run folder, arms, ...) with the summary and comparison rows, as JSON text; NaN becomes null."""
    def records(df: pd.DataFrame) -> list[dict]:
        return [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in df.to_dict(orient="records")
        ]

    data = dict(info)
    data["summary"] = records(summary)
    data["comparison"] = records(comparison) if comparison is not None else []
    return json.dumps(data, indent=2, default=str)


def frame_table(df: pd.DataFrame, raw: bool = False) -> str:
    """A plain fixed-width table of a DataFrame; numbers formatted with :func:`fmt` unless ``raw``."""
    if df.empty:
        return "(none)"
    cols = list(df.columns)
    cells = [[str(c) for c in cols]]
    for row in df.itertuples(index=False):
        cells.append([v if (raw or isinstance(v, str)) else (fmt(v) if isinstance(v, float) else str(v)) for v in row])
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(cols))]
    lines = ["  ".join(str(r[i]).ljust(widths[i]) for i in range(len(cols))).rstrip() for r in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
