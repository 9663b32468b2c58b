"""Observed administrative records in, calibration targets out.

An evaluator receives three tables (CSV):

* **arrests**: ``person, date, charge, charge_class`` (one row per arrest or booking;
  charge e.g. possession/prostitution/other, charge_class misdemeanor/felony);
* **jail stays**: ``person, booking_date, release_date``;
* **LEAD log**: ``person, referral_date, referral_type, intake_date, exit_date`` (intake and
  exit may be empty);
* optionally **prison admissions**: ``person, admission_date``.

:func:`read_records` checks them row by row and reports every malformed row (missing columns,
unreadable or missing dates, release before booking, exit before intake, duplicate rows) with
its file and row number; nothing is dropped silently. :func:`build_targets` turns valid
records into targets: Kaplan-Meier re-arrest probabilities at 6/12/24 months (right-censored
at the end of the data), bookings and jail days per person-year, and the Seattle evaluation's
odds ratio for any arrest in the 6 months after vs before entry (LEAD participants vs people
arrested for possession or prostitution who were never referred), and the evaluator's
utilisation table (``outcomes.utilisation``) on the same groups: :func:`utilisation_from_records`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.outcomes import evaluation as E
from lead_sim.outcomes import utilisation as U
from lead_sim.outcomes.survival import kaplan_meier_failure, rearrest_times

COLUMNS = {
    "arrests": ["person", "date", "charge", "charge_class"],
    "jail_stays": ["person", "booking_date", "release_date"],
    "lead_log": ["person", "referral_date", "referral_type", "intake_date", "exit_date"],
    "prison_admissions": ["person", "admission_date"],
}
REQUIRED_DATES = {"arrests": ["date"], "jail_stays": ["booking_date", "release_date"], "lead_log": ["referral_date"],
                  "prison_admissions": ["admission_date"]}
OPTIONAL_DATES = {"lead_log": ["intake_date", "exit_date"]}


class RecordsError(Exception):
    """The records cannot be used; ``problems`` are one-line messages naming file, row and column."""

    def __init__(self, problems: list[str]):
        """``problems``: every malformed row found, one message each."""
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Records:
    """The record tables, dates as ``datetime.date`` (empty optional dates as missing).

    Each table keeps the columns of ``COLUMNS``, and those read from a file also the spreadsheet row
    number (``row``). ``problems`` is empty once :func:`read_records` has returned.
    ``prison_admissions`` is None when the evaluator has no prison records.
    """

    arrests: pd.DataFrame
    jail_stays: pd.DataFrame
    lead_log: pd.DataFrame
    problems: list[str]
    prison_admissions: pd.DataFrame | None = None


def _read(path: Path, kind: str, problems: list[str]) -> pd.DataFrame | None:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
        return None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: not a readable CSV ({str(exc).splitlines()[0][:120]})")
        return None
    missing = [c for c in COLUMNS[kind] if c not in df.columns]
    if missing:
        problems.append(f"{path}: missing columns {missing}; expected {COLUMNS[kind]}, found {list(df.columns)}")
        return None
    df = df[COLUMNS[kind]].copy()
    df.insert(0, "row", np.arange(2, len(df) + 2))  # row numbers as in a spreadsheet (header is row 1)
    for col in REQUIRED_DATES.get(kind, []) + OPTIONAL_DATES.get(kind, []):
        parsed = pd.to_datetime(df[col].str.strip(), format="%Y-%m-%d", errors="coerce")
        empty = df[col].str.strip() == ""
        required = col in REQUIRED_DATES.get(kind, [])
        bad = parsed.isna() & (~empty | required)
        for r, v in zip(df.loc[bad, "row"], df.loc[bad, col], strict=True):
            what = "missing" if not v.strip() else f"unreadable ({v!r}; expected YYYY-MM-DD)"
            problems.append(f"{path}: row {r}: {col} {what}")
        df[col] = parsed.dt.date
    blank = df["person"].str.strip() == ""
    for r in df.loc[blank, "row"]:
        problems.append(f"{path}: row {r}: person missing")
    dup = df.duplicated(subset=COLUMNS[kind], keep="first")
    for r in df.loc[dup, "row"]:
        problems.append(f"{path}: row {r}: duplicate of an earlier row")
    return df


def read_records(arrests: Path, jail_stays: Path, lead_log: Path, prison_admissions: Path | None = None) -> Records:
    """Read and check the tables (prison admissions only if a path is given); raise RecordsError
    listing every malformed row."""
    problems: list[str] = []
    a = _read(Path(arrests), "arrests", problems)
    j = _read(Path(jail_stays), "jail_stays", problems)
    lg = _read(Path(lead_log), "lead_log", problems)
    pa = _read(Path(prison_admissions), "prison_admissions", problems) if prison_admissions is not None else None
    if j is not None:
        bad = j["release_date"].notna() & j["booking_date"].notna() & (j["release_date"].astype("object") < j["booking_date"].astype("object"))
        for r in j.loc[bad, "row"]:
            problems.append(f"{jail_stays}: row {r}: release_date before booking_date")
    if lg is not None:
        both = lg["intake_date"].notna() & lg["exit_date"].notna()
        bad = both & (lg["exit_date"].astype("object") < lg["intake_date"].astype("object"))
        for r in lg.loc[bad, "row"]:
            problems.append(f"{lead_log}: row {r}: exit_date before intake_date")
        bad = lg["intake_date"].notna() & lg["referral_date"].notna() & (lg["intake_date"].astype("object") < lg["referral_date"].astype("object"))
        for r in lg.loc[bad, "row"]:
            problems.append(f"{lead_log}: row {r}: intake_date before referral_date")
    if problems:
        raise RecordsError(problems)
    return Records(a, j, lg, [], pa)


def _to_events(rec: Records, origin: dt.date) -> pd.DataFrame:
    """The records as an event log in the model's terms (days since ``origin``)."""
    days = lambda s: np.array([(d - origin).days for d in s], dtype=float)  # noqa: E731
    a = rec.arrests
    parts = [
        pd.DataFrame({"person_id": a["person"], "day": days(a["date"]), "event": N.ARREST, "detail": "new_offense"}),
        pd.DataFrame({"person_id": a["person"], "day": days(a["date"]), "event": N.POLICE_CONTACT,
                      "detail": a["charge"].str.strip().str.lower()}),
    ]
    fel = a[a["charge_class"].str.strip().str.lower() == N.FELONY]
    parts.append(pd.DataFrame({"person_id": fel["person"], "day": days(fel["date"]), "event": N.CHARGE_FELONY, "detail": ""}))
    lg = rec.lead_log
    parts.append(pd.DataFrame({"person_id": lg["person"], "day": days(lg["referral_date"]), "event": N.LEAD_REFERRAL,
                               "detail": lg["referral_type"]}))
    ev = pd.concat(parts, ignore_index=True)
    codes = {p: i for i, p in enumerate(sorted(set(ev["person_id"])))}
    return ev.assign(person_id=ev["person_id"].map(codes).astype("int64"))


def build_targets(rec: Records, start: dt.date, end: dt.date, source: str, lead_start: dt.date | None = None,
                  prices: U.LegalPrices | None = None) -> pd.DataFrame:
    """Targets (one row each): value, standard error, window, group, source.

    After the re-arrest and odds-ratio targets come the rows of the utilisation table
    (:func:`utilisation_from_records`, with ``lead_start`` and ``prices``), each named by
    :func:`utilisation_target`."""
    t_end = float((end - start).days + 1)
    ev = _to_events(rec, start)
    in_window = ev[(ev["day"] >= 0) & (ev["day"] < t_end)]
    arrests = in_window[in_window["event"] == N.ARREST]
    people = sorted(set(in_window["person_id"]))
    # person-time: from each person's first record in the window to the end of the data
    first = in_window.groupby("person_id")["day"].min()
    py = float((t_end - first).sum()) / N.DAYS_PER_YEAR
    rows = []
    n_book = len(arrests)
    rows.append(("bookings_per_person_year", n_book / py, math.sqrt(n_book) / py, "analysis period", "everyone with a record"))
    js = rec.jail_stays
    a = np.array([(d - start).days for d in js["booking_date"]], dtype=float)
    b = np.array([(d - start).days for d in js["release_date"]], dtype=float)
    jail_days = float(np.clip(np.minimum(b, t_end) - np.maximum(a, 0.0), 0, None).sum())
    rows.append(("jail_days_per_person_year", jail_days / py, math.nan, "analysis period", "everyone with a record"))
    # re-arrest (outcomes.survival): censored at the end of the data, where records say nothing of exits
    times, observed = rearrest_times(ev, t_end)
    n_indexed = len(times)
    windows = [m * N.DAYS_PER_MONTH for m in N.REARREST_WINDOWS_MONTHS]
    for m, f in zip(N.REARREST_WINDOWS_MONTHS, kaplan_meier_failure(times, observed, windows), strict=True):
        se = math.sqrt(f * (1 - f) / n_indexed) if math.isfinite(f) and n_indexed else math.nan
        rows.append((f"p_rearrest_{m}m", f, se, f"{m} months after the first arrest or referral", f"{n_indexed} people"))
    design = E.design_table(ev, t_start=float(ev["day"].min()), t_end=t_end, window="6m")
    est = E.odds_ratio(design, "any_arrest_6m")
    rows.append(("records_any_arrest_6m_odds_ratio", est.odds_ratio, est.se_log_or, "6 months after vs before entry",
                 f"LEAD {est.n_lead} vs comparison {est.n_comparison} (SE on the log scale)"))
    util = utilisation_from_records(rec, start, end, lead_start, prices)
    for r in util.itertuples(index=False):
        group = f"{r.group}, {r.period}"
        if r.measure in U.PRISON_MEASURES and rec.prison_admissions is None:
            group += " (not available: no prison admissions in the records)"
        rows.append((utilisation_target(r.window, r.measure, r.group, r.period), r.value, math.nan, U.LABELS[r.window], group))
    out = pd.DataFrame(rows, columns=["target", "value", "standard_error", "window", "group"])
    out["people"] = len(people)
    out["source"] = source
    return out


def utilisation_target(window: str, measure: str, group: str, period: str) -> str:
    """The target name of a utilisation row, e.g. ``utilisation_6m_lead_before_jail_bookings_per_person_year``."""
    return f"utilisation_{window}_{group}_{period}_{measure}"


def utilisation_tables(rec: Records, origin: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records as the model's events and spells tables (days since ``origin``), as the
    utilisation table reads them: per arrest an arrest (``new_offense``), a booking and a police
    contact whose detail is the charge, and a felony charge if its class is felony; per LEAD log
    row a referral and, where there is one, a LEAD exit; per prison admission one; per jail stay
    a jail spell from booking to release (whole days, as the dates hold them)."""
    days = lambda s: np.array([(d - origin).days for d in s], dtype=float)  # noqa: E731
    a, lg = rec.arrests, rec.lead_log
    fel = a[a["charge_class"].str.strip().str.lower() == N.FELONY]
    exits = lg[lg["exit_date"].notna()]
    parts = [
        (a["person"], days(a["date"]), N.ARREST, "new_offense"),
        (a["person"], days(a["date"]), N.BOOKING, ""),
        (a["person"], days(a["date"]), N.POLICE_CONTACT, a["charge"].str.strip().str.lower()),
        (fel["person"], days(fel["date"]), N.CHARGE_FELONY, ""),
        (lg["person"], days(lg["referral_date"]), N.LEAD_REFERRAL, lg["referral_type"]),
        (exits["person"], days(exits["exit_date"]), N.LEAD_EXIT, ""),
    ]
    if rec.prison_admissions is not None:
        pa = rec.prison_admissions
        parts.append((pa["person"], days(pa["admission_date"]), N.PRISON_ADMISSION, ""))
    ev = pd.concat([pd.DataFrame({"person_id": p, "day": d, "event": e, "detail": x}) for p, d, e, x in parts],
                   ignore_index=True)
    js = rec.jail_stays
    sp = pd.DataFrame({"person_id": js["person"], "kind": N.JAIL, "start_day": days(js["booking_date"]),
                       "end_day": days(js["release_date"])})
    codes = {p: i for i, p in enumerate(sorted(set(ev["person_id"]) | set(sp["person_id"])))}
    return (ev.assign(person_id=ev["person_id"].map(codes).astype("int64")).sort_values("day", kind="stable"),
            sp.assign(person_id=sp["person_id"].map(codes).astype("int64")))


def utilisation_from_records(rec: Records, start: dt.date, end: dt.date, lead_start: dt.date | None = None,
                             prices: U.LegalPrices | None = None) -> pd.DataFrame:
    """The evaluator's utilisation table (``outcomes.utilisation``) from records of ``start`` to ``end``.

    The groups are the odds ratios' (``evaluation.cohorts``) with LEAD running from ``lead_start``
    (default: the first referral in the LEAD log); the long-term window starts at ``start``, the
    first day of the records. What records cannot see: nobody is known to enter or leave the
    population, so person-time runs to the window's end or the LEAD exit; felony charges are
    arrests whose charge class is felony; without prison admissions the prison rows are NaN.
    Legal-system cost needs every agency's events, which records do not hold: it is left out;
    with ``prices`` (``utilisation.legal_prices`` of a scenario) the counts are priced
    (``priced_counts_usd_per_person_year``).

    Returns window, measure, group, period, value (``utilisation.utilisation_table``'s rows).
    """
    ev, sp = utilisation_tables(rec, start)
    t_end = float((end - start).days + 1)
    refs = ev.loc[ev["event"] == N.LEAD_REFERRAL, "day"]
    lead_t0 = float((lead_start - start).days) if lead_start is not None else (float(refs.min()) if len(refs) else 0.0)
    cohort = E.cohorts(ev, t_end, lead_t0)
    cohort = cohort.assign(weight=E.propensity_weights(ev, cohort))  # weighted as the model's table is
    table = U.utilisation_table(ev, sp, None, cohort, 0.0, t_end, lead_t0)
    if rec.prison_admissions is None:
        table.loc[table["measure"].isin(U.PRISON_MEASURES), "value"] = math.nan
    if prices is None:
        return table
    return pd.concat([table, U.priced_counts(table, prices.unit_prices())], ignore_index=True)


def with_priced_counts(pred: pd.DataFrame, prices: U.LegalPrices) -> pd.DataFrame:
    """Predictions (replication, target, value: ``fit.predictions``) with the priced-count targets
    added, priced from the count targets of each replication as records' counts are (check-fit
    compares a table from ``lead-sim targets --scenario``)."""
    names = {utilisation_target(w, m, g, p): (w, m, g, p) for w in U.WINDOWS for m in U.PRICED
             for g in (U.LEAD, U.COMPARISON, U.DIFFERENCE) for p in (U.BEFORE, U.AFTER, U.CHANGE, U.DID)}
    counts = pred[pred["target"].isin(names)]
    if counts.empty:
        return pred
    keys = pd.DataFrame([names[t] for t in counts["target"]], columns=["window", "measure", "group", "period"], index=counts.index)
    table = pd.concat([counts[["replication", "value"]], keys], axis=1)
    priced = U.priced_counts(table, prices.unit_prices(), keys=("replication",))
    priced = priced.assign(target=[utilisation_target(r.window, r.measure, r.group, r.period)
                                   for r in priced.itertuples(index=False)])
    return pd.concat([pred, priced[["replication", "target", "value"]]], ignore_index=True)


def records_from_simulation(events: pd.DataFrame, spells: pd.DataFrame, origin: dt.date, t_end: float) -> Records:
    """What an evaluator would receive about one simulated arm-replication, from the analysis
    start to its end: every arrest with its charge, jail stays, the LEAD log, prison admissions. Used to measure
    the model the way records are measured (check-fit) and to write synthetic example data."""
    date = lambda d: origin + dt.timedelta(days=int(d // 1))  # noqa: E731
    ev = events.astype({"event": str, "detail": str})
    ev = ev[(ev["day"] >= 0) & (ev["day"] < t_end)]
    contacts = ev[ev["event"] == N.POLICE_CONTACT][["person_id", "day", "detail"]].rename(columns={"detail": "charge"})
    felony = ev[ev["event"] == N.CHARGE_FELONY][["person_id", "day"]].assign(charge_class=N.FELONY)
    arrests = ev[ev["event"] == N.ARREST][["person_id", "day", "detail"]]
    arrests = arrests.merge(contacts, on=["person_id", "day"], how="left").merge(felony, on=["person_id", "day"], how="left")
    arrests.loc[arrests["detail"] == "warrant", "charge"] = "warrant"
    arrests = arrests.fillna({"charge": "other", "charge_class": N.MISDEMEANOR}).drop_duplicates(["person_id", "day"])
    jail = spells[(spells["kind"] == N.JAIL) & (spells["end_day"] > 0) & (spells["start_day"] < t_end)]
    ref = ev[ev["event"] == N.LEAD_REFERRAL][["person_id", "day", "detail"]].sort_values("day")
    ref["next_ref"] = ref.groupby("person_id")["day"].shift(-1)
    intake = ev[ev["event"] == N.LEAD_INTAKE][["person_id", "day"]].rename(columns={"day": "intake"}).sort_values("intake")
    exits = ev[ev["event"] == N.LEAD_EXIT][["person_id", "day"]].rename(columns={"day": "exit"}).sort_values("exit")
    log = pd.merge_asof(ref, intake, left_on="day", right_on="intake", by="person_id", direction="forward")
    log.loc[log["intake"] >= log["next_ref"], "intake"] = np.nan
    log = pd.merge_asof(log.sort_values("day"), exits, left_on="day", right_on="exit", by="person_id", direction="forward")
    log.loc[log["intake"].isna() | (log["exit"] < log["intake"]), "exit"] = np.nan
    prison = ev[ev["event"] == N.PRISON_ADMISSION]
    pid = lambda i: f"P{i:07d}"  # noqa: E731
    opt = lambda d: None if pd.isna(d) else date(d)  # noqa: E731
    return Records(
        arrests=pd.DataFrame({"person": arrests["person_id"].map(pid), "date": arrests["day"].map(date),
                              "charge": arrests["charge"], "charge_class": arrests["charge_class"]}),
        jail_stays=pd.DataFrame({"person": jail["person_id"].map(pid), "booking_date": jail["start_day"].clip(lower=0).map(date),
                                 "release_date": jail["end_day"].clip(upper=t_end).map(date)}),
        lead_log=pd.DataFrame({"person": log["person_id"].map(pid), "referral_date": log["day"].map(date),
                               "referral_type": log["detail"], "intake_date": log["intake"].map(opt),
                               "exit_date": log["exit"].map(opt)}),
        problems=[],
        prison_admissions=pd.DataFrame({"person": prison["person_id"].map(pid), "admission_date": prison["day"].map(date)}),
    )


def write_records(rec: Records, out: Path) -> None:
    """Write the records as arrests.csv, jail_stays.csv, lead_log.csv and, if there are prison records,
    prison_admissions.csv in ``out`` (ISO dates, empty where missing), the files :func:`read_records` reads."""
    out.mkdir(parents=True, exist_ok=True)
    iso = lambda s: s.map(lambda d: "" if d is None or (isinstance(d, float) and math.isnan(d)) else d.isoformat())  # noqa: E731
    a = rec.arrests.assign(date=iso(rec.arrests["date"]))
    j = rec.jail_stays.assign(booking_date=iso(rec.jail_stays["booking_date"]), release_date=iso(rec.jail_stays["release_date"]))
    lg = rec.lead_log.assign(referral_date=iso(rec.lead_log["referral_date"]), intake_date=iso(rec.lead_log["intake_date"]),
                             exit_date=iso(rec.lead_log["exit_date"]))
    tables = [("arrests", a), ("jail_stays", j), ("lead_log", lg)]
    if rec.prison_admissions is not None:
        tables.append(("prison_admissions", rec.prison_admissions.assign(admission_date=iso(rec.prison_admissions["admission_date"]))))
    for name, df in tables:
        df[COLUMNS[name]].to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
