"""What a command prints first: a few plain sentences per arm against the comparator, and a
compact table of the measures a budget reader needs (formatting only).

Pure functions of a run's tables: ``summary.csv`` and ``comparison.csv`` (compare, run, budget,
cea) or ``psa_summary.csv``, ``psa_savings.csv`` and ``ceac.csv`` (psa). Money is rounded to
what a reader can use ($9,200, $687,000, $1.14 million); names come from ``labels``.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from lead_sim.report.labels import arm_label, is_nan, payer_label

WIDTH = 100


@dataclass(frozen=True)
class Period:
    """The facts a headline states besides its tables: the analysis period, the price year and
    discount rate of the money, and how many replications the intervals come from."""

    start: dt.date | str
    end: dt.date | str
    price_year: int
    discount_rate: float
    replications: int


# ---- numbers as a reader wants them ----------------------------------------------------------------------


def round_sig(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` significant figures (0 stays 0)."""
    if x == 0 or is_nan(x) or math.isinf(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def _millions(ax: float) -> str:
    """A positive amount of at least a million in millions, to three significant figures: 1.14, 31.0, 250."""
    m = round_sig(ax, 3) / 1e6
    return f"{m:.2f}" if m < 10 else (f"{m:.1f}" if m < 100 else f"{m:.0f}")


def dollars(x: float) -> str:
    """An amount of money without its sign, rounded for reading: $240, $9,200, $68,000,
    $687,000, $1.14 million (two significant figures below $100,000, three above)."""
    if is_nan(x):
        return "n/a"
    ax = abs(float(x))
    if ax >= 1e6:
        return f"${_millions(ax)} million"
    if ax >= 1e5:
        return f"${round_sig(ax, 3):,.0f}"
    if ax >= 10:
        return f"${round_sig(ax, 2):,.0f}"
    return f"${round_sig(ax, 2):g}"


def dollars_short(x: float, signed: bool = False) -> str:
    """Money for a narrow table cell: $240, $9,200, $687k, $1.14M (``signed``: +/- in front)."""
    if is_nan(x):
        return "n/a"
    x = float(x)
    sign = "-" if x < 0 and round_sig(x, 3) != 0 else ("+" if signed and x > 0 else "")
    ax = abs(x)
    if ax >= 1e6:
        body = f"${_millions(ax)}M"
    elif ax >= 1e5:
        body = f"${round_sig(ax, 3) / 1e3:.0f}k"
    elif ax >= 1e4:
        body = f"${round_sig(ax, 2) / 1e3:.0f}k"
    elif ax >= 10:
        body = f"${round_sig(ax, 2):,.0f}"
    else:
        body = f"${round_sig(ax, 2):g}"
    return sign + body


def amount(x: float, signed: bool = False) -> str:
    """A count or a number of days: two significant figures below 100, whole numbers above."""
    if is_nan(x):
        return "n/a"
    x = float(x)
    ax = abs(x)
    text = f"{round(ax):,}" if ax >= 100 else (f"{round_sig(ax, 2):g}" if ax > 0 else "0")
    sign = "-" if x < 0 and text != "0" else ("+" if signed and x > 0 else "")
    return sign + text


def share(x: float, signed: bool = False) -> str:
    """A probability as a percentage; a difference of two in percentage points."""
    if is_nan(x):
        return "n/a"
    if signed:
        return f"{100 * float(x):+.2g} pp"
    return f"{100 * float(x):.1f}%"


def date_text(d: dt.date | str) -> str:
    """'2019-01-22' -> '22 Jan 2019'."""
    try:
        d = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
    except ValueError:
        return str(d)
    return f"{d.day} {d:%b %Y}"


# ---- the run's tables ------------------------------------------------------------------------------------


def _value(summary: pd.DataFrame, arm: str, metric: str) -> float:
    row = summary[(summary["arm"] == arm) & (summary["metric"] == metric)]
    return float(row["mean"].iloc[0]) if len(row) else float("nan")


def _diff(comparison: pd.DataFrame | None, arm: str, metric: str) -> tuple[float, float, float]:
    if comparison is None:
        return (float("nan"),) * 3
    row = comparison[(comparison["arm"] == arm) & (comparison["metric"] == metric)]
    if row.empty:
        return (float("nan"),) * 3
    r = row.iloc[0]
    return float(r["difference"]), float(r["ci_low"]), float(r["ci_high"])


def _payers(summary: pd.DataFrame) -> list[str]:
    """The payers of the run's whole-group cost metrics (``cost_payer_<payer>_usd``), in order."""
    return [m[len("cost_payer_"):-len("_usd")] for m in dict.fromkeys(summary["metric"])
            if m.startswith("cost_payer_") and m.endswith("_usd") and not m.endswith("_per_person_usd")]


def _crosses_zero(lo: float, hi: float) -> bool:
    return not (is_nan(lo) or is_nan(hi)) and lo <= 0 <= hi


# ---- the sentences ---------------------------------------------------------------------------------------


def _cost_sentence(total: tuple[float, float, float], per_participant: float, participants: float,
                   per_person: float, people: float) -> str:
    d, lo, hi = total
    if is_nan(d):
        return "Total cost: not in this run's tables."
    more = "more" if d > 0 else "less"
    text = f"Total cost: {dollars(d)} {more} for the whole target group over the period"
    if is_nan(lo) or is_nan(hi):
        text += " (no interval: one replication)"
    elif _crosses_zero(lo, hi):
        text += (f" (95% interval {dollars(lo)} less to {dollars(hi)} more: not distinguishable from no "
                 "difference)")
    else:
        a, b = sorted((abs(lo), abs(hi)))
        both = (f"{dollars(a)[:-len(' million')]} to {dollars(b)}" if a >= 1e6 and b >= 1e6
                else f"{dollars(a)} to {dollars(b)}")
        text += f" (95% interval {both} {more})"
    parts = []
    if not is_nan(per_participant) and participants > 0:
        parts.append(f"{dollars(per_participant)} {'more' if per_participant > 0 else 'less'} per LEAD participant "
                     f"({amount(participants)} people enrolled at least once)")
    if not is_nan(per_person) and people > 0:
        parts.append(f"{dollars(per_person)} {'more' if per_person > 0 else 'less'} per person in the target group "
                     f"({amount(people)} people)")
    if parts:
        text += ": " + " and ".join(parts)
    return text + "."


def _payer_sentence(comparison: pd.DataFrame | None, arm: str, payers: list[str]) -> str:
    diffs = [(p, _diff(comparison, arm, f"cost_payer_{p}_usd")[0]) for p in payers]
    diffs = [(p, d) for p, d in diffs if not is_nan(d) and dollars(d) not in ("$0", "n/a")]
    pays = sorted([(p, d) for p, d in diffs if d > 0], key=lambda t: -t[1])
    saves = sorted([(p, d) for p, d in diffs if d < 0], key=lambda t: t[1])
    parts = []
    if pays:
        parts.append("Who pays more: " + ", ".join(f"{payer_label(p)} {dollars(d)}" for p, d in pays) + ".")
    if saves:
        parts.append("Who saves: " + ", ".join(f"{payer_label(p)} {dollars(d)}" for p, d in saves) + ".")
    return " ".join(parts)


OUTCOMES = [("rearrests_per_participant", "re-arrests", "fewer", "more"),
            ("jail_days_per_participant", "days in jail", "fewer", "more"),
            ("active_use_days_per_participant", "days in active drug use", "fewer", "more")]


def _outcome_sentence(comparison: pd.DataFrame | None, arm: str) -> str:
    parts = []
    for metric, words, less, more in OUTCOMES:
        d, lo, hi = _diff(comparison, arm, metric)
        if is_nan(d):
            continue
        text = f"{amount(abs(d))} {less if d < 0 else more} {words}" if amount(d) != "0" else f"no change in {words}"
        if _crosses_zero(lo, hi):
            text += " (within simulation noise of no change)"
        parts.append(text)
    if not parts:
        return ""
    body = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Per LEAD participant: {body}."


def headline(summary: pd.DataFrame, comparison: pd.DataFrame | None, arms: Sequence[str], comparator: str | None,
             period: Period) -> list[list[str]]:
    """The headline as paragraphs of sentences (one paragraph per arm against the comparator, then
    one saying what the money and the intervals are); empty without a comparator.

    From summary.csv and comparison.csv as a run writes them: the whole-group cost difference over
    the period with its 95% interval, per LEAD participant and per person in the target group; each
    payer's whole-group difference, those paying more first, then those saving, largest first; and
    re-arrests, days in jail and days in active drug use per participant.
    """
    if comparator is None or comparison is None:
        return []
    payers = _payers(summary)
    people = _value(summary, comparator, "people")
    paragraphs = []
    for arm in [a for a in arms if a != comparator]:
        participants = _value(summary, arm, "lead_participants")
        title = (f"{arm_label(arm)} against {arm_label(comparator).lower()}, {date_text(period.start)} to "
                 f"{date_text(period.end)}:")
        sentences = [title, _cost_sentence(_diff(comparison, arm, "cost_total_usd"),
                                           _diff(comparison, arm, "cost_total_per_participant_usd")[0], participants,
                                           _diff(comparison, arm, "cost_total_per_person_usd")[0], people)]
        if not participants > 0:
            sentences.append("Nobody enrolled in LEAD in this arm.")
        sentences += [s for s in (_payer_sentence(comparison, arm, payers), _outcome_sentence(comparison, arm)) if s]
        paragraphs.append(sentences)
    paragraphs.append([_money_note(period), _interval_note(period.replications, "replications")])
    return paragraphs


def _money_note(period: Period) -> str:
    return (f"Money in {period.price_year} US dollars, discounted at {100 * period.discount_rate:g}% a year to "
            f"{date_text(period.start)}. Days in active drug use are counted at each arm's share of days out of "
            "custody, so days kept out of jail do not count as days of use.")


def _interval_note(n: int, what: str) -> str:
    if n < 2:
        return "One replication: no intervals (--reps 10 gives them); parameter uncertainty: see `lead-sim psa`."
    return (f"95% intervals from simulation noise over {n} {what} only; parameter uncertainty: see `lead-sim psa`.")


def render(paragraphs: list[list[str]], width: int = WIDTH) -> str:
    """Paragraphs as text: each paragraph's first sentence as its title, the rest indented under it
    (a paragraph of one kind only, the notes, wrapped as it is); lines at most ``width`` wide."""
    lines: list[str] = []
    for para in paragraphs:
        if para and para[0].endswith(":"):
            lines.append(para[0])
            for sentence in para[1:]:
                lines += textwrap.wrap(sentence, width, initial_indent="  ", subsequent_indent="    ",
                                       break_on_hyphens=False)
        else:
            lines += textwrap.wrap(" ".join(para), width, break_on_hyphens=False)
    return "\n".join(lines)


# ---- the compact table -----------------------------------------------------------------------------------


def _compact_rows(summary: pd.DataFrame, payers: list[str]) -> list[tuple[str, str, str]]:
    """(metric, label, kind) of the compact table; kind: money, count, share."""
    rows = [("lead_participants", "LEAD participants", "count"),
            ("cost_total_usd", "Total cost, whole group", "money"),
            ("cost_total_per_person_usd", "  per person in target group", "money"),
            ("cost_total_per_participant_usd", "  per LEAD participant", "money")]
    for p in payers:
        values = summary.loc[summary["metric"] == f"cost_payer_{p}_usd", "mean"]
        if len(values) and (values.abs() > 0).any():
            rows.append((f"cost_payer_{p}_usd", f"  {payer_label(p)}"[:30], "money"))
    rows += [("p_rearrest_12m", "Re-arrested within 12 months", "share"),
             ("rearrests_per_participant", "Re-arrests per participant", "count"),
             ("jail_days_per_participant", "Jail days per participant", "count"),
             ("active_use_days_per_participant", "Drug-use days per participant", "count")]
    return rows


def _cell(kind: str, x: float, signed: bool = False) -> str:
    if kind == "money":
        return dollars_short(x, signed)
    if kind == "share":
        return share(x, signed)
    return amount(x, signed)


def _diff_cell(kind: str, d: tuple[float, float, float], replicated: bool) -> str:
    m, lo, hi = d
    if is_nan(m):
        return ""
    text = _cell(kind, m, signed=True)
    if is_nan(lo) or is_nan(hi):
        return f"{text} (unbounded)" if replicated else text
    if kind == "share":
        return f"{text} ({100 * lo:.2g} to {100 * hi:.2g})"
    return f"{text} ({_cell(kind, lo)} to {_cell(kind, hi)})"


def compact_table(summary: pd.DataFrame, comparison: pd.DataFrame | None, arms: Sequence[str], comparator: str | None,
                  width: int = WIDTH) -> str:
    """The measures a budget reader needs, by label: the comparator's value and each arm's paired
    difference from it with its 95% interval (one arm alone: its values). Payers appear under the
    whole-group total when they have any cost. When the arms do not fit in ``width`` columns, one
    table per arm."""
    payers = _payers(summary)
    rows = _compact_rows(summary, payers)
    if comparator is None or comparison is None:
        columns = [(arm_label(a), [_cell(k, _value(summary, a, m)) if (summary["metric"] == m).any() else ""
                                   for m, _, k in rows]) for a in arms]
        return _table([label for _, label, _ in rows], columns, "")
    others = [a for a in arms if a != comparator]
    base = (arm_label(comparator), [_cell(k, _value(summary, comparator, m)) if (summary["metric"] == m).any() else ""
                                    for m, _, k in rows])
    replicated = bool((summary["reps"] > 1).any()) if "reps" in summary else False
    diffs = [((arm_label(a), f"minus {arm_label(comparator).lower()}"),
              [_diff_cell(k, _diff(comparison, a, m), replicated) for m, _, k in rows]) for a in others]
    note = ("Differences paired by replication, with 95% intervals (simulation noise). Per participant: the "
            "difference divided by the arm's participants (enrolled at least once). Re-arrested: "
            "difference in percentage points.")
    if any("(unbounded)" in cell for _, col in diffs for cell in col):
        note += (" Unbounded: too few participants, or too variable a number, for a finite interval of the ratio "
                 "(Fieller's); more replications narrow it.")
    text = _table([label for _, label, _ in rows], [base, *diffs], note, width)
    if max(len(line) for line in text.splitlines()) <= width or len(diffs) == 1:
        return text
    return "\n\n".join(_table([label for _, label, _ in rows], [base, d], note if i == len(diffs) - 1 else "", width)
                       for i, d in enumerate(diffs))


def _table(labels: list[str], columns: Sequence[tuple[str | tuple[str, ...], list[str]]], note: str,
           width: int = WIDTH) -> str:
    """Rows of ``labels`` (those with any value) against ``columns`` (heading: text, wrapped to the
    column, or its lines; values), then ``note`` wrapped to ``width``."""
    keep = [i for i in range(len(labels)) if any(col[i] for _, col in columns)]
    label_w = max(len(labels[i]) for i in keep) + 2
    heads = [list(h) if isinstance(h, tuple) else (textwrap.wrap(h, max(12, max(len(col[i]) for i in keep))) or [""])
             for h, col in columns]
    widths = [max(max(len(col[i]) for i in keep), *(len(x) for x in hd)) + 2 for hd, (_, col) in zip(heads, columns, strict=True)]
    n_head = max(len(h) for h in heads)
    lines = []
    for j in range(n_head):
        lines.append(" " * label_w + "".join((hd[j] if j < len(hd) else "").ljust(w)
                                             for hd, w in zip(heads, widths, strict=True)))
    lines.append("-" * (label_w + sum(widths) - 2))
    for i in keep:
        lines.append(labels[i].ljust(label_w) + "".join(col[i].ljust(w) for (_, col), w in zip(columns, widths, strict=True)))
    out = [line.rstrip() for line in lines]
    if note:
        out += textwrap.wrap(note, width, break_on_hyphens=False)
    return "\n".join(out)


def pointer(run_dir: str, command: str = "compare") -> str:
    """The last lines: where every number is and how to get the report and the brief."""
    if command == "psa":
        return ("every table: the CSV files in the run folder above (ceac.csv: both chances at every value)\n"
                "the chance of saving money in a report and brief:\n"
                f"  lead-sim report <a compare, budget or cea run folder> --psa {run_dir}")
    more = "every metric: add --all; " if command in ("compare", "run") else ""
    return (f"{more}every table: the CSV files in the run folder above\n"
            f"a report with figures and a one-page brief (or add --report to the command):\n"
            f"  lead-sim report {run_dir}")


# ---- the psa headline ------------------------------------------------------------------------------------


def _psa_row(summary: pd.DataFrame, kind: str, arm: str, metric: str) -> pd.Series | None:
    rows = summary[(summary["kind"] == kind) & (summary["arm"] == arm) & (summary["metric"] == metric)]
    return rows.iloc[0] if len(rows) else None


def _range_text(lo: float, hi: float) -> str:
    if lo >= 0:
        return f"between {dollars(lo)} and {dollars(hi)} more"
    if hi <= 0:
        return f"between {dollars(hi)} and {dollars(lo)} less"
    return f"from {dollars(lo)} less to {dollars(hi)} more"


def _picks(values: list[float], k: int = 3) -> list[float]:
    """``k`` values spread over a sorted grid: its first, its last and evenly between."""
    if len(values) <= k:
        return values
    return [values[round(i * (len(values) - 1) / (k - 1))] for i in range(k)]


def psa_headline(summary: pd.DataFrame, savings: pd.DataFrame, ceac: pd.DataFrame, arms: Sequence[str],
                 comparator: str, period: Period, draws: int, outcome: str = "rearrests",
                 outcome_words: str = "re-arrest averted") -> list[list[str]]:
    """The psa headline as paragraphs of sentences: per arm against the comparator, the mean
    whole-group cost difference over the draws with the range of 95% of the draws, per LEAD
    participant, the chance of saving money (overall and by payer), and at three values of one
    ``outcome`` (from ceac.csv) the chance of being cost-effective against the comparator and,
    with three arms or more, of being the best of all arms; then a note on what the spread is.

    From psa_summary.csv, psa_savings.csv and ceac.csv as ``lead-sim psa`` writes them.
    """
    paragraphs = []
    n_arms = len(arms)
    c = ceac[ceac["outcome"] == outcome] if "outcome" in ceac else ceac.iloc[0:0]
    for arm in [a for a in arms if a != comparator]:
        sentences = [f"{arm_label(arm)} against {arm_label(comparator).lower()}, {date_text(period.start)} to "
                     f"{date_text(period.end)}, over {draws} parameter draws:"]
        cost = _psa_row(summary, "difference", arm, "cost_total_usd")
        if cost is not None:
            m = float(cost["mean"])
            text = (f"Total cost: {dollars(m)} {'more' if m > 0 else 'less'} for the whole target group on average; "
                    f"95% of draws {_range_text(float(cost['p2_5']), float(cost['p97_5']))}")
            part = _psa_row(summary, "arm", arm, "lead_participants")
            if part is not None and float(part["mean"]) > 0:
                text += (f"; {dollars(m / float(part['mean']))} {'more' if m > 0 else 'less'} per LEAD participant "
                         f"({amount(float(part['mean']))} enrolled at least once)")
            sentences.append(text + ".")
        s = savings[savings["arm"] == arm]
        overall = s[s["payer"] == "all_payers"]
        payers = s[(s["payer"] != "all_payers") & s["p_saves_money"].notna()]
        if len(overall):
            p = float(overall["p_saves_money"].iloc[0])
            text = f"Chance of saving money overall: {'n/a' if is_nan(p) else f'{100 * p:.0f}%'}"
            if len(payers):
                text += "; for " + ", ".join(f"{payer_label(r.payer)} {100 * r.p_saves_money:.0f}%"
                                             for r in payers.itertuples(index=False))
            sentences.append(text + ".")
        a = c[c["arm"] == arm].sort_values("wtp_usd")
        if len(a):
            picks = _picks(list(a["wtp_usd"]))
            at = a.set_index("wtp_usd")
            values = ", ".join(f"{dollars(w) if w else '$0'}" for w in picks)
            ce = ", ".join(f"{100 * at.loc[w, 'p_cost_effective_vs_comparator']:.0f}%" for w in picks)
            sentences.append(f"Chance it is cost-effective against {arm_label(comparator).lower()}, valuing a "
                             f"{outcome_words} at {values}: {ce}.")
            if n_arms > 2:
                best = ", ".join(f"{100 * at.loc[w, 'p_best_of_all_arms']:.0f}%" for w in picks)
                sentences.append(f"Chance it is the best of all {n_arms} arms at those values: {best}.")
        paragraphs.append(sentences)
    reps = "1 replication" if period.replications == 1 else f"{period.replications} replications"
    note = (f"Mean over the draws; the range holds 95% of them: what the parameter uncertainty implies "
            f"(simulation noise adds to it: {reps} per draw). Cost-effective: the net "
            f"monetary benefit beats the comparator's. Money in {period.price_year} US dollars, discounted at "
            f"{100 * period.discount_rate:g}% a year.")
    if n_arms > 2:
        note += " Best of all arms: the highest net monetary benefit of the arms (the CEAC of a choice among them)."
    paragraphs.append([note])
    return paragraphs
