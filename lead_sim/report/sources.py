"""Where each scenario number came from: the source comments of the original scenario files.

Scenario files carry their provenance as YAML comments (``key: value  # [V] Denver Post``;
tags as in docs/parameters.csv: [V] seen in the source, [S] reported second-hand,
[D] derived by arithmetic, [A] assumption, [M] from memory). YAML parsers drop comments, so
the files named in the run's manifest are read line by line here: indentation gives each key's
dotted path, the text after `` #`` its note. A key without a note of its own takes the note of
the nearest key above it that has one (``offense_mix:  # [A]`` covers its entries).

Values are those of the run (``scenario.resolved.yaml``: after ``extends`` and ``--set``);
the note comes from the most derived file that sets the key; a key changed on the command
line is attributed to ``--set``. Whether a number is *local* (Denver, Colorado), from *another
site* (Seattle, Santa Fe, ...), *national* or *assumed* is read from the tag and the words of
the note: a heuristic, shown as such.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from lead_sim.report.rundata import RunData
from lead_sim.scenario.paths import key_text, leaves, parameter_at

TAG_RE = re.compile(r"\[([VSDAM](?:\+[VSDAM])*)\]")
_KEY_RE = re.compile(r"^(?P<indent> *)(?P<key>\"[^\"]+\"|'[^']+'|[A-Za-z0-9_][A-Za-z0-9_.\-]*):(?:\s+(?P<rest>.*))?$")
EVIDENCE = {"V": "seen in the source", "S": "reported second-hand", "D": "derived by arithmetic",
            "A": "assumption", "M": "from memory"}
#: words in a source note that place a number (checked in this order: local first)
LOCAL_WORDS = ("denver", "colorado", "cdhs", "cdoc", "dsd", "hb19", "ospd", "pueblo", "hcpf")
OTHER_SITE_WORDS = ("seattle", "santa fe", "king county", "macon", "virginia", "albany", "wsipp", "lead bureau")
NATIONAL_WORDS = ("bjs", "nida", "french et al", "omb", "second panel", "pew", "hud", "federal", "national", "bls")
#: overrides a run records as options rather than --set
OPTION_KEYS = {"--seed": "run.seed", "--reps": "run.replications", "--through": "run.end_date"}


@dataclass(frozen=True)
class Note:
    """A source note: the comment text, the file (as the manifest names it) and line it is on."""

    text: str
    file: str
    line: int
    inline: bool = False  # the key's value is on its line ({police: 300}): the note covers its entries


def _strip_comment(line: str) -> tuple[str, str]:
    """(code, comment) of one YAML line; a '#' inside quotes is not a comment."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def comment_notes(text: str, file: str = "") -> dict[tuple[str, ...], Note]:
    """Dotted key path -> the comment on that key's line, for every commented key.

    A comment that continues the one on the line above (same column, no tag of its own, the
    line above commented too) is joined to it: a note wrapped over several lines is read whole,
    and every key it spans gets the whole note.
    """
    notes: dict[tuple[str, ...], Note] = {}
    stack: list[tuple[int, str]] = []
    block: list[tuple[str, ...]] = []  # keys sharing the note being continued
    prev_col = -1
    for lineno, raw in enumerate(text.splitlines(), start=1):
        code, comment = _strip_comment(raw)
        if not code.strip() or code.lstrip().startswith("-"):
            prev_col = -1
            continue
        m = _KEY_RE.match(code)
        if not m:
            prev_col = -1
            continue  # continuation of a flow collection or a multi-line string
        indent, key = len(m.group("indent")), m.group("key").strip("\"'")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = tuple(k for _, k in stack) + (key,)
        stack.append((indent, key))
        if not comment:
            prev_col = -1
            continue
        col = raw.index("#", len(code))
        if col == prev_col and block and not tags_of(comment) and path[:len(block[0])] == block[0]:
            head = notes[block[0]]
            joined = Note(f"{head.text} {comment}", head.file, head.line, head.inline)
            block.append(path)
            for p in block:
                notes[p] = joined
        else:
            notes[path] = Note(comment, file, lineno, bool((m.group("rest") or "").strip()))
            block = [path]
        prev_col = col
    return notes


def tags_of(text: str) -> list[str]:
    """Tag letters found in a note, in order and without repeats: '[V+A] x [D]' -> [V, A, D]."""
    out: list[str] = []
    for group in TAG_RE.findall(text or ""):
        for letter in group.split("+"):
            if letter not in out:
                out.append(letter)
    return out


def origin_of(note: str, tags: list[str]) -> str:
    """local | other site | national | assumed | untagged | unclassified (a heuristic on the note)."""
    if not tags:
        return "untagged"
    if set(tags) <= {"A", "M"}:
        return "assumed"
    # "replace with the BLS Denver CPI" says where a number should come from, not where it did
    low = re.split(r"replace (?:it |them )?with", note.lower())[0]
    for label, words in (("local", LOCAL_WORDS), ("other site", OTHER_SITE_WORDS), ("national", NATIONAL_WORDS)):
        if any(w in low for w in words):
            return label + (" (partly assumed)" if "A" in tags else "")
    return "unclassified" + (" (partly assumed)" if "A" in tags else "")


# ---- the files of a run ----------------------------------------------------------------------------


@dataclass
class SourceFile:
    """One scenario file of the run: where it was found, its parsed YAML, and its source notes by key path."""

    path: Path
    name: str  # as named in the manifest
    data: dict
    notes: dict[tuple[str, ...], Note]
    changed: bool  # its sha256 differs from the one the run recorded


def find_input_files(run: RunData) -> tuple[list[SourceFile], list[str]]:
    """The run's scenario files, most basic first (``extends`` order); and problems met."""
    recorded: dict[str, str] = run.manifest.get("input_files") or {}
    found: dict[str, SourceFile] = {}
    problems: list[str] = []
    repo = Path(__file__).resolve().parents[2]
    for name, sha in recorded.items():
        candidates = [Path(name), run.path / name, repo / name, repo / "scenarios" / Path(name).name]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            problems.append(f"{name}: not found; its source notes are missing from the parameter table")
            continue
        text = path.read_text(encoding="utf-8")
        changed = hashlib.sha256(text.encode("utf-8")).hexdigest() != sha
        if changed:
            problems.append(f"{name}: changed since the run (sha256 differs); its source notes may not match the values")
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            data = {}
        found[name] = SourceFile(path, name, data if isinstance(data, dict) else {}, comment_notes(text, name), changed)
    # order: a file after the file it extends
    order: list[str] = []

    def visit(name: str, seen: tuple[str, ...] = ()) -> None:
        if name in order or name in seen:
            return
        parent = found[name].data.get("extends")
        if parent:
            target = (found[name].path.parent / parent).resolve()
            for other, sf in found.items():
                if sf.path.resolve() == target:
                    visit(other, seen + (name,))
        order.append(name)

    for name in found:
        visit(name)
    return [found[n] for n in order], problems


# ---- the parameter table ----------------------------------------------------------------------------


def _note_for(sf: SourceFile, path: tuple[str, ...]) -> tuple[Note | None, bool]:
    """The note on ``path`` or, failing that, the nearest note above it (inherited=True).

    For a schedule or distribution written over several lines, the notes of its entries are
    joined ("start: [A] ...; 2020-03-01: [V] ...").
    """
    if path in sf.notes:
        own = sf.notes[path]
        inner = [(p[len(path):], n) for p, n in sf.notes.items() if p[:len(path)] == path and len(p) > len(path)]
        if inner:
            text = own.text + "; " + "; ".join(f"{'.'.join(sub)}: {n.text}" for sub, n in inner)
            return Note(text, own.file, own.line), False
        return own, False
    inner = [(p[len(path):], n) for p, n in sf.notes.items() if p[:len(path)] == path and len(p) > len(path)]
    if inner:
        text = "; ".join(f"{'.'.join(sub)}: {n.text}" for sub, n in inner)
        return Note(text, inner[0][1].file, inner[0][1].line), False
    for k in range(len(path) - 1, 0, -1):
        note = sf.notes.get(path[:k])
        if note is not None and tags_of(note.text):
            return note, not note.inline
    return None, False


def unit_of(path: tuple[str, ...], value: Any) -> str:
    """The unit of a parameter, from the naming conventions of the schema (README: units in names)."""
    name = path[-1]
    section = path[0] if path else ""
    if section == "costs" and len(path) >= 4 and path[1] in ("per_event", "per_day", "per_month"):
        what = path[2].replace("_", " ")
        base = {"per_event": f"USD per {what}", "per_day": f"USD per day of {what}",
                "per_month": f"USD per month of {what}"}[path[1]]
        return base
    if section == "costs" and len(path) >= 2 and path[1] == "cpi":
        return "price index (price year = 100)"
    if section == "costs" and len(path) >= 2 and path[1] == "victim_cost_per_offense":
        return "USD per offense"
    if name == "cost" and isinstance(value, dict) and "per" in value:
        return f"USD per {value['per']}"
    if name.startswith("p_") or (len(path) >= 2 and path[-2].startswith("p_")):
        return "probability"
    if name.startswith("rr_"):
        return "rate ratio"
    if name.endswith("_usd_per_bed_day"):
        return "USD per bed-day"
    if name.endswith("_usd_per_year"):
        return "USD per year"
    if name.endswith("_usd"):
        return "USD"
    if any(p.endswith("_days") for p in path):
        return "days"
    if name.endswith("_per_year"):
        return "people per year" if name.startswith("arrivals") else "per year"
    if name.endswith("_years"):
        return "years"
    if name.endswith("_date") or (len(path) >= 2 and path[-2] == "run" and name in ("start_date", "end_date")):
        return "date"
    if name in ("initial_people",):
        return "people"
    if name in ("case_managers",):
        return "case managers"
    if name == "caseload_per_manager":
        return "participants per case manager"
    if name in ("capacity",):
        return "places"
    if name in ("unit_beds", "capacity_beds"):
        return "beds"
    if name == "fiscal_year_start_month":
        return "month (1 = January)"
    if name == "price_year":
        return "year"
    if name == "replications":
        return "replications"
    if any(p in ("shares", "offense_profile", "race_ethnicity", "offense_mix", "disposition", "sentence",
                 "p_charges_filed") for p in path[:-1]):
        return "share"
    return ""


def format_value(value: Any, end: dt.date | None = None) -> str:
    """A parameter value as a person reads it (``end``: the last simulated day; a dated change
    after it is marked as never reached)."""
    if value == {}:
        return "(defaults)"
    if isinstance(value, dict):
        if "dist" in value:
            rest = ", ".join(f"{k} {_num(v)}" for k, v in value.items() if k != "dist")
            return f"{value['dist']} ({rest})"
        if "start" in value:
            parts = []
            for k, v in value.items():
                day = key_text(k)
                late = day != "start" and end is not None and dt.date.fromisoformat(day) > end
                parts.append(f"from {day} {_num(v)}" + (" (after the run ends: not reached)" if late else ""))
            return "; ".join(parts)
        if "usd" in value:
            extra = [f"{value['price_year']} dollars" if value.get("price_year") else None,
                     f"per {value['per']}" if value.get("per") else None,
                     f"agency {value['agency']}" if value.get("agency") else None]
            return _num(value["usd"]) + (" (" + ", ".join(e for e in extra if e) + ")" if any(extra) else "")
        return ", ".join(f"{key_text(k)}: {_num(v)}" for k, v in value.items()) or "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_num(v) for v in value) + "]"
    if value is None:
        return "none"
    return _num(value)


def _num(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 10000 and v == int(v) else f"{v:g}"
    if isinstance(v, int):
        return str(v)  # seeds, years and counts read best without separators
    if isinstance(v, dict | list):
        return format_value(v)
    return str(v)


def _set_keys(run: RunData) -> dict[tuple[str, ...], str]:
    """Keys changed on the run's command line -> the text that changed them."""
    out: dict[tuple[str, ...], str] = {}
    for text in run.option("--set"):
        key = text.split("=", 1)[0].strip()
        out[tuple(key.split("."))] = f"--set {text}"
    for opt, key in OPTION_KEYS.items():
        for text in run.option(opt):
            out[tuple(key.split("."))] = f"{opt} {text}"
    return out


#: skipped from the parameter table: labels and structure, not numbers; the uncertainty
#: section (PSA distributions) becomes a column of the table instead; the calibration section
#: (bounds lead-sim calibrate searches) is not a parameter of the run
_SKIP_SECTIONS = ("name", "description", "arms", "extends", "uncertainty", "calibration")


def parameter_table(run: RunData) -> tuple[pd.DataFrame, list[str]]:
    """Every parameter of the run with value, unit, tag, evidence, origin and source note.

    Returns the table and the problems met finding the notes (missing or changed files).
    """
    files, problems = find_input_files(run)
    overrides = _set_keys(run)
    unc = run.scenario.get("uncertainty")
    ranges = (unc.get("parameters") or {}) if isinstance(unc, dict) else {}
    ranges = {str(k): v for k, v in ranges.items()} if isinstance(ranges, dict) else {}
    rows = []
    for path, value in leaves({k: v for k, v in run.scenario.items() if k not in _SKIP_SECTIONS}):
        if not path:
            continue
        dotted = ".".join(path)
        set_by = next((t for p, t in overrides.items() if path[:len(p)] == p), None)
        note, inherited, where = None, False, ""
        if set_by:
            text, where = f"set on the command line ({set_by})", "command line"
        else:
            owner = next((sf for sf in reversed(files) if parameter_at(sf.data, path)[0]), None)
            if owner is None:
                text, where = "default of the schema (not in the scenario file)", "lead_sim/scenario/schema.py"
            else:
                note, inherited = _note_for(owner, path)
                if note is None or not tags_of(note.text):
                    # a value repeated unchanged from the file it extends keeps that file's note
                    for sf in reversed(files[:files.index(owner)]):
                        if parameter_at(sf.data, path)[0] and parameter_at(sf.data, path)[1] == parameter_at(owner.data, path)[1]:
                            parent_note, parent_inh = _note_for(sf, path)
                            if parent_note is not None and tags_of(parent_note.text):
                                note, inherited = Note(f"{parent_note.text} (as in {sf.name})", parent_note.file,
                                                       parent_note.line), parent_inh
                            break
                text = note.text if note else f"no source note in {owner.name}"
                where = f"{note.file}:{note.line}" if note else owner.name
        tags = tags_of(text)
        if value == {} and path[0] == "costs":
            value = "not priced"
        rows.append({
            "parameter": dotted,
            "value": format_value(value, run.end_date),
            "unit": unit_of(path, value),
            "tag": "+".join(tags),
            "evidence": "; ".join(EVIDENCE[t] for t in tags) if tags else "no tag",
            "origin": "set for this run" if set_by else origin_of(text, tags),
            "source": text + (" (note of the section above)" if inherited else ""),
            "where": where,
            "uncertainty": format_value(ranges[dotted]) if dotted in ranges else "",
        })
    columns = ["parameter", "value", "unit", "tag", "evidence", "origin", "source", "where", "uncertainty"]
    return pd.DataFrame(rows, columns=columns), problems


#: the parameters shown in the report's "key parameters" table (the rest are in the workbook)
KEY_PARAMETERS = (
    "run.warmup_days", "run.discount_rate_per_year", "run.price_year",
    "population.initial_people", "population.arrivals_per_year", "behaviour.contact_rate_per_year",
    "contact.p_arrest_if_offense", "usual_processing.p_possession_felony", "usual_processing.pretrial_detention_days.misdemeanor",
    "lead.districts", "lead.p_officer_trained", "lead.p_divert_if_eligible", "lead.p_social_referral_per_contact",
    "lead.case_managers", "lead.caseload_per_manager", "lead.intake_deadline_days", "lead.enrollment_days",
    "lead.rr_contact_engaged", "lead.rr_housing_gain_engaged", "lead.rr_employment_gain_engaged", "lead.grant_usd",
    "costs.per_day.jail.jail", "costs.per_event.arrest.police", "costs.per_event.booking.jail",
    "costs.per_event.charge_misdemeanor.city_attorney", "costs.per_event.charge_felony.district_attorney",
    "costs.per_event.public_defense.public_defender", "costs.per_day.prison.state_prison",
    "costs.per_day.probation.probation", "costs.per_month.lead_enrolled.lead_case_management",
    "lead.services.housing_subsidy.cost", "lead.services.sud_outpatient.cost",
)


def key_parameters(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``KEY_PARAMETERS`` in the parameter table, in that order (the report's short list)."""
    keep = table[table["parameter"].isin(KEY_PARAMETERS)].copy()
    keep["_order"] = keep["parameter"].map({p: i for i, p in enumerate(KEY_PARAMETERS)})
    return keep.sort_values("_order").drop(columns="_order").reset_index(drop=True)


def tag_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many parameters are local, other site, national, assumed, untagged... (by origin)."""
    base = table["origin"].str.replace(" (partly assumed)", "", regex=False)
    return base.value_counts().to_dict()
