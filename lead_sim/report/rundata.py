"""Reading a finished run folder for reporting: manifest, tables, resolved scenario.

Reports are formatting only: everything here is read back from the files a run wrote
(``summary.csv``, ``comparison.csv``, budget and CEA tables, the Parquet event log), never
re-simulated. Nothing here imports the model (or SimPy).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from lead_sim.runs.output import INCOMPLETE_SUFFIX
from lead_sim.scenario.paths import leaves

#: files a report writes into a run folder (never read back as run results)
REPORT_FILES = ("report.html", "brief.html", "workbook.xlsx", "checklist.csv")


class ReportError(Exception):
    """The run folder cannot be reported on."""


@dataclass
class RunData:
    """A run folder, read once; tables that are absent are ``None``."""

    path: Path
    manifest: dict
    scenario: dict  # scenario.resolved.yaml as plain data (dates as datetime.date)
    summary: pd.DataFrame
    comparison: pd.DataFrame | None
    metrics: pd.DataFrame | None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # other CSVs by stem
    psa_path: Path | None = None  # a PSA run folder attached with --psa
    psa_manifest: dict | None = None
    psa: PsaData | None = None  # every table of that PSA (figures)
    partner: RunData | None = None  # a run of the same scenario attached with --combine (budget with cea)
    borrowed: dict[str, str] = field(default_factory=dict)  # table stem -> the partner's kind it came from

    # ---- identity and provenance -----------------------------------------------------------

    @property
    def command_line(self) -> list[str]:
        """The command line that made the run, as the manifest recorded it (``lead-sim`` first; empty if not recorded)."""
        return [str(a) for a in (self.manifest.get("command_line") or [])]

    @property
    def kind(self) -> str:
        """The command that made the run: compare, run, budget or cea."""
        line = self.command_line
        return line[1] if len(line) > 1 else "compare"

    @property
    def arms(self) -> list[str]:
        """The arms in run order: the manifest's, else those of summary.csv."""
        return list(self.manifest.get("arms") or dict.fromkeys(self.summary["arm"]))

    def arm_changes(self, arm: str) -> tuple[str, dict]:
        """An arm's description (one line) and the keys it sets on the base scenario."""
        spec = (self.scenario.get("arms") or {}).get(arm) or {}
        return " ".join(str(spec.get("description", "")).split()), spec.get("set") or {}

    @property
    def comparator(self) -> str | None:
        """The arm the others are compared with (None in a one-arm run)."""
        return self.manifest.get("comparator")

    @property
    def others(self) -> list[str]:
        """Arms compared with the comparator, in run order (none in a one-arm run)."""
        if self.comparator is None:
            return []
        return [a for a in self.arms if a != self.comparator]

    @property
    def name(self) -> str:
        """The scenario's name: the manifest's, else the resolved scenario's, else the folder's parent."""
        return str(self.manifest.get("scenario") or self.scenario.get("name") or self.path.parent.name)

    @property
    def run(self) -> dict:
        """The resolved scenario's ``run`` section (empty if absent)."""
        return self.scenario.get("run", {})

    @property
    def start_date(self) -> dt.date:
        """First day of the analysis period."""
        return _date(self.run.get("start_date") or self.manifest["analysis_period"][0])

    @property
    def end_date(self) -> dt.date:
        """Last day of the analysis period (included)."""
        return _date(self.run.get("end_date") or self.manifest["analysis_period"][1])

    @property
    def t_end(self) -> float:
        """Length of the analysis window in days (its last day included), as the model uses it."""
        return float((self.end_date - self.start_date).days + 1)

    @property
    def years(self) -> float:
        """Length of the analysis period in years of 365.25 days."""
        return self.t_end / 365.25

    @property
    def replications(self) -> int:
        """Replications of the run (0 if neither the manifest nor the scenario says)."""
        return int(self.manifest.get("replications") or self.run.get("replications") or 0)

    @property
    def seed(self) -> int | None:
        """The run's root seed (None if not recorded)."""
        return self.manifest.get("seed", self.run.get("seed"))

    @property
    def price_year(self) -> int | None:
        """The year whose dollars every cost of the run is in (run.price_year)."""
        return self.manifest.get("price_year", self.run.get("price_year"))

    @property
    def discount_rate(self) -> float | None:
        """Discount rate per year as a fraction (0.03 is 3%); None if not recorded."""
        return self.manifest.get("discount_rate_per_year", self.run.get("discount_rate_per_year"))

    def option(self, name: str) -> list[str]:
        """Every value given to a command-line option (``--set`` may repeat)."""
        line, out = self.command_line, []
        for i, arg in enumerate(line):
            if arg == name and i + 1 < len(line):
                out.append(line[i + 1])
            elif arg.startswith(name + "="):
                out.append(arg[len(name) + 1:])
        return out

    # ---- scenario values -------------------------------------------------------------------

    def value(self, dotted: str, arm: str | None = None, default: Any = None) -> Any:
        """A scenario value, as changed by ``arm``'s ``set`` when an arm is named."""
        if arm is not None:
            sets = ((self.scenario.get("arms") or {}).get(arm) or {}).get("set") or {}
            if dotted in sets:
                return sets[dotted]
        node: Any = self.scenario
        for part in dotted.split("."):
            if not isinstance(node, dict):
                return default
            key = part if part in node else _int_key(part, node)
            if key is None:
                return default
            node = node[key]
        return node

    @property
    def payers(self) -> dict[str, list[str]]:
        """payer -> its agencies, in scenario order."""
        return {p: list(v.get("agencies", [])) for p, v in (self.value("costs.payers") or {}).items()}

    @property
    def payer_of(self) -> dict[str, str]:
        """agency -> the payer it belongs to (:attr:`payers` turned round, as ``Costs.payer_of`` does for a scenario)."""
        return {ag: p for p, ags in self.payers.items() for ag in ags}

    @property
    def agencies(self) -> list[str]:
        """Every costed agency, in scenario order (costs.agencies)."""
        return list(self.value("costs.agencies") or [])

    @property
    def program_agencies(self) -> list[str]:
        """Agencies whose spending is the program's cost (costs.program_agencies), for NPV and benefit-cost ratio."""
        return list(self.value("costs.program_agencies") or [])

    # ---- tables ------------------------------------------------------------------------------

    def table(self, stem: str) -> pd.DataFrame | None:
        """The run's table from ``STEM.csv`` (None if the run did not write it)."""
        return self.tables.get(stem)

    def has(self, *stems: str) -> bool:
        """True if the run wrote every one of the tables named."""
        return all(s in self.tables for s in stems)

    def source_of(self, stem: str) -> RunData:
        """The run a table came from: this one, or the partner attached with --combine."""
        return self.partner if stem in self.borrowed and self.partner is not None else self

    @property
    def has_budget(self) -> bool:
        """True for a run with budget tables (``lead-sim budget``)."""
        return self.has("budget_by_payer")

    @property
    def has_cea(self) -> bool:
        """True for a run with cost-effectiveness tables (``lead-sim cea``)."""
        return self.has("cea")

    @property
    def psa_savings(self) -> pd.DataFrame | None:
        """psa_savings.csv (chance of saving money, overall and per payer), if a PSA is attached."""
        return self.tables.get("psa_savings")

    @property
    def psa_draws(self) -> int | None:
        """Number of draws of the attached PSA (None without one)."""
        s = self.psa_savings
        return int(s["draws"].max()) if s is not None and "draws" in s and len(s) else None

    @cached_property
    def events(self) -> pd.DataFrame | None:
        """The saved event log (events.parquet; None if the run kept no events), read on first use."""
        return self._parquet("events")

    @cached_property
    def spells(self) -> pd.DataFrame | None:
        """The saved spells (spells.parquet: jail stays, LEAD enrolment and waiting; None if not kept), read on first use."""
        return self._parquet("spells")

    @cached_property
    def people(self) -> pd.DataFrame | None:
        """The saved people table (people.parquet; None if not kept), read on first use."""
        return self._parquet("people")

    def _parquet(self, name: str) -> pd.DataFrame | None:
        p = self.path / f"{name}.parquet"
        return pd.read_parquet(p) if p.exists() else None

    def metric(self, arm: str, metric: str) -> tuple[float, float, float]:
        """(mean, ci_low, ci_high) of a metric for an arm from summary.csv; NaNs if absent."""
        s = self.summary
        row = s[(s["arm"] == arm) & (s["metric"] == metric)]
        if row.empty:
            return (float("nan"),) * 3
        r = row.iloc[0]
        return float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])

    def difference(self, arm: str, metric: str) -> tuple[float, float, float]:
        """(difference, ci_low, ci_high) of arm minus comparator from comparison.csv."""
        c = self.comparison
        if c is None:
            return (float("nan"),) * 3
        row = c[(c["arm"] == arm) & (c["metric"] == metric)]
        if row.empty:
            return (float("nan"),) * 3
        r = row.iloc[0]
        return float(r["difference"]), float(r["ci_low"]), float(r["ci_high"])


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _int_key(part: str, node: dict) -> Any:
    for k in node:
        if str(k) == part:
            return k
    return None


#: scenario keys a PSA may set differently from the run it is attached to: they change neither the
#: assumptions nor the period (replications and seeds are the PSA's own)
_PSA_MAY_DIFFER = ("name", "description", "uncertainty", "calibration", "cea", "run.replications", "run.seed")


def _differing_keys(ours: dict, theirs: dict, may_differ: tuple[str, ...] = _PSA_MAY_DIFFER) -> list[tuple[str, Any, Any]]:
    """(dotted key, our value, their value) of every scenario value that differs, apart from ``_PSA_MAY_DIFFER``
    (a distribution, schedule or priced cost compared whole, as the parameter table lists them)."""
    a, b = ({".".join(path): v for path, v in leaves(doc)} for doc in (ours, theirs))
    keep = [k for k in dict.fromkeys([*a, *b]) if not any(k == p or k.startswith(p + ".") for p in may_differ)]
    return [(k, a.get(k), b.get(k)) for k in keep if a.get(k) != b.get(k)]


#: the tables of a psa run folder a report reads (psa.csv: one row per draw and arm)
PSA_TABLES = ("psa", "psa_summary", "psa_savings", "ceac", "evpi", "psa_drivers")


@dataclass
class PsaData:
    """A finished ``lead-sim psa`` run folder, read once (and a ``lead-sim tornado`` run, if one is given)."""

    path: Path
    manifest: dict
    scenario: dict
    tables: dict[str, pd.DataFrame]
    tornado: pd.DataFrame | None = None
    tornado_path: Path | None = None

    def table(self, stem: str) -> pd.DataFrame | None:
        """A table of the PSA by stem (None if the folder has none)."""
        return self.tables.get(stem)

    @property
    def comparator(self) -> str:
        """The arm the others are compared with."""
        return str(self.manifest.get("comparator") or self.scenario.get("run", {}).get("comparator", ""))

    @property
    def arms(self) -> list[str]:
        """The arms in run order."""
        return list(self.manifest.get("arms") or dict.fromkeys(self.tables["psa"]["arm"]))

    @property
    def others(self) -> list[str]:
        """The arms other than the comparator."""
        return [a for a in self.arms if a != self.comparator]

    @property
    def draws(self) -> int:
        """Number of parameter draws."""
        return int(self.tables["psa"]["draw"].nunique())

    @property
    def name(self) -> str:
        """The scenario's name."""
        return str(self.manifest.get("scenario") or self.scenario.get("name") or self.path.parent.name)

    @property
    def payers(self) -> list[str]:
        """The scenario's payers, in order."""
        return list((self.scenario.get("costs") or {}).get("payers") or {})

    @property
    def wtp(self) -> dict[str, float]:
        """Willingness to pay per unit of each outcome (``cea.wtp_usd_per_unit``; empty for a PSA run before it existed)."""
        return {k: float(v) for k, v in (((self.scenario.get("cea") or {}).get("wtp_usd_per_unit")) or {}).items()}


def read_tornado(psa: PsaData, tornado_dir: Path | str) -> list[str]:
    """Attach a ``lead-sim tornado`` run folder's tornado.csv to ``psa``; returns warnings."""
    tornado_dir = Path(tornado_dir)
    if tornado_dir.name.endswith(INCOMPLETE_SUFFIX) or not (tornado_dir / "tornado.csv").is_file():
        raise ReportError(f"{tornado_dir}: not a finished tornado run folder (no tornado.csv); make one with lead-sim "
                          f"tornado")
    try:
        table = pd.read_csv(tornado_dir / "tornado.csv")
        manifest = json.loads((tornado_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{tornado_dir}: cannot read the tornado results: {exc}") from None
    psa.tornado, psa.tornado_path = table, tornado_dir
    if manifest.get("scenario") != psa.name:
        return [f"the tornado run in {tornado_dir} is of scenario {manifest.get('scenario')!r}, the PSA of {psa.name!r}"]
    return []


def is_psa_folder(path: Path | str) -> bool:
    """True for a finished ``lead-sim psa`` run folder (psa_savings.csv and psa.csv, no summary.csv)."""
    path = Path(path)
    return (path / "psa_savings.csv").is_file() and (path / "psa.csv").is_file() and not (path / "summary.csv").exists()


def read_psa_folder(psa_dir: Path | str) -> PsaData:
    """Read a finished ``lead-sim psa`` run folder; :class:`ReportError` says what is wrong with it."""
    psa_dir = Path(psa_dir)
    if psa_dir.name.endswith(INCOMPLETE_SUFFIX):
        raise ReportError(f"{psa_dir}: the PSA did not finish (its folder still ends in {INCOMPLETE_SUFFIX}); finish it "
                          f"with lead-sim psa --resume {psa_dir}")
    if not (psa_dir / "psa_savings.csv").is_file() or not (psa_dir / "psa.csv").is_file():
        raise ReportError(f"{psa_dir}: not a finished PSA run folder (no psa.csv and psa_savings.csv); make one with "
                          f"lead-sim psa")
    try:
        manifest = json.loads((psa_dir / "manifest.json").read_text(encoding="utf-8"))
        scenario = yaml.safe_load((psa_dir / "scenario.resolved.yaml").read_text(encoding="utf-8")) or {}
        tables = {stem: pd.read_csv(psa_dir / f"{stem}.csv") for stem in PSA_TABLES if (psa_dir / f"{stem}.csv").is_file()}
    except (OSError, ValueError, yaml.YAMLError, pd.errors.EmptyDataError) as exc:
        raise ReportError(f"{psa_dir}: cannot read the PSA results: {exc}") from None
    return PsaData(psa_dir, manifest, scenario, tables)


#: scenario keys a run attached with --combine may set differently: the period (a budget projection
#: with --through beside a cost-effectiveness analysis of the evaluation period), replications, seeds
_COMBINE_MAY_DIFFER = (*_PSA_MAY_DIFFER, "run.end_date")


def combine(run: RunData, other_dir: Path | str) -> list[str]:
    """Attach another run folder of the same scenario (a budget run to a cea run, or the other way
    round): the tables ``run`` lacks are taken from it, so one report and one brief hold both
    answers. Refused when the two differ in any assumption other than the period, replications
    and seed; returns warnings (e.g. different periods, each stated where its numbers appear)."""
    other = read_run(other_dir)
    if other.path.resolve() == run.path.resolve():
        raise ReportError(f"{other.path}: --combine names the run being reported; give the other run folder")
    differ = _differing_keys(run.scenario, other.scenario, _COMBINE_MAY_DIFFER)
    if differ:
        shown = "; ".join(f"{k}: {x!r} here, {y!r} there" for k, x, y in differ[:5])
        more = f" and {len(differ) - 5} more" if len(differ) > 5 else ""
        raise ReportError(f"{other.path}: not the same scenario as {run.path} ({shown}{more}); combine runs made from "
                          f"the same scenario file and --set values")
    if other.arms != run.arms or other.comparator != run.comparator:
        raise ReportError(f"{other.path}: arms {other.arms} against {other.comparator!r}; {run.path} has {run.arms} "
                          f"against {run.comparator!r}: combine runs of the same arms")
    added = [stem for stem in other.tables if stem not in run.tables]
    if other.has_budget and not run.has_budget and "budget_periods" in other.tables:
        added.append("budget_periods")  # the budget run's periods (a --through projection) beside its fiscal years
    if not added:
        raise ReportError(f"{other.path}: has no table that {run.path} lacks (combine a budget run with a cea run)")
    for stem in added:
        run.tables[stem] = other.tables[stem]
        run.borrowed[stem] = other.kind
    run.partner = other
    warnings = []
    if other.end_date != run.end_date:
        warnings.append(f"the {run.kind} run covers {run.start_date} to {run.end_date}, the {other.kind} run "
                        f"{other.start_date} to {other.end_date}: each answer states its own period")
    if other.replications != run.replications or other.seed != run.seed:
        warnings.append(f"the {run.kind} run has {run.replications} replications (seed {run.seed}), the {other.kind} run "
                        f"{other.replications} (seed {other.seed})")
    return warnings


def read_psa(run: RunData, psa_dir: Path | str) -> list[str]:
    """Attach a PSA run folder's psa_savings.csv to ``run``; returns warnings (e.g. another scenario)."""
    psa_dir = Path(psa_dir)
    if psa_dir.name.endswith(INCOMPLETE_SUFFIX) or not (psa_dir / "psa_savings.csv").is_file():
        raise ReportError(f"{psa_dir}: not a finished PSA run folder (no psa_savings.csv); make one with lead-sim psa")
    try:
        manifest = json.loads((psa_dir / "manifest.json").read_text(encoding="utf-8"))
        savings = pd.read_csv(psa_dir / "psa_savings.csv")
        psa_scenario = yaml.safe_load((psa_dir / "scenario.resolved.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ReportError(f"{psa_dir}: cannot read the PSA results: {exc}") from None
    differ = _differing_keys(run.scenario, psa_scenario)
    if differ:
        shown = "; ".join(f"{k}: {a!r} here, {b!r} in the PSA" for k, a, b in differ[:5])
        more = f" and {len(differ) - 5} more" if len(differ) > 5 else ""
        raise ReportError(f"{psa_dir}: the PSA was run on other assumptions than this run ({shown}{more}); its chance "
                          f"of saving money would not be about these results. Run lead-sim psa with the same scenario "
                          f"and --set values")
    warnings = []
    if manifest.get("scenario") != run.name:
        warnings.append(f"the PSA in {psa_dir} is of scenario {manifest.get('scenario')!r}, this run of {run.name!r}")
    if manifest.get("comparator") != run.comparator:
        warnings.append(f"the PSA compares against {manifest.get('comparator')!r}, this run against {run.comparator!r}")
    run.tables["psa_savings"] = savings
    run.psa_path, run.psa_manifest = psa_dir, manifest
    if (psa_dir / "psa.csv").is_file():
        run.psa = read_psa_folder(psa_dir)
    return warnings


def read_run(path: Path | str) -> RunData:
    """Read a complete run folder; :class:`ReportError` says what is wrong with it."""
    path = Path(path)
    if path.name.endswith(INCOMPLETE_SUFFIX):
        raise ReportError(f"{path}: the run did not finish (its folder still ends in {INCOMPLETE_SUFFIX})")
    if not path.is_dir():
        raise ReportError(f"{path}: not a run folder (no such directory)")
    missing = [n for n in ("manifest.json", "summary.csv", "scenario.resolved.yaml") if not (path / n).exists()]
    if missing:
        raise ReportError(f"{path}: not a complete run folder; missing {', '.join(missing)}")
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        scenario = yaml.safe_load((path / "scenario.resolved.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ReportError(f"{path}: cannot read the manifest or the resolved scenario: {exc}") from None
    tables: dict[str, pd.DataFrame] = {}
    for csv in sorted(path.glob("*.csv")):
        if csv.name in REPORT_FILES:
            continue
        try:
            table = pd.read_csv(csv, keep_default_na=True)
        except (OSError, ValueError, pd.errors.EmptyDataError):
            continue  # an empty table (e.g. no funding need) has nothing to report
        # runs before 2026-12-03 called undiscounted (constant-price) amounts "nominal"
        tables[csv.stem] = table.rename(columns=lambda c: c.replace("_nominal_usd", "_undiscounted_usd"))
    summary = tables.pop("summary")
    comparison = tables.pop("comparison", None)
    metrics = tables.pop("metrics", None)
    return RunData(path, manifest, scenario, summary, comparison, metrics, tables)
