"""Budget answers: who pays, who saves, in which fiscal year; the grant; jail savings.

Pure functions on tidy tables. ``outcomes.periods.task_tables`` turns one arm-replication's
event log and spells into small aggregate tables (cost by fiscal year, payer and agency; the
grant payer's spending by month; jail bed-days by fiscal year); the functions here combine
replications into means with 95% intervals and paired differences from the comparator.
"""

from __future__ import annotations

import datetime as dt

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
                "program_funding_needed_usd", "program_ci_low", "program_ci_high", "net_cost_usd", "net_ci_low",
                "net_ci_high")


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


def _paired(values: pd.DataFrame, arm: str, comparator: str) -> np.ndarray:
    """Per replication: ``arm``'s value minus the comparator's (``values`` indexed by arm, columns replications)."""
    return (values.loc[arm] - values.loc[comparator]).to_numpy(dtype=float)


def _runs_after(sc: Scenario, year: int) -> bool:
    """True when the arm's program still runs after the end of ``year`` (LEAD on, with no end or a later one)."""
    return sc.lead.enabled and (sc.lead.end_date is None or sc.lead.end_date.year > year)


def funding_need_table(per_task: dict[tuple[str, int], pd.DataFrame], arms: dict[str, Scenario], comparator: str,
                       after_year: int) -> pd.DataFrame:
    """funding_need.csv: for each arm whose program runs after ``after_year`` and each calendar year
    after it, the program funding needed and each payer's offsetting saving, with 95% intervals
    over replications.

    Takes the per-task calendar-year tables (year, payer, agency, usd). Program funding is the
    paired difference in the spending of ``costs.program_agencies`` (the comparator's own
    treatment, found without LEAD, needs none); a payer's saving is the paired reduction in its
    other agencies' spending (positive = saved); net cost = program funding - savings (the
    paired difference in every agency's spending). Undiscounted, constant prices. An arm whose
    program ended by ``after_year`` (the pilot) is left out: it needs no funding, and what its
    people still cost is in budget_calendar_years_differences.csv.
    """
    base = arms[comparator]
    program = set(base.costs.program_agencies)
    keep = [a for a, sc in arms.items() if a != comparator and _runs_after(sc, after_year)]
    columns = ["arm", "comparator", "year", "program_funding_needed_usd", "program_ci_low", "program_ci_high",
               "net_cost_usd", "net_ci_low", "net_ci_high", "reps"]
    data = _stack(per_task, ["year", "payer", "agency"])
    data = data[data["year"] > after_year]
    if not keep or data.empty:
        return pd.DataFrame(columns=columns)
    payers = [p for p in base.costs.payers if (data["payer"] == p).any()]
    rows = []
    for year, g in data.groupby("year", sort=True):
        prog = g[g["agency"].isin(program)].groupby(["arm", "replication"])["usd"].sum().unstack("replication")
        total = g.groupby(["arm", "replication"])["usd"].sum().unstack("replication")
        other = g[~g["agency"].isin(program)].groupby(["payer", "arm", "replication"])["usd"].sum()
        for arm in keep:
            end = arms[arm].lead.end_date
            if end is not None and int(year) > end.year:
                continue  # the arm's program has ended: no funding to find
            p_m, p_lo, p_hi = mean_ci(_paired(prog, arm, comparator)) if len(prog) else (0.0, 0.0, 0.0)
            row = {"arm": arm, "comparator": comparator, "year": int(year), "program_funding_needed_usd": p_m,
                   "program_ci_low": p_lo, "program_ci_high": p_hi}
            for payer in payers:
                if payer in other.index.get_level_values("payer"):
                    saved = 0.0 - _paired(other.loc[payer].unstack("replication"), arm, comparator)  # no "-0"
                    s_m, s_lo, s_hi = mean_ci(saved)
                else:
                    s_m = s_lo = s_hi = 0.0
                row[f"saving_{payer}"], row[f"saving_{payer}_ci_low"], row[f"saving_{payer}_ci_high"] = s_m, s_lo, s_hi
            n_m, n_lo, n_hi = mean_ci(_paired(total, arm, comparator))
            row.update({"net_cost_usd": n_m, "net_ci_low": n_lo, "net_ci_high": n_hi,
                        "reps": int(total.shape[1])})
            rows.append(row)
    out = pd.DataFrame(rows)
    # a payer saving nothing in any year and replication (no agency of its own changes) adds only zeros
    idle = [p for p in payers if not out.filter(regex=f"^saving_{p}(_ci_low|_ci_high)?$").abs().to_numpy().any()]
    out = out.drop(columns=[c for p in idle for c in (f"saving_{p}", f"saving_{p}_ci_low", f"saving_{p}_ci_high")])
    return out.sort_values(["arm", "year"], key=lambda c: c.map(keep.index) if c.name == "arm" else c,
                           kind="stable").reset_index(drop=True)


#: budget_periods.csv's groups besides the payers: every agency, the program's agencies, the others
PERIOD_GROUPS = ("all_payers", "program_agencies", "other_agencies")


def _month_end(month: str) -> dt.date:
    y, m = int(month[:4]), int(month[5:7])
    return dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)


def _windows(sc: Scenario, base: Scenario, months: list[str]) -> list[tuple[str, str, list[str], dt.date, dt.date]]:
    """(kind, period, months, first day, last day) of the periods an arm is reported over: the months
    its program ran, the months before and after, the whole analysis and each calendar year."""
    start, end = base.run.start_date, base.run.end_date
    out: list[tuple[str, str, list[str], dt.date, dt.date]] = []

    def window(kind: str, period: str, chosen: list[str], first: dt.date, last: dt.date) -> None:
        if chosen:
            out.append((kind, period, chosen, max(first, start), min(last, end)))

    if sc.lead.enabled:
        a = max(sc.lead.start_date, start)
        b = min(sc.lead.end_date or end, end)
        if a <= b:
            first_m, last_m = f"{a:%Y-%m}", f"{b:%Y-%m}"
            window("before_program", "before the program", [m for m in months if m < first_m], start,
                   a - dt.timedelta(days=1))
            window("program", "while the program ran", [m for m in months if first_m <= m <= last_m], a,
                   _month_end(last_m))
            after = [m for m in months if m > last_m]
            if after:
                window("after_program", "after the program ended", after, _month_end(last_m) + dt.timedelta(days=1), end)
    window("analysis", "whole analysis period", months, start, end)
    for year in sorted({m[:4] for m in months}):
        window("calendar_year", year, [m for m in months if m.startswith(year)], dt.date(int(year), 1, 1),
               dt.date(int(year), 12, 31))
    return out


def period_totals(per_task: dict[tuple[str, int], pd.DataFrame], arms: dict[str, Scenario], comparator: str,
                  dollars: str = "constant") -> pd.DataFrame:
    """budget_periods.csv: each arm's paired difference from the comparator, summed over named periods.

    The periods (``kind``): ``program``, the months in which the arm's program ran (from the month
    of ``lead.start_date`` to that of ``lead.end_date``, or to the analysis end; whole months, so a
    program ending mid-month counts the rest of that month); ``before_program`` and
    ``after_program``; ``analysis``, the whole period; and each ``calendar_year``. Groups: every
    payer, ``all_payers``, ``program_agencies`` (``costs.program_agencies``) and
    ``other_agencies``. Totals are sums over the period (never averaged over years the program
    did not run); ``per_year_undiscounted_usd`` divides a program period's total by its length in
    years (``years``: the period's days / 365.25), i.e. per year of operation. Undiscounted
    amounts in constant ``run.price_year`` dollars, or then-year dollars with ``dollars="nominal"``
    (each month at its year's factor, :func:`nominal_factor`; then no discounted columns).
    Takes the per-task tables by month, payer and agency (``outcomes.periods``: ``month``).
    """
    base = arms[comparator]
    data = _stack(per_task, ["month", "payer", "agency"])
    nominal = dollars == "nominal"
    if nominal:
        factor = {y: nominal_factor(base, y) for y in {int(m[:4]) for m in data["month"]}}
        data["usd"] = data["usd"].to_numpy(dtype=float) * data["month"].str.slice(0, 4).astype(int).map(factor).to_numpy()
    program = set(base.costs.program_agencies)
    masks = {p: data["payer"] == p for p in base.costs.payers if (data["payer"] == p).any()}
    masks |= {"all_payers": pd.Series(True, index=data.index), "program_agencies": data["agency"].isin(program),
              "other_agencies": ~data["agency"].isin(program)}
    # per group: a frame indexed by (arm, replication), one column per month
    by_group = {g: data[m].groupby(["arm", "replication", "month"])[["usd", "usd_discounted"]].sum().unstack("month",
                                                                                                        fill_value=0.0)
                for g, m in masks.items()}
    months = sorted(data["month"].unique())
    rows = []
    for arm, sc in arms.items():
        if arm == comparator:
            continue
        for kind, period, chosen, first, last in _windows(sc, base, months):
            years = ((last - first).days + 1) / N.DAYS_PER_YEAR
            for group, g in by_group.items():
                cols = [m for m in chosen if m in g["usd"].columns]
                u = g["usd"][cols].sum(axis=1).unstack("replication")
                d = g["usd_discounted"][cols].sum(axis=1).unstack("replication")
                m, lo, hi = mean_ci(_paired(u, arm, comparator))
                md, lod, hid = mean_ci(_paired(d, arm, comparator))
                per_year = (m / years, lo / years, hi / years) if kind == "program" else (np.nan,) * 3
                rows.append((arm, comparator, kind, period, str(first), str(last), len(chosen), years, group,
                             m, lo, hi, md, lod, hid, *per_year, u.shape[1]))
    out = pd.DataFrame(rows, columns=[
        "arm", "comparator", "kind", "period", "first_day", "last_day", "months", "years", "group",
        "difference_undiscounted_usd", "ci_low", "ci_high", "difference_discounted_usd", "discounted_ci_low",
        "discounted_ci_high", "per_year_undiscounted_usd", "per_year_ci_low", "per_year_ci_high", "reps"])
    if nominal:
        out = out.drop(columns=["difference_discounted_usd", "discounted_ci_low", "discounted_ci_high"])
        out["dollars"] = "then-year"
    return out


def cumulative_differences(per_task_fy: dict[tuple[str, int], pd.DataFrame],
                           per_task_calendar: dict[tuple[str, int], pd.DataFrame], comparator: str,
                           payers: list[str], nominal: Scenario | None = None) -> pd.DataFrame:
    """budget_cumulative.csv: each arm's paired difference from the comparator, cumulated year by
    year, with 95% intervals over replications (of the cumulative sums): for each payer over its
    own fiscal years, and for all payers together over calendar years (``year_kind``).

    Undiscounted, constant prices (then-year dollars when ``nominal`` is the scenario whose CPI to
    use). The year a cumulative line first falls to zero or below after being above it is the
    payback year (``pays_back_here``).
    """
    parts = []
    for (year_col, kind, tasks, groups) in (("fiscal_year", "fiscal_year", per_task_fy, payers),
                                            ("year", "calendar_year", per_task_calendar, ["all_payers"])):
        data = _stack(tasks, [year_col, "payer", "agency"])
        if nominal is not None:
            factor = data[year_col].map(lambda y: nominal_factor(nominal, int(y))).to_numpy(dtype=float)
            data["usd"] = data["usd"].to_numpy(dtype=float) * factor
        for group in groups:
            g = data if group == "all_payers" else data[data["payer"] == group]
            if g.empty:
                continue
            wide = g.groupby(["arm", "replication", year_col])["usd"].sum().unstack(year_col, fill_value=0.0)
            cum = wide.sort_index(axis=1).cumsum(axis=1)
            for arm in [a for a in dict.fromkeys(data["arm"]) if a != comparator]:
                d = cum.loc[arm] - cum.loc[comparator]
                was_above = False
                for year in d.columns:
                    m, lo, hi = mean_ci(d[year].to_numpy(dtype=float))
                    back = was_above and m <= 0
                    was_above = (was_above and not back) or m > 0
                    parts.append((arm, comparator, group, kind, int(year), m, lo, hi, back, d.shape[0]))
    return pd.DataFrame(parts, columns=["arm", "comparator", "payer", "year_kind", "year", "cumulative_difference_usd",
                                        "ci_low", "ci_high", "pays_back_here", "reps"])


def through_problem(base: Scenario, through: int) -> str | None:
    """The one-line problem with ``budget --through YEAR`` when YEAR would end the analysis before the
    scenario does (it only extends an analysis), else None."""
    end = base.run.end_date
    if through < end.year:
        return (f"--through {through}: the scenario's analysis runs to {end}; --through only extends it (give {end.year} "
                f"or later), and --set run.end_date=... shortens it")
    return None


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
    files["funding_need.csv"] = funding_need_table(ex["calendar_year"], arms, comparator, after)
    if "month" in ex:
        files["budget_periods.csv"] = period_totals(ex["month"], arms, comparator, dollars)
    files["budget_cumulative.csv"] = cumulative_differences(ex["fiscal_year"], ex["calendar_year"], comparator,
                                                            list(base.costs.payers),
                                                            base if dollars == "nominal" else None)
    if dollars == "nominal":
        for name in list(files):
            year_column = next((c for c in ("fiscal_year", "year") if c in files[name].columns), None)
            if year_column and name.startswith(("budget", "funding")) and name != "budget_cumulative.csv":
                files[name] = to_nominal(files[name], base, year_column)
    return files, after
