"""Budget answers: who pays, who saves, in which fiscal year; the grant; jail savings.

Pure functions on tidy tables. ``outcomes.periods.task_tables`` turns one arm-replication's
event log and spells into small aggregate tables (cost by fiscal year, payer and agency; the
grant payer's spending by month; jail bed-days by fiscal year); the functions here combine
replications into means with 95% intervals and paired differences from the comparator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.outcomes.costing import to_price_year
from lead_sim.outcomes.periods import FUNDER_KEYS, FY_KEYS
from lead_sim.scenario.schema import Scenario
from lead_sim.stats import mean_ci

# ---- combining replications -------------------------------------------------------------------


def _stack(per_task: dict[tuple[str, int], pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    frames = [df.assign(arm=arm, replication=rep) for (arm, rep), df in per_task.items()]
    data = pd.concat(frames, ignore_index=True)
    # every (keys) combination present for every arm-replication, zero where nothing was spent
    combos = data[keys].drop_duplicates().sort_values(keys)
    arms_reps = pd.MultiIndex.from_product([list(dict.fromkeys(data["arm"])), sorted(data["replication"].unique())])
    full = pd.MultiIndex.from_tuples(
        [(*c, a, r) for c in combos.itertuples(index=False) for a, r in arms_reps], names=[*keys, "arm", "replication"]
    )
    value_cols = [c for c in data.columns if c not in (*keys, "arm", "replication")]
    return data.set_index([*keys, "arm", "replication"])[value_cols].reindex(full, fill_value=0.0).reset_index()


def summarise_costs(per_task: dict[tuple[str, int], pd.DataFrame], comparator: str | None,
                    keys: list[str], level: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Costs per arm (mean, 95% interval) and paired differences from the comparator.

    ``keys`` are the columns of the per-task tables (e.g. fiscal_year, payer, agency);
    ``level`` the ones to keep (default all: summing over the others first).
    """
    level = level or keys
    data = _stack(per_task, keys)
    data = data.groupby([*level, "arm", "replication"], as_index=False)[["usd", "usd_discounted"]].sum()
    rows = []
    for key, g in data.groupby([*level, "arm"], sort=False):
        m, lo, hi = mean_ci(g["usd"].to_numpy())
        md, lod, hid = mean_ci(g["usd_discounted"].to_numpy())
        rows.append((*key, m, md, lo, hi, lod, hid, len(g)))
    per_arm = pd.DataFrame(rows, columns=[*level, "arm", "cost_undiscounted_usd", "cost_discounted_usd", "ci_low", "ci_high",
                                          "discounted_ci_low", "discounted_ci_high", "reps"])
    if comparator is None:
        return per_arm, None
    wide = data.pivot_table(index=[*level, "replication"], columns="arm", values=["usd", "usd_discounted"], sort=False)
    drows = []
    arms = [a for a in dict.fromkeys(data["arm"]) if a != comparator]
    for key, g in wide.groupby(level=list(range(len(level))), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for arm in arms:
            d = (g[("usd", arm)] - g[("usd", comparator)]).to_numpy()
            dd = (g[("usd_discounted", arm)] - g[("usd_discounted", comparator)]).to_numpy()
            m, lo, hi = mean_ci(d)
            md, lod, hid = mean_ci(dd)
            drows.append((*key, arm, comparator, m, lo, hi, md, lod, hid, len(d)))
    diffs = pd.DataFrame(drows, columns=[*level, "arm", "comparator", "difference_undiscounted_usd", "ci_low", "ci_high",
                                         "difference_discounted_usd", "discounted_ci_low", "discounted_ci_high", "reps"])
    return per_arm, diffs


def grant_burn_down(per_task: dict[tuple[str, int], pd.DataFrame], sc_by_arm: dict[str, Scenario]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly grant-payer spending against the grant, per arm.

    Returns (monthly table: arm, month, spend mean and interval, cumulative mean, grant left)
    and a one-row-per-arm summary: the month the grant runs out (in the mean path, and the
    share of replications in which it runs out within the period) and the spend by the end
    of the program (``lead.end_date``, ``program_end``) or of the analysis period, whichever
    comes first (``spent_through``).
    """
    data = _stack(per_task, ["month"])
    months = sorted(data["month"].unique())
    monthly_rows, summary_rows = [], []
    for arm, g in data.groupby("arm", sort=False):
        sc = sc_by_arm[arm]
        grant = sc.lead.grant_usd or 0.0
        wide = g.pivot_table(index="replication", columns="month", values="usd").reindex(columns=months, fill_value=0.0)
        cum = wide.cumsum(axis=1)
        for month in months:
            m, lo, hi = mean_ci(wide[month].to_numpy())
            c = float(cum[month].mean())
            monthly_rows.append((arm, month, m, lo, hi, c, grant - c))
        mean_cum = cum.mean(axis=0)
        over = mean_cum[mean_cum > grant]
        runs_out = over.index[0] if grant > 0 and len(over) else None
        share = float((cum.max(axis=1) > grant).mean()) if grant > 0 else float("nan")
        end = sc.lead.end_date or sc.run.end_date
        through = min(end, sc.run.end_date)  # nothing is simulated after the run's end
        end_month = f"{through.year:04d}-{through.month:02d}"
        upto = [mo for mo in months if mo <= end_month]
        spent = cum[upto[-1]] if upto else pd.Series([0.0] * len(cum))
        sm, slo, shi = mean_ci(spent.to_numpy())
        summary_rows.append((arm, grant, runs_out, share, str(end), str(through), sm, slo, shi))
    monthly = pd.DataFrame(monthly_rows, columns=["arm", "month", "spend_usd", "ci_low", "ci_high", "cumulative_usd", "grant_left_usd"])
    summary = pd.DataFrame(summary_rows, columns=["arm", "grant_usd", "month_grant_runs_out", "share_of_reps_running_out",
                                                  "program_end", "spent_through", "spent_by_program_end_usd", "ci_low", "ci_high"])
    return monthly, summary


def jail_savings(per_task: dict[tuple[str, int], pd.DataFrame], sc: Scenario, comparator: str) -> pd.DataFrame:
    """Short-run and long-run jail savings by fiscal year, beside the change in bed-days priced at
    the average (fully loaded) cost of a jail day. All three read the one jail-day unit cost
    (``costs.per_day.jail``) through ``costing.to_price_year``, in each lens: the short run saves
    its marginal value per bed-day; the long run adds whole housing units closed; the average
    value shows what the bed-days cost in full, which is not all saved.

    Average daily population (ADP) of the target group = bed-days / days of the fiscal year
    inside the period. A housing unit of ``unit_beds`` closes for each full ``unit_beds`` fall in
    ADP (and opens for each rise), saving (costing) ``unit_usd_per_year`` pro rata.
    """
    jc = sc.costs.jail_capacity
    if jc is None:
        return pd.DataFrame()
    jail_day = sc.costs.per_day.get(N.JAIL, {}).values()
    average = sum(to_price_year(v, sc, lens="average") for v in jail_day)
    marginal = sum(to_price_year(v, sc, lens="marginal") for v in jail_day)
    unit_cost = to_price_year(jc.unit_usd_per_year, sc)
    data = _stack(per_task, ["fiscal_year"])
    rows = []
    for fy, g in data.groupby("fiscal_year"):
        wide = g.pivot_table(index="replication", columns="arm", values=["bed_days", "days_in_window"])
        days = float(wide[("days_in_window", comparator)].iloc[0])
        for arm in [a for a in dict.fromkeys(g["arm"]) if a != comparator]:
            d_beds = (wide[("bed_days", arm)] - wide[("bed_days", comparator)]).to_numpy()
            d_adp = d_beds / days
            short = -marginal * d_beds
            # whole units only: one closes per full unit_beds fall in ADP, one opens per full rise
            units = np.sign(-d_adp) * np.floor(np.abs(d_adp) / jc.unit_beds)
            long = short + units * unit_cost * days / N.DAYS_PER_YEAR
            adp = mean_ci(d_adp)
            s, lg = mean_ci(short), mean_ci(long)
            rows.append((fy, arm, comparator, days, *adp, *mean_ci(-average * d_beds), *s, *lg, float(units.mean()),
                         average, marginal, sc.costs.lens))
    return pd.DataFrame(rows, columns=[
        "fiscal_year", "arm", "comparator", "days_in_period", "adp_difference", "adp_ci_low", "adp_ci_high",
        "average_cost_saving_usd", "average_cost_ci_low", "average_cost_ci_high",
        "short_run_saving_usd", "short_run_ci_low", "short_run_ci_high",
        "long_run_saving_usd", "long_run_ci_low", "long_run_ci_high", "housing_units_closed_mean",
        "average_usd_per_bed_day", "marginal_usd_per_bed_day", "lens_of_cost_tables"])


def nominal_factor(sc: Scenario, year: int) -> float:
    """Then-year dollars per ``run.price_year`` dollar for a (fiscal or calendar) year: the CPI
    table's ratio where it has the year, else its last year's ratio grown at
    ``costs.projected_inflation_per_year``."""
    cpi, base = sc.costs.cpi, sc.run.price_year
    if year in cpi and base in cpi:
        return cpi[year] / cpi[base]
    known = [y for y in cpi if y <= year]
    if not known or base not in cpi:
        return (1.0 + sc.costs.projected_inflation_per_year) ** (year - base)
    last = max(known)
    return cpi[last] / cpi[base] * (1.0 + sc.costs.projected_inflation_per_year) ** (year - last)


#: money columns of the budget tables that are undiscounted (and so can be shown in then-year dollars)
UNDISCOUNTED = ("cost_undiscounted_usd", "difference_undiscounted_usd", "ci_low", "ci_high",
                "program_funding_needed_usd", "net_cost_usd")


def to_nominal(df: pd.DataFrame, sc: Scenario, year_column: str) -> pd.DataFrame:
    """A budget table in then-year dollars: undiscounted amounts times :func:`nominal_factor` of
    their year; discounted columns dropped (discounting applies to constant dollars)."""
    if df is None or df.empty or year_column not in df:
        return df
    out = df.drop(columns=[c for c in df.columns if c.startswith("discounted") or "_discounted" in c])
    factor = out[year_column].map(lambda y: nominal_factor(sc, int(y))).to_numpy(dtype=float)
    for c in out.columns:
        if c in UNDISCOUNTED or c.startswith("saving_"):
            out[c] = out[c].to_numpy(dtype=float) * factor
    out["dollars"] = f"then-year (price year {sc.run.price_year} x CPI; {sc.costs.projected_inflation_per_year:.1%}/yr after the CPI table)"
    return out


def funding_need(per_arm: pd.DataFrame, diffs: pd.DataFrame | None, sc: Scenario, after_year: int) -> pd.DataFrame:
    """Program funding per calendar year after ``after_year`` per arm, with offsetting savings by payer.

    Takes the calendar-year tables (``year``, payer, agency). Program funding is the spending of
    ``costs.program_agencies`` beyond the comparator's (paired difference): the comparator's
    own treatment (found without LEAD) needs no program funding; with no comparator, the arm's
    spending. Savings are the reductions in every payer's other agencies against the comparator
    (positive = saved). Denver's fiscal year is the calendar year.
    """
    program = set(sc.costs.program_agencies)
    if diffs is None:
        later = per_arm[(per_arm["year"] > after_year) & per_arm["agency"].isin(program)]
        need = later.groupby(["arm", "year"], as_index=False)["cost_undiscounted_usd"].sum()
        return need.rename(columns={"cost_undiscounted_usd": "program_funding_needed_usd"})
    extra = diffs[(diffs["year"] > after_year) & diffs["agency"].isin(program)]
    need = extra.groupby(["arm", "year"], as_index=False)["difference_undiscounted_usd"].sum()
    need = need.rename(columns={"difference_undiscounted_usd": "program_funding_needed_usd"})
    if need.empty:
        return need
    d = diffs[(diffs["year"] > after_year) & ~diffs["agency"].isin(program)]
    savings = d.groupby(["arm", "year", "payer"], as_index=False)["difference_undiscounted_usd"].sum()
    savings["saving_usd"] = 0.0 - savings.pop("difference_undiscounted_usd")  # 0.0 - x: no "-0" where nothing changed
    wide = savings.pivot_table(index=["arm", "year"], columns="payer", values="saving_usd").add_prefix("saving_")
    out = need.merge(wide.reset_index(), on=["arm", "year"], how="left")
    out["net_cost_usd"] = out["program_funding_needed_usd"] - out.filter(like="saving_").sum(axis=1)
    return out


def program_end_year(arms: dict[str, Scenario], comparator: str) -> int:
    """The year after which a program needs new funding: the last year of the earliest
    ``lead.end_date`` among the arms other than the comparator (the pilot's end), else the
    analysis start's year (every arm's program runs on)."""
    ends = [sc.lead.end_date for name, sc in arms.items() if name != comparator and sc.lead.enabled and sc.lead.end_date]
    if ends:
        return min(ends).year
    return next(iter(arms.values())).run.start_date.year


def budget_files(extras: dict[str, dict], arms: dict[str, Scenario], base: Scenario, comparator: str,
                 dollars: str = "constant") -> tuple[dict[str, pd.DataFrame], int]:
    """Every table of ``lead-sim budget`` from the per-task tables of a run (``extras``, keyed
    by analysis then (arm, replication)); and the year after which funding need is projected.

    ``dollars``: ``constant`` (``run.price_year`` dollars) or ``nominal`` (then-year dollars for
    the budget and funding tables, :func:`to_nominal`)."""
    ex = extras
    per_arm, diffs = summarise_costs(ex["fiscal_year"], comparator, FY_KEYS)
    by_payer, by_payer_diff = summarise_costs(ex["fiscal_year"], comparator, FY_KEYS, level=["fiscal_year", "payer"])
    funders, funders_diff = summarise_costs(ex["funder_fiscal_year"], comparator, FUNDER_KEYS)
    years, years_diff = summarise_costs(ex["calendar_year"], comparator, ["year", "payer", "agency"])
    files = {"budget.csv": per_arm, "budget_differences.csv": diffs, "budget_by_payer.csv": by_payer,
             "budget_by_payer_differences.csv": by_payer_diff, "budget_by_funder.csv": funders,
             "budget_by_funder_differences.csv": funders_diff, "budget_calendar_years.csv": years,
             "budget_calendar_years_differences.csv": years_diff}
    if "program_month" in ex:
        monthly, grant = grant_burn_down(ex["program_month"], arms)
        files["grant_monthly.csv"], files["grant.csv"] = monthly, grant
    jail = jail_savings(ex["jail_fy"], base, comparator)
    if len(jail):
        files["jail_savings.csv"] = jail
    after = program_end_year(arms, comparator)
    files["funding_need.csv"] = funding_need(years, years_diff, base, after)
    if dollars == "nominal":
        for name in list(files):
            year_column = next((c for c in ("fiscal_year", "year") if c in files[name].columns), None)
            if year_column and name.startswith(("budget", "funding")):
                files[name] = to_nominal(files[name], base, year_column)
    return files, after
