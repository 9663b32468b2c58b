"""Fuzzing the scenario loader: whatever the input, a valid scenario or a ScenarioError, quickly.

Property-based (hypothesis, derandomized, no example database, so every run tries the same
cases): random YAML documents, random text and bytes, token soup, random deletions and type
swaps in the bundled scenarios (in a standalone file, in a child file that ``extends`` it and
through ``--set``), extreme numbers in every numeric key, random ``extends`` graphs. Fixed
cases: empty files, binary garbage, alias bombs, deep nesting, very large files, recursive
aliases, unsafe YAML tags.

The acceptable outcomes are a validated scenario or a :class:`ScenarioError` whose problems are
single lines naming the file (or ``--set``) they come from and, for a validation problem, the
key; never another exception, never longer than ``MAX_SECONDS``, and ``lead-sim compare`` on a
bad file leaves no output folder at all.

Numbers of generated cases: the ``max_examples`` below (fast run) and ``SLOW_EXAMPLES``
(``-m slow``); ``pytest --hypothesis-show-statistics`` prints what was actually tried.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import math
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lead_sim.cli.main import main
from lead_sim.scenario import loading
from lead_sim.scenario.loading import ScenarioError, load

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
PILOT = SCENARIOS / "denver_pilot.yaml"
MAX_SECONDS = 10.0  # per load; the bundled scenarios load in ~0.03 s

FAST = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
SLOW_EXAMPLES = 4  # multiplier on max_examples for the -m slow variants


def fast(n: int) -> settings:
    return settings(FAST, max_examples=n)


def slow(n: int) -> settings:
    return settings(FAST, max_examples=n * SLOW_EXAMPLES)


# ---- the oracle ----------------------------------------------------------------------------------

#: "<origin>: [(arm a) ]<key>: <message>", the shape of a validation problem
#: a key part is plain, or quoted (repr) when it holds a colon, a blank or an unprintable character
KEY_PART = r"""(?:[^\s:'".]+|'[^']*'|"[^"]*")"""
KEY_LINE = re.compile(rf"^(?P<origin>.+?): (?:\(arm [A-Za-z][A-Za-z0-9_]*\) )?(?P<key>{KEY_PART}(?:\.{KEY_PART})*): \S")


def load_outcome(path: Path, overrides: list[str] | tuple[str, ...] = (), origins: list[str] | None = None):
    """Load ``path``; return the scenario or the ScenarioError, asserting the error's form."""
    origins = [str(o) for o in (origins or [path])] + ["--set"]
    start = time.monotonic()
    try:
        loaded = load(path, list(overrides))
    except ScenarioError as exc:
        outcome: Any = exc
    except Exception as exc:  # the bug this file hunts for
        raise AssertionError(
            f"expected a scenario or a ScenarioError; found {type(exc).__name__}: {exc}\n"
            f"file {path} (first 300 chars): {path.read_bytes()[:300]!r}\noverrides: {overrides}"
        ) from exc
    else:
        outcome = loaded
    elapsed = time.monotonic() - start
    assert elapsed < MAX_SECONDS, f"expected the load to take < {MAX_SECONDS} s; it took {elapsed:.1f} s"
    if isinstance(outcome, ScenarioError):
        check_problems(outcome.problems, origins)
    return outcome


def check_problems(problems: list[str], origins: list[str]) -> None:
    assert problems, "expected at least one problem line in a ScenarioError; found none"
    for line in problems:
        assert isinstance(line, str) and line.strip(), f"expected a non-blank problem line; found {line!r}"
        assert "\n" not in line, f"expected one line per problem; found a line break in {line!r}"
        assert "Traceback" not in line
        # an origin ending in "/" stands for any file in that folder (extends paths as written)
        named = [o for o in origins if line.startswith(f"{o}: ") or line.startswith(f"{o} ")
                 or (o.endswith("/") and line.startswith(o) and re.match(r"^[^:]*\.yaml: ", line))]
        assert named, f"expected the problem to start with one of {origins}; found {line!r}"


#: the loader's fallback when a schema rule overflows (OverflowError); it names the file but not the
#: key, which only schema.py can know (schema bounds now refuse the known cases against their keys)
OUT_OF_RANGE = "a value is too large or too small for the rules that check it"


def check_validation_lines(problems: list[str]) -> None:
    """Problems of a document that is valid YAML name a key."""
    for line in problems:
        if OUT_OF_RANGE in line:
            continue
        assert KEY_LINE.match(line), f"expected '<file>: <key>: <message>'; found {line!r}"


# ---- values ------------------------------------------------------------------------------------

EXTREME_NUMBERS = [0, -1, 1, 0.5, -0.0, 1e-300, -1e-300, 5e-324, 1e300, -1e300, 1.7976931348623157e308,
                   math.nan, math.inf, -math.inf, 2**31, 2**53 + 1, 2**63, 2**64, 10**30, -(10**30), 10**6, 365_000]
NASTY = [*EXTREME_NUMBERS, "", "x", "1.0e300", "2019-01-22", "null", True, False, None, [], [1, 2], [math.nan], {},
         {"a": 1}, dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2019, 1, 22),
         dt.datetime(2019, 1, 22, 12, 30), {"start": 0.5}, {"start": "x"}, {"start": math.inf},
         {"start": 0.1, dt.date(2019, 6, 1): 1e300}, {"dist": "fixed", "value": -1},
         {"dist": "fixed", "value": 1e300}, {"dist": "gamma", "mean": 1e-200, "sd": 1e200},
         {"dist": "gamma", "mean": 1e200, "sd": 1e-200}, {"dist": "uniform", "min": -1e308, "max": 1e308},
         {"dist": "triangular", "min": -1e308, "mode": 0, "max": 1e308},
         {"dist": "lognormal", "mean": 1e-200, "sd": 1e200}, {"dist": "lognormal", "median": 1e-300, "p90": 1e300},
         {"dist": "beta", "mean": 1e-300, "sd": 1e-301}, {"dist": "exponential", "mean": 5e-324},
         {"dist": "empirical", "values": [1e308, -1e308]}, {"dist": "empirical", "values": [1], "weights": [1e-320]},
         {"dist": "weibull"}, {"dist": None}, {"dist": []}]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.dates(),
    st.sampled_from(NASTY[:30]),
)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers(), st.dates(), st.booleans()), inner, max_size=5),
    ),
    max_leaves=30,
)
nasty_values = st.one_of(st.sampled_from(NASTY), scalars, yaml_values)


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# ---- the bundled scenarios, as documents ---------------------------------------------------------------


def raw(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loading._UniqueKeyLoader)  # noqa: S506


PILOT_DOC = raw(PILOT)


def all_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out += all_paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out += all_paths(v, prefix + (i,))
    return out


PATHS = all_paths(PILOT_DOC)


def get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


NUMERIC_PATHS = [p for p in PATHS if isinstance(get(PILOT_DOC, p), int | float) and not isinstance(get(PILOT_DOC, p), bool)]
DELETE = object()


def mutate(doc: dict, changes: list[tuple[tuple, Any]]) -> dict:
    doc = copy.deepcopy(doc)
    for path, value in changes:
        try:
            node = get(doc, path[:-1])
            if value is DELETE:
                del node[path[-1]]
            else:
                node[path[-1]] = copy.deepcopy(value)  # never share (and later mutate) a constant
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this path
    return doc


def dotted(path: tuple) -> str:
    return ".".join(k.isoformat() if hasattr(k, "isoformat") else str(k) for k in path)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder holding a copy of the pilot (for child files to extend) and one subfolder per case."""
    base = tmp_path_factory.mktemp("fuzz")
    shutil.copy(PILOT, base / "denver_pilot.yaml")
    return base


def case_dir(workdir: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=workdir))


# ---- 1. random YAML documents, text and bytes -----------------------------------------------------------


def check_file_content(workdir: Path, content: str | bytes) -> Any:
    path = case_dir(workdir) / "scenario.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return load_outcome(path)


TOP_KEYS = ["name", "description", "run", "districts", "population", "behaviour", "contact", "usual_processing",
            "jail", "lead", "costs", "arms", "extends"]

documents = st.one_of(
    yaml_values,
    st.dictionaries(st.sampled_from(TOP_KEYS), yaml_values, max_size=8),
)


@fast(150)
@given(doc=documents)
def test_random_yaml_documents(workdir, doc):
    check_file_content(workdir, dump(doc))


@pytest.mark.slow
@slow(150)
@given(doc=documents)
def test_random_yaml_documents_many(workdir, doc):
    check_file_content(workdir, dump(doc))


TOKENS = ["{", "}", "[", "]", ":", ": ", "-", "- ", ",", "\n", "  ", "\t", "'", '"', "#", "|", ">", "?", "&a ", "*a",
          "&b ", "*b", "<<: ", "!!python/object/apply:os.system ['true']", "!!binary ", "!foo ", "%YAML 1.1\n",
          "---\n", "...\n", "name", "run", "extends: ", "denver_pilot.yaml", "2019-01-22", ".inf", ".nan", "1e400",
          "0x1F", "0o17", "~", "null", "yes", "\ufeff", "\x00", "\u2028", "é", "9" * 60]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


@fast(150)
@given(text=st.one_of(st.text(max_size=200), token_soup))
@example(text="")
@example(text="   \n\n")
@example(text="# only a comment\n")
@example(text="---\n...\n")
@example(text="\ufeff")
@example(text="~\n")
@example(text="a: 1\n---\nb: 2\n")
@example(text="extends: denver_pilot.yaml\n")  # the parent is not next to this file
@example(text="a: &x [*x]\n")
@example(text="a: &x {b: *x}\n")
@example(text="? [1, 2]\n: x\n")
@example(text="name: a\nname: b\n")
@example(text="2019-02-30: 1\n")
@example(text="!!python/object/apply:os.system ['true']\n")
def test_random_text(workdir, text):
    check_file_content(workdir, text)


@fast(100)
@given(data=st.binary(max_size=300))
@example(data=b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xfd")
@example(data=b"\xff\xfe" + "name: x\n".encode("utf-16-le"))
@example(data=b"\x00" * 100)
def test_binary_garbage(workdir, data):
    check_file_content(workdir, data)


@pytest.mark.slow
@slow(150)
@given(text=st.one_of(st.text(max_size=400), token_soup, st.binary(max_size=400)))
def test_random_text_and_bytes_many(workdir, text):
    check_file_content(workdir, text)


# ---- 2. deletions and type swaps in the bundled scenarios -------------------------------------------------------

changes = st.lists(
    st.tuples(st.sampled_from(PATHS), st.one_of(st.just(DELETE), nasty_values)), min_size=1, max_size=3
)


def check_mutated_standalone(workdir: Path, change_list: list) -> None:
    path = case_dir(workdir) / "mutated.yaml"
    path.write_text(dump(mutate(PILOT_DOC, change_list)), encoding="utf-8")
    outcome = load_outcome(path)
    if isinstance(outcome, ScenarioError):
        check_validation_lines(outcome.problems)


@fast(120)
@given(change_list=changes)
@example(change_list=[(("run", "warmup_days"), 10**6)])
@example(change_list=[(("run", "warmup_days"), 1e300)])
@example(change_list=[(("usual_processing", "prison_days"), {"dist": "gamma", "mean": 1e-200, "sd": 1e200})])
@example(change_list=[(("lead", "services"), {f"s{i}": {} for i in range(3000)})])
@example(change_list=[(("costs", "agencies"), DELETE)])
@example(change_list=[(("arms",), {})])
@example(change_list=[(("name",), "../../etc")])
@example(change_list=[(("costs", "per_day", "prison"), {":": None})])
def test_mutated_pilot(workdir, change_list):
    check_mutated_standalone(workdir, change_list)


@pytest.mark.slow
@slow(250)
@given(change_list=changes)
def test_mutated_pilot_many(workdir, change_list):
    check_mutated_standalone(workdir, change_list)


def nest(path: tuple, value: Any) -> dict:
    out: Any = value
    for k in reversed(path):
        out = {k: out}
    return out


@fast(60)
@given(change_list=st.lists(st.tuples(st.sampled_from(PATHS), nasty_values), min_size=1, max_size=3))
def test_mutated_child_of_the_pilot(workdir, change_list):
    """A child file that extends the pilot and changes keys: problems blame the child or the parent."""
    folder = case_dir(workdir)
    shutil.copy(PILOT, folder / "denver_pilot.yaml")
    child: dict = {"extends": "denver_pilot.yaml", "name": "child"}
    for path, value in change_list:
        child = loading.deep_merge(child, nest(path, copy.deepcopy(value)))
    path = folder / "child.yaml"
    path.write_text(dump(child), encoding="utf-8")
    outcome = load_outcome(path, origins=[path, folder / "denver_pilot.yaml"])
    if isinstance(outcome, ScenarioError):
        check_validation_lines(outcome.problems)


def yaml_text(value: Any) -> str:
    """A value as --set text (flow style, one line)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip().removesuffix("\n...").strip()


@fast(70)
@given(path=st.sampled_from(PATHS), value=st.one_of(nasty_values.map(yaml_text), st.text(max_size=40)))
@example(path=("run", "seed"), value="9" * 5000)
@example(path=("lead", "districts"), value="[" * 2000)
@example(path=("lead", "districts"), value="&r [1, *r]")
@example(path=("lead", "case_managers"), value="!!python/object/apply:os.getpid []")
@example(path=("lead", "case_managers"), value="{a: 1}\n---\n{b: 2}")
def test_set_overrides(path, value):
    key = dotted(path)
    outcome = load_outcome(PILOT, [f"{key}={value}"])
    if isinstance(outcome, ScenarioError):
        assert any(line.startswith("--set") for line in outcome.problems) or all(
            KEY_LINE.match(line) for line in outcome.problems
        ), f"expected --set to be blamed or every line to name a key; found {outcome.problems}"


@pytest.mark.slow
@slow(150)
@given(path=st.sampled_from(PATHS), value=st.one_of(nasty_values.map(yaml_text), st.text(max_size=40)))
def test_set_overrides_many(path, value):
    load_outcome(PILOT, [f"{dotted(path)}={value}"])


@fast(40)
@given(text=st.text(max_size=60))
@example(text="=")
@example(text="..=1")
@example(text="a..b=1")
@example(text="arms.x.set={'': 1}")
@example(text="run.seed.x.y=1")
def test_set_free_text(text):
    load_outcome(PILOT, [text])


# ---- 3. extreme numbers in every numeric key -------------------------------------------------------------------


@fast(60)
@given(path=st.sampled_from(NUMERIC_PATHS), value=st.sampled_from(EXTREME_NUMBERS))
def test_extreme_number_in_a_numeric_key(workdir, path, value):
    check_mutated_standalone(workdir, [(path, value)])


def validate_in_memory(document: loading.Document, changes: list) -> None:
    mutated = loading.Document(mutate(document.data, changes), document.origins, document.files)
    start = time.monotonic()
    try:
        loading.validate(mutated)
    except ScenarioError as exc:
        check_problems(exc.problems, [str(f) for f in document.files])
        check_validation_lines(exc.problems)
    except Exception as exc:
        raise AssertionError(f"{changes}: expected a scenario or a ScenarioError; found "
                             f"{type(exc).__name__}: {exc}") from exc
    assert time.monotonic() - start < MAX_SECONDS, f"{changes}: took too long"


@pytest.fixture(scope="module")
def parsed_pilot() -> loading.Document:
    return loading.load_document(PILOT)  # parsed once: reading YAML is most of a load's time


@pytest.mark.slow
@pytest.mark.parametrize("value", EXTREME_NUMBERS, ids=repr)
def test_every_extreme_number_in_every_numeric_key(parsed_pilot, value):
    """Exhaustive, on the parsed pilot's base scenario (the arms change a few keys and add no
    numeric rule); extreme numbers written as YAML text are covered by the test above."""
    for key in NUMERIC_PATHS:
        validate_in_memory(parsed_pilot, [(key, value)])


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(NASTY) + 1), ids=lambda i: "delete" if i == len(NASTY) else repr(NASTY[i])[:40])
def test_every_nasty_value_or_deletion_in_every_key(parsed_pilot, index):
    value = DELETE if index == len(NASTY) else NASTY[index]
    for key in PATHS:
        validate_in_memory(parsed_pilot, [(key, value)])


# ---- 4. extends: random graphs of files ------------------------------------------------------------------------

FILES = ["a.yaml", "b.yaml", "sub/c.yaml", "sub/deeper/d.yaml"]
targets = st.one_of(
    st.sampled_from(["a.yaml", "b.yaml", "sub/c.yaml", "c.yaml", "../a.yaml", "../../a.yaml", "deeper/d.yaml",
                     "missing.yaml", "sub", ".", "", " ", "denver_pilot.yaml", "../denver_pilot.yaml",
                     "../../denver_pilot.yaml", "/nonexistent/x.yaml"]),
    st.none(), st.integers(), st.lists(st.just("a.yaml"), max_size=2), st.just({"file": "a.yaml"}),
)


@fast(120)
@given(edges=st.fixed_dictionaries({f: targets for f in FILES}), start=st.sampled_from(FILES),
       bodies=st.lists(st.sampled_from([{}, {"name": "x"}, {"run": {"seed": 3}}, {"lead": {"enabled": "no"}},
                                        {"population": {"p_female": 2}}]), min_size=4, max_size=4))
@example(edges={"a.yaml": "b.yaml", "b.yaml": "a.yaml", "sub/c.yaml": None, "sub/deeper/d.yaml": None},
         start="a.yaml", bodies=[{}, {}, {}, {}])
@example(edges={"a.yaml": "a.yaml", "b.yaml": None, "sub/c.yaml": None, "sub/deeper/d.yaml": None},
         start="a.yaml", bodies=[{}, {}, {}, {}])
@example(edges={"a.yaml": "sub/c.yaml", "b.yaml": None, "sub/c.yaml": "deeper/d.yaml",
                "sub/deeper/d.yaml": "../../a.yaml"}, start="a.yaml", bodies=[{}, {}, {}, {}])
def test_random_extends_graphs(workdir, edges, start, bodies):
    folder = case_dir(workdir)
    shutil.copy(PILOT, folder / "denver_pilot.yaml")
    for (name, parent), body in zip(edges.items(), bodies, strict=True):
        doc = dict(body)
        if parent is not None:
            doc = {"extends": parent, **doc}
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(dump(doc) if doc else "# empty\n", encoding="utf-8")
    path = folder / start
    origins = [folder / n for n in FILES] + [folder / "denver_pilot.yaml"]
    # a file that extends is named as written (folder/sub/../a.yaml), so accept any path in the folder
    origins += [str(folder) + "/"]
    outcome = load_outcome(path, origins=[str(o) for o in origins])
    if isinstance(outcome, ScenarioError):
        cyclic = [line for line in outcome.problems if "cycle" in line]
        for line in cyclic:
            assert "extends: cycle (" in line and " -> " in line, f"expected the cycle spelled out; found {line!r}"


def test_extends_cycle_of_three_names_every_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text("extends: sub/b.yaml\nname: a\n")
    (tmp_path / "sub" / "b.yaml").write_text("extends: ../c.yaml\nname: b\n")
    (tmp_path / "c.yaml").write_text("extends: a.yaml\nname: c\n")
    problems = load_outcome(tmp_path / "a.yaml", origins=[f"{tmp_path}/"]).problems
    assert len(problems) == 1 and "extends: cycle" in problems[0], f"expected one cycle error; found {problems}"
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        assert name in problems[0], f"expected {name} in the cycle; found {problems[0]!r}"


def test_extends_resolves_relative_to_the_including_file(tmp_path, monkeypatch):
    """Each file's ``extends`` is read from that file's folder, never the working directory."""
    (tmp_path / "lib" / "base").mkdir(parents=True)
    shutil.copy(PILOT, tmp_path / "lib" / "base" / "pilot.yaml")
    (tmp_path / "lib" / "middle.yaml").write_text("extends: base/pilot.yaml\nname: middle\n"
                                                   "population: {initial_people: 111}\n")
    (tmp_path / "runs").mkdir()
    child = tmp_path / "runs" / "child.yaml"
    child.write_text("extends: ../lib/middle.yaml\nname: child\nrun: {replications: 3}\n")
    # decoys where a working-directory-relative lookup would find them
    decoy_dir = tmp_path / "cwd"
    (decoy_dir / "base").mkdir(parents=True)
    (decoy_dir / "base" / "pilot.yaml").write_text("name: decoy\n")
    (decoy_dir / "lib").mkdir()
    (decoy_dir / "lib" / "middle.yaml").write_text("name: decoy\n")
    monkeypatch.chdir(decoy_dir)
    loaded = load(Path("..") / "runs" / "child.yaml")
    assert loaded.base.name == "child" and loaded.base.population.initial_people == 111, (
        f"expected child over middle over pilot; found name {loaded.base.name!r}, "
        f"initial_people {loaded.base.population.initial_people}"
    )
    assert loaded.base.run.replications == 3
    assert [p.name for p in loaded.files] == ["child.yaml", "middle.yaml", "pilot.yaml"], loaded.files
    assert all(p.resolve().is_relative_to((tmp_path / "runs").resolve()) or
               p.resolve().is_relative_to((tmp_path / "lib").resolve()) for p in loaded.files), loaded.files


def test_extends_missing_parent_names_the_file_and_the_path_tried(tmp_path):
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"
    child.write_text("extends: ../nowhere/parent.yaml\nname: child\n")
    problems = load_outcome(child).problems
    assert problems == [f"{child}: extends: parent file {tmp_path / 'sub' / '..' / 'nowhere' / 'parent.yaml'} not found"], (
        f"expected the missing parent named; found {problems}"
    )


# ---- 5. fixed hostile files --------------------------------------------------------------------------------------


def alias_bomb(levels: int, width: int = 10, mapping: bool = True) -> str:
    lines = ["x0: &a0 {" + ", ".join(f"k{j}: 1" for j in range(width)) + "}" if mapping
             else "x0: &a0 [" + ", ".join("1" for _ in range(width)) + "]"]
    for i in range(1, levels + 1):
        if mapping:
            lines.append(f"x{i}: &a{i} {{" + ", ".join(f"k{j}: *a{i - 1}" for j in range(width)) + "}")
        else:
            lines.append(f"x{i}: &a{i} [" + ", ".join(f"*a{i - 1}" for _ in range(width)) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias-bomb-mappings": (alias_bomb(9), "more than 200,000 values"),
    "alias-bomb-lists": (alias_bomb(9, mapping=False), "more than 200,000 values"),
    "alias-bomb-in-a-valid-key": ("extends: denver_pilot.yaml\nname: x\n" + alias_bomb(8).replace("x", "description_"),
                                  "more than 200,000 values"),
    "recursive-list": ("a: &r [1, *r]\n", "nested more than 50 levels"),
    "deep-flow-mapping": ("a: " + "{b: " * 40 + "1" + "}" * 40 + "\n", "unknown key"),
    "too-deep-flow-mapping": ("a: " + "{b: " * 60 + "1" + "}" * 60 + "\n", "nested more than 50 levels"),
    "very-deep-flow-mapping": ("a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n", "nested too deeply to read"),
    "very-deep-flow-list": ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply to read"),
    "very-deep-block": ("a:\n" + "".join("  " * (i + 1) + "b:\n" for i in range(700)) + "  " * 701 + "1\n",
                        "nested"),
    "unsafe-tag-apply": ("name: !!python/object/apply:os.system ['touch PWNED']\n", "could not determine a constructor"),
    "unsafe-tag-object": ("!!python/object:lead_sim.scenario.schema.Scenario {}\n", "could not determine a constructor"),
    "unsafe-tag-name": ("name: !!python/name:os.system\n", "could not determine a constructor"),
    "too-large": ("description: '" + "a" * (loading.MAX_FILE_BYTES + 10) + "'\n", "a scenario file may be at most"),
    "many-services": ("extends: denver_pilot.yaml\nlead:\n  services:\n"
                      + "".join(f"    s{i}: {{}}\n" for i in range(6_000)), "lead.services.s5999"),
    "many-keys": ("".join(f"k{i}: {i}\n" for i in range(20_000)), "unknown key"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file(workdir, tmp_path, monkeypatch, name):
    text, fragment = HOSTILE[name]
    shutil.copy(PILOT, tmp_path / "denver_pilot.yaml")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    outcome = load_outcome(path, origins=[path, tmp_path / "denver_pilot.yaml"])
    assert isinstance(outcome, ScenarioError), f"expected {name} to be refused; it loaded"
    assert any(fragment in line for line in outcome.problems), (
        f"expected a problem mentioning {fragment!r}; found {outcome.problems[:5]}"
    )
    assert not (tmp_path / "PWNED").exists(), "a YAML tag ran a command"


def test_unsafe_tag_in_set_is_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome = load_outcome(PILOT, ["description=!!python/object/apply:os.system ['touch PWNED']"])
    assert isinstance(outcome, ScenarioError), "expected the python tag refused"
    assert outcome.problems[0].startswith("--set description: "), outcome.problems
    assert not (tmp_path / "PWNED").exists(), "a YAML tag in --set ran a command"


def test_library_reads_yaml_with_the_safe_loader_only():
    """Every yaml.load in the package names the SafeLoader subclass; no unsafe/full loaders."""
    pkg = ROOT / "lead_sim"
    unsafe = {"unsafe_load", "full_load", "load_all", "unsafe_load_all", "full_load_all", "Loader", "FullLoader",
              "UnsafeLoader", "CLoader", "CFullLoader", "CUnsafeLoader"}
    found = []
    for f in pkg.rglob("*.py"):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "yaml":
                if node.attr in unsafe:
                    found.append(f"{f.name}:{node.lineno} yaml.{node.attr}")
                if node.attr == "load":
                    call = next((c for c in ast.walk(tree) if isinstance(c, ast.Call) and c.func is node), None)
                    loader = next((k.value for k in (call.keywords if call else []) if k.arg == "Loader"), None)
                    if not (isinstance(loader, ast.Name) and loader.id == "_UniqueKeyLoader"):
                        found.append(f"{f.name}:{node.lineno} yaml.load without Loader=_UniqueKeyLoader")
    assert not found, f"expected only safe YAML loading; found {found}"
    assert issubclass(loading._UniqueKeyLoader, yaml.SafeLoader)


# ---- 6. a bad scenario never makes an output folder --------------------------------------------------------------


@fast(25)
@given(change_list=changes)
@example(change_list=[(("run", "warmup_days"), 10**6)])
def test_compare_on_a_bad_scenario_writes_nothing(workdir, change_list):
    folder = case_dir(workdir)
    path = folder / "mutated.yaml"
    path.write_text(dump(mutate(PILOT_DOC, change_list)), encoding="utf-8")
    try:
        load(path)
    except ScenarioError:
        pass
    else:
        return  # a valid scenario would run a full simulation: not this test's business
    out = folder / "out"
    result = CliRunner().invoke(main, ["compare", str(path), "--reps", "1", "--jobs", "1", "--out", str(out)])
    assert result.exit_code == 2, f"expected exit 2 for a bad scenario; found {result.exit_code}\n{result.stderr}"
    assert isinstance(result.exception, SystemExit), f"expected a clean exit; found {result.exception!r}"
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: "), result.stderr
    assert not out.exists(), f"expected no output folder for a bad scenario; found {list(out.rglob('*'))}"


# ---- 7. what schema.py and distributions.py should refuse themselves (not this change's files) ---------------------


# Each of these loads today as a valid scenario (or, marked *, as the loader's fallback error that
# names the file but not the key), and then hangs or crashes the simulation or fills it with NaN.
# The bounds belong in schema.py / distributions.py, next to the fields.
UNRUNNABLE = [
    pytest.param(("run", "warmup_days"), 10**6, id="warmup-overflows-the-date*"),
    pytest.param(("run", "start_date"), dt.date(1, 1, 1), id="start-date-minus-warmup-before-year-1*"),
    pytest.param(("usual_processing", "prison_days"), {"dist": "beta", "mean": 1e-300, "sd": 1e-301},
                 id="beta-sd-squared-underflows*"),
    pytest.param(("usual_processing", "prison_days"), {"dist": "gamma", "mean": 1e-200, "sd": 1e200},
                 id="gamma-scale-overflows"),
    pytest.param(("usual_processing", "prison_days"), {"dist": "lognormal", "mean": 1e-200, "sd": 1e200},
                 id="lognormal-sigma-infinite"),
    pytest.param(("usual_processing", "prison_days"), {"dist": "lognormal", "median": 1e-300, "p90": 1e300},
                 id="lognormal-draws-overflow-exp"),
    pytest.param(("usual_processing", "prison_days"), {"dist": "uniform", "min": -1e308, "max": 1e308},
                 id="uniform-width-infinite"),
    pytest.param(("population", "arrivals_per_year"), 1e300, id="arrivals-unbounded"),
    pytest.param(("behaviour", "contact_rate_per_year"), 1e300, id="contact-rate-unbounded"),
    pytest.param(("run", "end_date"), dt.date(9999, 12, 31), id="horizon-unbounded"),
]


@pytest.mark.parametrize(("path", "value"), UNRUNNABLE)
def test_unrunnable_value_is_refused_against_its_key(tmp_path, path, value):
    file = tmp_path / "unrunnable.yaml"
    file.write_text(dump(mutate(PILOT_DOC, [(path, value)])), encoding="utf-8")
    outcome = load_outcome(file)
    assert isinstance(outcome, ScenarioError), f"expected {dotted(path)}={value!r} refused; it loaded"
    assert any(line.startswith(f"{file}: {dotted(path)}: ") for line in outcome.problems), (
        f"expected the problem reported on {dotted(path)}; found {outcome.problems}"
    )
