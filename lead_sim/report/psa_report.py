"""The report of a probabilistic sensitivity analysis: ``lead-sim report PSA_DIR`` (a page and a
workbook of its own) and the PSA section of a run's report when a PSA is attached with ``--psa``.

Figures (:mod:`lead_sim.report.psa_figures`): the cost-effectiveness plane of the draws,
acceptability curves with their frontier, the EVPI curve, a tornado chart (a ``lead-sim
tornado`` run given with ``--tornado``, else the PSA's drivers) and each payer's chance of saving
money. Tables: the chance of saving money, the chance of being cost-effective and the net
monetary benefit at each outcome's own willingness to pay, the strongest drivers.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from lead_sim.report.figures import Fig
from lead_sim.report.html import CSS, Raw, ci_cell, esc, figure_html, table
from lead_sim.report.labels import arm_label, is_nan, money, payer_label, with_ci
from lead_sim.report.psa_figures import psa_figures, units_of
from lead_sim.report.rundata import PsaData
from lead_sim.stats import mean_ci


def at_own_wtp(psa: PsaData) -> pd.DataFrame:
    """For each outcome with a willingness to pay (the PSA scenario's ``cea.wtp_usd_per_unit``) and each arm:
    the chance over draws that the arm has the highest net monetary benefit, and its mean net benefit against
    the comparator with the Monte Carlo 95% interval."""
    t = psa.table("psa")
    units = units_of(psa)
    rows = []
    if t is None:
        return pd.DataFrame()
    arms = list(dict.fromkeys(t["arm"]))
    cost = t.pivot(index="draw", columns="arm", values="cost_total_usd")[arms]
    for outcome, lam in psa.wtp.items():
        if outcome not in t.columns:
            continue
        direction = units.get(outcome, ("gained" if outcome == "housed_days" else "averted",))[0]
        sign = 1.0 if direction == "gained" else -1.0
        eff = t.pivot(index="draw", columns="arm", values=outcome)[arms]
        nmb = lam * sign * eff - cost
        best = nmb.to_numpy().argmax(axis=1)
        for j, arm in enumerate(arms):
            d = (nmb[arm] - nmb[psa.comparator]).to_numpy()
            m, lo, hi = mean_ci(d) if arm != psa.comparator else (0.0, float("nan"), float("nan"))
            rows.append({"outcome": outcome, "wtp_usd": lam, "arm": arm, "p_cost_effective": float((best == j).mean()),
                         "incremental_nmb_usd": m, "nmb_ci_low": lo, "nmb_ci_high": hi, "draws": len(d)})
    return pd.DataFrame(rows)


def _savings_table(psa: PsaData) -> str:
    sav = psa.table("psa_savings")
    if sav is None or sav.empty:
        return ""
    rows = [[arm_label(r.arm), "All payers" if r.payer == "all_payers" else payer_label(r.payer),
             "n/a (no difference in any draw)" if is_nan(r.p_saves_money) else
             f"{100 * r.p_saves_money:.0f}% ({100 * r.p_ci_low:.0f}% to {100 * r.p_ci_high:.0f}%)",
             ci_cell(with_ci(r.mean_difference_usd, r.mean_ci_low, r.mean_ci_high, "USD", True))]
            for r in sav.itertuples()]
    return ("<h3>Chance of saving money</h3><p class=\"note\">Share of the draws in which the arm costs the payer less "
            "than the comparator (Wilson 95% interval), and the mean difference over the draws (whole target group, "
            "discounted, with its Monte Carlo interval).</p>"
            + table(["Arm", "Payer", "Chance of saving", "Mean difference"], rows, numeric=(2, 3)))


def _own_wtp_table(psa: PsaData) -> str:
    w = at_own_wtp(psa)
    if w.empty:
        return ""
    rows = [[r.outcome.replace("_", " "), money(r.wtp_usd), arm_label(r.arm), f"{100 * r.p_cost_effective:.0f}%",
             "" if r.arm == psa.comparator else ci_cell(with_ci(r.incremental_nmb_usd, r.nmb_ci_low, r.nmb_ci_high,
                                                                "USD", True))]
            for r in w.itertuples()]
    return ("<h3>At each outcome's own willingness to pay</h3><p class=\"note\">Each outcome valued at its own "
            "willingness to pay per unit (cea.wtp_usd_per_unit of the PSA's scenario; assumed values unless set): the "
            "share of draws in which the arm has the highest net monetary benefit of all arms, and its net benefit "
            "against the comparator (mean over draws, Monte Carlo 95% interval).</p>"
            + table(["Outcome", "Value per unit", "Arm", "Chance of the highest net benefit", "Net benefit vs comparator"],
                    rows, numeric=(1, 3, 4)))


def _drivers_table(psa: PsaData) -> str:
    d = psa.table("psa_drivers")
    if d is None or d.empty:
        return ""
    d = d[d["outcome"] == "difference in cost_total_usd"].sort_values(["arm", "rank"]).groupby("arm", sort=False).head(8)
    rows = [[arm_label(r.arm), r.parameter, str(r.rank), "" if is_nan(r.src) else f"{r.src:+.2f}",
             "" if is_nan(r.spearman) else f"{r.spearman:+.2f}"] for r in d.itertuples()]
    return ("<h3>Strongest drivers of the total cost difference</h3>"
            + table(["Arm", "Parameter", "Rank", "SRC", "Spearman"], rows, numeric=(2, 3, 4)))


def psa_body(psa: PsaData, figs: list[Fig] | None = None) -> str:
    """The PSA's tables and figures (a section of a run's report, or the body of the PSA's own report)."""
    figs = psa_figures(psa) if figs is None else figs
    by = {f.key: f for f in figs}
    out = [_savings_table(psa), _own_wtp_table(psa)]
    for key in ("psa_plane", "psa_ceac", "psa_evpi", "psa_tornado", "psa_savings"):
        if key in by:
            out.append(figure_html(by[key]))
    out.append(_drivers_table(psa))
    return "\n".join(x for x in out if x)


def render(psa: PsaData, problems: list[str], figs: list[Fig] | None = None) -> str:
    """The PSA's own report: one self-contained HTML page."""
    m = psa.manifest
    title = f"Probabilistic sensitivity analysis: {psa.name}"
    params = ((psa.scenario.get("uncertainty") or {}).get("parameters") or {})
    prow = [[k, Raw(esc(", ".join(f"{a}: {b}" for a, b in v.items())) if isinstance(v, dict) else esc(v))]
            for k, v in params.items()]
    reps = (psa.scenario.get("uncertainty") or {}).get("replications_per_draw", "")
    run = psa.scenario.get("run") or {}
    prov = [["Run folder", str(psa.path.resolve())], ["Created", m.get("created", "")],
            ["lead-sim version", m.get("lead_sim_version", "")], ["Git commit", m.get("git_commit") or "not recorded"],
            ["Command", " ".join(str(a) for a in m.get("command_line") or [])], ["Seed", str(m.get("seed", ""))],
            ["Arms", ", ".join(psa.arms)], ["Comparator", psa.comparator],
            ["Tornado run", str(psa.tornado_path) if psa.tornado_path else "none (drivers from the PSA)"],
            ["Report written", dt.datetime.now().astimezone().isoformat(timespec="seconds")]]
    body = [f"<header><h1>{esc(title)}</h1><p class=\"muted\">{psa.draws} draws of the uncertain parameters, "
            f"{esc(reps)} replication(s) per draw; arms {esc(', '.join(arm_label(a) for a in psa.arms))} against "
            f"{esc(arm_label(psa.comparator))}; analysis {esc(run.get('start_date', ''))} to {esc(run.get('end_date', ''))}; "
            f"{esc(run.get('price_year', ''))} USD discounted at {esc(run.get('discount_rate_per_year', ''))} a year; "
            f"run {esc(psa.path.name)}.</p></header>",
            *[f'<p class="warn">{esc(p)}</p>' for p in problems],
            "<h2 id=\"psa\">What the parameter uncertainty means for the decision</h2>",
            "<p>Every draw sets all uncertain parameters at once (their distributions and correlations below) and "
            "simulates every arm with the same random numbers; costs are all payers', discounted, for the whole target "
            "group. Shares of draws carry Wilson intervals for the finite number of draws.</p>",
            psa_body(psa, figs),
            "<h2 id=\"parameters\">Uncertain parameters</h2>", table(["Parameter", "Distribution"], prow),
            "<h2 id=\"provenance\">Provenance</h2>", table(["Item", "Value"], prov)]
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
