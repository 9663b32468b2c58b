"""Which figures a probabilistic sensitivity analysis adds to a report, built from its folder's tables.

The cost-effectiveness plane of the draws, acceptability curves with their frontier, the EVPI
curve, the chance of saving money per payer, and a tornado chart: from a ``lead-sim tornado`` run
when one is given, else the PSA's drivers (standardised regression coefficients). Each only when
its table exists.
"""

from __future__ import annotations

import pandas as pd

from lead_sim.report.figures import Fig
from lead_sim.report.labels import arm_label, money
from lead_sim.report.plots import ArmStyle
from lead_sim.report.psa_plots import (
    OutcomeUnits,
    acceptability,
    driver_bars,
    evpi_curves,
    psa_plane,
    saving_chances,
    tornado_bars,
)
from lead_sim.report.rundata import PsaData

#: how many parameters a tornado or drivers chart shows (largest first)
TOP = 12


def units_of(psa: PsaData) -> OutcomeUnits:
    """outcome -> (direction, unit), read from ceac.csv ('re-arrest averted' -> ('averted', 're-arrest'))."""
    c = psa.table("ceac")
    out: OutcomeUnits = {}
    if c is not None:
        for outcome, unit in c.groupby("outcome", sort=False)["unit"].first().items():
            words = str(unit).rsplit(" ", 1)
            out[str(outcome)] = (words[1], words[0]) if len(words) == 2 else ("", str(unit))
    return out


def outcomes_of(psa: PsaData) -> list[str]:
    """The outcomes the PSA has acceptability curves for (``--wtp-max``), in its order."""
    c = psa.table("ceac")
    return list(dict.fromkeys(c["outcome"])) if c is not None and len(c) else []


def plane_points(psa: PsaData, outcomes: list[str], units: OutcomeUnits) -> pd.DataFrame:
    """Per draw: each arm's incremental cost (all payers, discounted) and signed incremental effect."""
    t = psa.table("psa")
    if t is None:
        return pd.DataFrame(columns=["arm", "draw", "outcome", "d_cost", "d_effect"])
    cost = t.pivot(index="draw", columns="arm", values="cost_total_usd")
    rows = []
    for outcome in outcomes:
        if outcome not in t.columns:
            continue
        sign = 1.0 if units.get(outcome, ("averted",))[0] == "gained" else -1.0
        eff = t.pivot(index="draw", columns="arm", values=outcome)
        for arm in psa.others:
            d_cost = cost[arm] - cost[psa.comparator]
            d_eff = sign * (eff[arm] - eff[psa.comparator])
            rows.append(pd.DataFrame({"arm": arm, "draw": d_cost.index, "outcome": outcome, "d_cost": d_cost.to_numpy(),
                                      "d_effect": d_eff.to_numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["arm", "draw", "outcome", "d_cost", "d_effect"])


def _wtp_text(psa: PsaData, outcomes: list[str]) -> str:
    w = psa.wtp
    if not w:
        return ""
    shown = ", ".join(f"{money(w[o])} per {units_of(psa).get(o, ('', o))[1]}" for o in outcomes if o in w)
    return f" Willingness to pay (cea.wtp_usd_per_unit; assumed unless set): {shown}." if shown else ""


def psa_figures(psa: PsaData) -> list[Fig]:
    """Every PSA figure its tables allow, in report order."""
    style = ArmStyle(psa.arms, psa.comparator)
    units, outcomes = units_of(psa), outcomes_of(psa)
    n = psa.draws
    out: list[Fig] = []
    pts = plane_points(psa, outcomes, units)
    if len(pts):
        out.append(Fig("psa_plane", "Cost-effectiveness plane of the PSA draws",
                       f"Each small marker is one of {n} draws of the uncertain parameters: the arm's incremental cost "
                       f"(all payers, discounted, whole target group) against its incremental outcome, paired with "
                       f"{arm_label(psa.comparator).lower()} under the same draw; large markers: the means. Dashed: "
                       f"the outcome's own willingness to pay; below it an arm is worth its cost at that value."
                       + _wtp_text(psa, outcomes),
                       psa_plane(pts, outcomes, units, psa.wtp, style, psa.others)))
    ceac = psa.table("ceac")
    if ceac is not None and len(ceac):
        out.append(Fig("psa_ceac", "Acceptability curves and frontier",
                       f"For each willingness to pay per unit of the outcome, the share of the {n} draws in which each "
                       f"arm (the comparator included) has the highest net monetary benefit. Grey band: the frontier, "
                       f"the chance that the arm with the highest mean net benefit is the best one. Intervals of these "
                       f"shares (Wilson) are in ceac.csv.", acceptability(ceac, outcomes, units, psa.wtp, style,
                                                                           psa.arms)))
    evpi = psa.table("evpi")
    if evpi is not None and len(evpi):
        out.append(Fig("psa_evpi", "Expected value of perfect information",
                       "What resolving all parameter uncertainty would be worth, for the modelled target group, at each "
                       "willingness to pay: the mean over draws of the best arm's net benefit minus the net benefit of "
                       f"the arm best on average. From {n} draws; zero where one arm is best in every draw.",
                       evpi_curves(evpi, outcomes, units, psa.wtp)))
    tornado = tornado_figure(psa)
    if tornado is not None:
        out.append(tornado)
    sav = psa.table("psa_savings")
    if sav is not None and len(sav):
        out.append(Fig("psa_savings", "Chance of saving money, by payer",
                       f"Share of the {n} draws in which each payer (and all payers together) spends less under the "
                       f"arm than under {arm_label(psa.comparator).lower()} (whole period, discounted), with its Wilson "
                       f"95% interval. Payers whose costs never differ are left out.",
                       saving_chances(sav, style, psa.others, psa.payers)))
    return out


def tornado_figure(psa: PsaData) -> Fig | None:
    """Tornado chart of the total cost difference of the first arm: from a tornado run if given, else from
    the PSA's drivers table (None without either)."""
    arm = psa.others[0] if psa.others else None
    if arm is None:
        return None
    t = psa.tornado
    if t is not None and len(t):
        rows = t[(t["arm"] == arm) & (t["outcome"] == "difference in cost_total_usd")]
        if len(rows) == 0:
            rows = t[t["arm"] == arm]
            rows = rows[rows["outcome"] == rows["outcome"].iloc[0]] if len(rows) else rows
        rows = rows.sort_values("swing", ascending=False).head(TOP)
        if len(rows) and rows["swing"].abs().max() > 0:
            bars = rows.rename(columns={"result_at_low": "low_result", "result_at_high": "high_result"})
            base = float(rows["result_at_base"].iloc[0])
            return Fig("psa_tornado", "Tornado chart: one parameter at a time",
                       f"{arm_label(arm)} minus {arm_label(psa.comparator).lower()}, total cost of all payers "
                       f"(discounted, whole target group): each bar runs from the result with the parameter at its low "
                       f"value to the result at its high value (in brackets), the others at their base values; the "
                       f"{len(rows)} largest swings of the tornado run {psa.tornado_path.name if psa.tornado_path else ''}.",
                       tornado_bars(bars, f"{arm_label(arm)}: difference in total cost, all payers",
                                    "Difference in total cost, USD (vertical line: all parameters at base)", base))
    d = psa.table("psa_drivers")
    if d is None or d.empty:
        return None
    rows = d[(d["arm"] == arm) & (d["outcome"] == "difference in cost_total_usd")].sort_values("rank").head(TOP)
    if rows.empty:
        return None
    return Fig("psa_tornado", "What drives the cost difference (PSA drivers)",
               f"{arm_label(arm)} minus {arm_label(psa.comparator).lower()}, total cost of all payers: how strongly each "
               f"uncertain parameter moves the difference over the {psa.draws} draws (standardised regression coefficient, "
               f"or Spearman's rank correlation with too few draws for the regression); the {len(rows)} strongest. Give "
               f"a lead-sim tornado run with --tornado for one-way low/high bars.",
               driver_bars(rows, f"{arm_label(arm)}: difference in total cost, all payers"))
