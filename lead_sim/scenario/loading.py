"""Reading scenario files: YAML (safe loader only), ``extends``, ``--set`` overrides, arms.

Everything a user can get wrong ends here as a :class:`ScenarioError` holding one line per
problem: which file, which key, what was expected, what was found. Nothing is evaluated:
override values are parsed with ``yaml.safe_load`` and the result is validated again.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lead_sim.scenario.calibration_section import calibrated_arm
from lead_sim.scenario.schema import Scenario

# Limits that keep a hostile or broken file from hanging the loader. The bundled scenarios are
# ~15 kB, ~1,000 values and 6 levels deep. The pure-Python YAML parser reads about 120 kB/s of
# the worst kind of input, so a 1 MB file takes under 10 s; aliases (``*a``) can make a small
# file expand to billions of values, and every later step walks the expanded document.
MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 200_000  # values in one document, each use of an alias counted again
MAX_NESTING = 50  # levels of mappings and lists
MAX_EXTENDS_DEPTH = 20


class ScenarioError(Exception):
    """A scenario could not be read or is invalid. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        """``problems``: one line per problem."""
        super().__init__("\n".join(problems))
        self.problems = problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys (YAML would silently keep the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a mapping key must be a plain value, found {type(key).__name__}", key_node.start_mark
            ) from None
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def check_shape(doc: Any, where: str) -> None:
    """Refuse a document with too many values (aliases expanded) or nested too deeply.

    Iterative, so it cannot itself overflow the stack; a recursive alias (``&a [*a]``) is
    caught by the nesting limit.
    """
    stack = [(doc, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ScenarioError([f"{where}: more than {MAX_VALUES:,} values (each use of an alias counted); "
                                 "a scenario holds about a thousand"])
        if depth > MAX_NESTING:
            raise ScenarioError([f"{where}: nested more than {MAX_NESTING} levels deep (mappings and lists)"])
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _yaml_problem(exc: Exception) -> str:
    """One line describing why YAML text could not be read (with its position when known)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return f"{where}not valid YAML ({exc.problem or exc.context})"
    if isinstance(exc, RecursionError):
        return "not valid YAML (nested too deeply to read)"
    return f"not valid YAML ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"


def read_yaml(path: Path) -> dict:
    """Read one YAML mapping from ``path`` or raise ScenarioError naming the file."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError([f"{path}: file is {size:,} bytes; a scenario file may be at most {MAX_FILE_BYTES:,}"])
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{path}: file not found"]) from None
    except IsADirectoryError:
        raise ScenarioError([f"{path}: is a directory, expected a YAML file"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{path}: not a text file (byte {exc.start} is not UTF-8)"]) from None
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read ({exc.strerror})"]) from None
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise ScenarioError([f"{path}: {_yaml_problem(exc)}"]) from None
    check_shape(doc, str(path))
    if doc is None:
        raise ScenarioError([f"{path}: file is empty; expected a scenario (a YAML mapping)"])
    if not isinstance(doc, dict):
        raise ScenarioError([f"{path}: expected a YAML mapping at the top level, found {type(doc).__name__}"])
    return doc


def _replaces_whole(value: Any) -> bool:
    """Distributions and dated schedules are replaced as a whole, never merged key by key."""
    return isinstance(value, dict) and ("dist" in value or "start" in value)


def deep_merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` merged in, key by key through nested mappings; a distribution or a
    dated schedule in ``over`` replaces the whole value. Neither input is changed."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not _replaces_whole(value):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _leaf_paths(doc: Any, prefix: tuple = ()) -> typing.Iterator[tuple]:
    """Every leaf's path; a dotted key (``lead.rr_contact_engaged`` under ``calibration.parameters``)
    is split into its parts, as a ``--set`` key is, so that both name the same place."""
    if isinstance(doc, dict) and doc and not _replaces_whole(doc):
        for k, v in doc.items():
            yield from _leaf_paths(v, prefix + _parts(k))
    else:
        yield prefix


def _parts(key: Any) -> tuple[str, ...]:
    return tuple(str(key).split("."))


@dataclass
class Document:
    """A merged scenario document and, for each key, the file (or ``--set``) that gave it."""

    data: dict
    origins: dict[tuple, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    _below: dict[tuple, set[str]] | None = field(default=None, init=False, repr=False, compare=False)

    def origin_of(self, loc: tuple) -> str:
        """The file (or ``--set``) that gave the value at ``loc``.

        The key itself or the nearest key above it that one source set wins; for a mapping
        filled from several sources (a rule about a whole section), ``--set`` is named first,
        then the most derived file.
        """
        loc = tuple(part for p in loc for part in _parts(p))
        if loc in self.origins:
            return self.origins[loc]
        below = self._sources_below().get(loc)
        if below:
            if "--set" in below:
                return "--set"
            for f in self.files:
                if str(f) in below:
                    return str(f)
            return sorted(below)[0]
        for n in range(len(loc) - 1, -1, -1):
            if loc[:n] in self.origins:
                return self.origins[loc[:n]]
        return str(self.files[0]) if self.files else "<scenario>"

    def _sources_below(self) -> dict[tuple, set[str]]:
        """For every key above a recorded one, the sources below it (built once: one error per
        key of a large broken file must not rescan every origin)."""
        if self._below is None:
            self._below = {}
            for path, src in self.origins.items():
                for n in range(len(path)):
                    self._below.setdefault(path[:n], set()).add(src)
        return self._below


def load_document(path: Path | str, _chain: tuple[Path, ...] = ()) -> Document:
    """Read ``path`` and the files it ``extends`` (relative to the including file)."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, resolved))
        raise ScenarioError([f"{path}: extends: cycle ({cycle})"])
    if len(_chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError([f"{path}: extends: more than {MAX_EXTENDS_DEPTH} levels"])
    doc = read_yaml(path)
    parent_ref = doc.pop("extends", None)
    own = {p: str(path) for p in _leaf_paths(doc)}
    if parent_ref is None:
        return Document(doc, own, [path])
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise ScenarioError([f"{path}: extends: expected a file name, found {parent_ref!r}"])
    parent_path = path.parent / parent_ref
    if not parent_path.exists():
        raise ScenarioError([f"{path}: extends: parent file {parent_path} not found"])
    if parent_path.is_dir():
        raise ScenarioError([f"{path}: extends: {parent_path} is a directory, expected a YAML file"])
    parent = load_document(parent_path, (*_chain, resolved))
    # drop what the child overrides: its own keys and everything below them, and a parent's value
    # (null, say) that the child replaces with a mapping
    above = {k[:n] for k in own for n in range(len(k))}
    origins = {k: v for k, v in parent.origins.items()
               if not any(k[:n] in own for n in range(len(k) + 1))
               and not (k in above and not _replaces_whole(_value_at(parent.data, k)))}
    origins.update(own)
    return Document(deep_merge(parent.data, doc), origins, [path, *parent.files])


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``path.to.key=value``; the value is read as YAML (never evaluated)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError([f"--set {text!r}: expected path.to.key=value"])
    try:
        value = yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        problem = _yaml_problem(exc).replace("not valid YAML", f"value {_short(raw)} is not valid YAML", 1)
        raise ScenarioError([f"--set {key}: {problem}"]) from None
    check_shape(value, f"--set {key}")
    return key, value


def _existing_key(node: dict, part: str) -> Any:
    """The key of ``node`` written as ``part`` (YAML may have read it as an int or a date)."""
    if part in node:
        return part
    for k in node:
        text = k.isoformat() if hasattr(k, "isoformat") else str(k)
        if text == part:
            return k
    return part


#: mappings whose keys are themselves dotted scenario keys
KEYED_BY_SCENARIO_KEYS = {("uncertainty", "parameters"), ("uncertainty", "one_way_ranges"), ("calibration", "parameters")}


def set_path(doc: dict, dotted: str, value: Any, *, source: str) -> dict:
    """Return a copy of ``doc`` with the value at ``dotted`` replaced (intermediate maps created)."""
    out = copy.deepcopy(doc)
    parts = dotted.split(".")
    node = out
    i = 0
    while True:
        key, used = _dotted_key(node, parts, i) if isinstance(node, dict) else (parts[i], 1)
        if tuple(parts[:i]) in KEYED_BY_SCENARIO_KEYS and key not in node:
            # a new entry of a mapping keyed by dotted scenario keys: the rest of the path is its key
            # (--set uncertainty.parameters.lead.caseload_per_manager={...})
            key, used = ".".join(parts[i:]), len(parts) - i
        i += used
        if i == len(parts):
            node[key] = value
            break
        child = node.get(key) if isinstance(node, dict) else None
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[:i])
            raise ScenarioError([f"{source}: {dotted}: {where} holds a {type(child).__name__}, not a mapping"])
        node = child
    return out


def _value_at(doc: Any, parts: tuple[str, ...]) -> Any:
    """The value at a path of parts (as origins hold them), or None."""
    node, i = doc, 0
    while i < len(parts):
        if not isinstance(node, dict):
            return None
        key, used = _dotted_key(node, list(parts), i)
        node, i = node.get(key), i + used
    return node


def _dotted_key(node: dict, parts: list[str], i: int) -> tuple[Any, int]:
    """The key of ``node`` that ``parts[i:]`` begins with, and how many parts it takes: a key that
    itself holds dots (``calibration.parameters.lead.rr_contact_engaged.low``) when one exists,
    the longest such, else the single part."""
    for j in range(len(parts), i + 1, -1):
        joined = ".".join(parts[i:j])
        if joined in node:
            return joined, j - i
    return _existing_key(node, parts[i]), 1


def _claim(origins: dict[tuple, str], path: tuple, source: str) -> None:
    """Record that ``source`` now gives everything at and below ``path``."""
    for k in [k for k in origins if k[: len(path)] == path]:
        del origins[k]
    origins[path] = source


def apply_overrides(document: Document, overrides: list[str] | tuple[str, ...]) -> Document:
    """The document with each ``--set path.to.key=value`` applied in order, each key then credited
    to ``--set``."""
    data, origins = document.data, dict(document.origins)
    for text in overrides:
        key, value = parse_override(text)
        data = set_path(data, key, value, source="--set")
        _claim(origins, tuple(key.split(".")), "--set")
    return Document(data, origins, document.files)


# ---- validation and error messages ---------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _allowed_keys(loc: tuple) -> list[str] | None:
    """Walk the schema along ``loc`` and list the keys allowed there (best effort)."""
    tp: Any = Scenario
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = tp.model_fields.get(part) or next(
                (fi for fi in tp.model_fields.values() if fi.alias == part), None
            )
            if f is None:
                return None
            tp = f.annotation
            continue
        origin = typing.get_origin(tp)
        if origin is dict:
            tp = typing.get_args(tp)[1]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [_unwrap(a) for a in typing.get_args(tp)]
            match = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)
                     and "dist" in m.model_fields and part in typing.get_args(m.model_fields["dist"].annotation)]
            if match:
                tp = match[0]
                continue
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            if len(models) == 1:
                tp = models[0]
                f = tp.model_fields.get(part)
                if f is None:
                    return None
                tp = f.annotation
                continue
        return None
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        models = [m for m in map(_unwrap, typing.get_args(tp)) if isinstance(m, type) and issubclass(m, BaseModel)]
        if len(models) == 1:
            tp = models[0]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [fi.alias or n for n, fi in tp.model_fields.items()]
    if typing.get_origin(tp) is dict:
        key_type = _unwrap(typing.get_args(tp)[0])
        if typing.get_origin(key_type) is typing.Literal:
            return list(typing.get_args(key_type))
    return None


_DATE_REPR = re.compile(r"^datetime\.date\((\d+), (\d+), (\d+)\)$")


def _key_text(part: Any) -> str:
    """A key as written: a date key as YYYY-MM-DD (pydantic reports it as its repr), and quoted
    when it is empty or holds a colon, blank or unprintable character (which would make the
    "file: key: message" line ambiguous or break it)."""
    text = str(part)
    m = _DATE_REPR.match(text)
    if m:
        return "{:04d}-{:02d}-{:02d}".format(*map(int, m.groups()))
    plain = text and text.isprintable() and ":" not in text and " " not in text
    return text if plain else repr(text)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_SECTION = object()
_KEY_PREFIX = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_]+)*): ")
_UNION_TAGS = {"number", "priced", "two_values"}
_DIST_TAGS = _UNION_TAGS | {"fixed", "exponential", "gamma", "lognormal", "beta", "triangular", "uniform", "empirical"}


def format_validation_error(exc: ValidationError, document: Document, prefix: str = "") -> list[str]:
    """One line per pydantic error, in the loader's words: ``file: key: what was expected; what was
    found``, with the file (or ``--set``) that gave the key and, for an unknown key, the keys
    allowed there. ``prefix`` goes before the key (the arm, say)."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # drop the discriminator tag pydantic inserts into the path of a distribution
        shown = tuple(p for i, p in enumerate(loc) if not (p in _DIST_TAGS and i > 0 and i < len(loc)))
        kind, msg = err["type"], err["msg"]
        found = err.get("input")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            # cross-field rules name the key they are about: "a.b.c: message"
            m = _KEY_PREFIX.match(msg)
            if m:
                shown = shown + tuple(m.group(1).split("."))
                msg = msg[m.end():]
                found = _SECTION  # the input was the whole section, not the value at fault
        key = ".".join(_key_text(p) for p in shown) or "(top level)"
        origin = document.origin_of(shown)
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            expected = f"one of {allowed}" if allowed else "a known key"
            close = difflib.get_close_matches(str(loc[-1]), [str(a) for a in allowed or []], n=2)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            text = f"unknown key; {hint}expected {expected}"
        elif kind == "missing":
            text = "missing required key"
        else:
            if msg.startswith("List should have "):
                msg = "expected a list with " + msg[len("List should have "):]
            elif msg.startswith("Dictionary should have "):
                msg = "expected a mapping with " + msg[len("Dictionary should have "):]
            elif msg.startswith("Input should be "):
                msg = "expected " + msg[len("Input should be "):]
            elif msg.startswith("Assertion failed, "):
                msg = msg[len("Assertion failed, "):]
            if "found" in msg or found is _SECTION:
                text = msg
            elif isinstance(found, dict):
                text = f"{msg}; found keys {sorted(map(str, found))}"
            else:
                text = f"{msg}; found {_short(found)}"
        lines.append(f"{origin}: {prefix}{key}: {text}")
    return lines


def validate(document: Document, prefix: str = "") -> Scenario:
    """Validate the document into a ``Scenario``, or raise ScenarioError with one line per problem
    (``prefix`` goes before each key)."""
    try:
        return Scenario.model_validate(document.data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, document, prefix)) from None
    except RecursionError:
        raise ScenarioError([f"{document.origin_of(())}: document is nested too deeply"]) from None
    except ArithmeticError as exc:
        # a rule computed with a value too large for it (e.g. a date that many days before the
        # start); pydantic passes only ValueError/AssertionError through as validation errors
        raise ScenarioError([f"{document.origin_of(())}: {prefix}a value is too large or too small for the "
                             f"rules that check it ({type(exc).__name__}: {exc})"]) from None


@dataclass(frozen=True)
class LoadedScenario:
    """The validated base scenario, each arm as its own validated scenario, and provenance."""

    base: Scenario
    arms: dict[str, Scenario]
    document: Document

    @property
    def files(self) -> list[Path]:
        """The scenario files read: the one named first, then those it extends."""
        return self.document.files


def arm_document(document: Document, base: Scenario, arm: str) -> Document:
    """The document with the changes of ``arm`` (``arms.<arm>.set``) applied, each credited to the
    file that defines the arm."""
    changes = base.arms[arm].set
    origin = document.origin_of(("arms", arm))
    data, origins = document.data, dict(document.origins)
    for key, value in changes.items():
        data = set_path(data, str(key), value, source=f"{origin}: arms.{arm}.set")
        _claim(origins, tuple(str(key).split(".")), origin)
    return Document(data, origins, document.files)


def load(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> LoadedScenario:
    """Load, merge, override and validate a scenario and every arm it defines."""
    document = _anchor_targets(apply_overrides(load_document(path), overrides))
    base = validate(document)
    arms: dict[str, Scenario] = {}
    problems: list[str] = []
    for arm in base.arms:
        try:
            arms[arm] = validate(arm_document(document, base, arm), prefix=f"(arm {arm}) ")
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    problems = calibration_bound_problems(base, arms, document)
    if problems:
        raise ScenarioError(problems)
    return LoadedScenario(base, arms, document)


def _anchor_targets(document: Document) -> Document:
    """Make ``calibration.targets`` absolute, read from the folder of the file that declares it
    (the working directory for ``--set``), so that the resolved scenario a run folder keeps still
    points at it. The path is not opened here: only ``lead-sim calibrate`` and ``validate`` need it."""
    section = document.data.get("calibration")
    text = section.get("targets") if isinstance(section, dict) else None
    if not isinstance(text, str) or not text.strip() or not text.isprintable():
        return document  # the schema refuses it, naming the key
    origin = document.origin_of(("calibration", "targets"))
    folder = Path(origin).parent if origin != "--set" and document.files else Path()
    anchored = os.path.normpath(os.path.join(os.path.abspath(folder), text))
    if anchored == text:
        return document
    # ``section`` is a dict: ``text`` came from it
    return Document({**document.data, "calibration": {**typing.cast("dict[str, Any]", section), "targets": anchored}},
                    document.origins,
                    document.files)


def calibration_bound_problems(base: Scenario, arms: dict[str, Scenario], document: Document) -> list[str]:
    """Each calibrated key set to each of its bounds in the calibrated arm, validated again: one
    line per bound the scenario refuses (a probability bound above 1, say), naming the bound."""
    section = base.calibration
    if section is None:
        return []
    arm = calibrated_arm(list(arms), base.run.comparator, section)
    problems = []
    for path, bounds in section.parameters.items():
        for side in ("low", "high"):
            value = getattr(bounds, side)
            try:
                with_value(arms[arm], path, value)
            except ScenarioError as exc:
                reasons = "; ".join(line.split(": ", 1)[-1] for line in exc.problems)
                where = ("calibration", "parameters", path, side)
                problems.append(f"{document.origin_of(where)}: calibration.parameters.{path}.{side}: arm {arm} "
                                f"refuses {path} = {value:g} ({reasons})")
    return problems


def resolved_yaml(scenario: Scenario) -> str:
    """The scenario as a plain YAML document that loads back to an equal scenario."""
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def with_value(scenario: Scenario, dotted: str, value: Any) -> Scenario:
    """A copy of a validated scenario with one key changed, validated again."""
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    data = set_path(data, dotted, value, source="with_value")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, Document(data, {}, []))) from None
