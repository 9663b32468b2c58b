"""Scenario loading: every kind of bad input ends as a ScenarioError, never a traceback.

Each problem line must say which file (or ``--set``) gave the bad value, which key it is, what
was expected and what was found. Bad files are built by mutating the bundled Denver pilot
(a standalone file) and writing it to ``tmp_path``. The valid bundled scenarios must load,
round-trip through ``resolved_yaml`` and accept ``--set`` values read as YAML.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from lead_sim.scenario.loading import ScenarioError, load, resolved_yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BUNDLED = ["denver_pilot.yaml", "demo.yaml", "citywide.yaml"]
ARMS = ["usual_processing", "lead_pilot", "lead_continued"]

DELETE = object()  # sentinel: remove the key instead of setting it


# ---- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pilot_doc() -> dict:
    """The raw YAML of the bundled Denver pilot (a standalone scenario: no ``extends``)."""
    doc = yaml.safe_load((SCENARIOS / "denver_pilot.yaml").read_text(encoding="utf-8"))
    assert "extends" not in doc, "denver_pilot.yaml is expected to be standalone"
    return doc


@pytest.fixture
def doc(pilot_doc: dict) -> dict:
    return copy.deepcopy(pilot_doc)


def write(folder: Path, name: str, content: dict | str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def put(doc: dict, keys: tuple, value: Any) -> dict:
    """Set (or with DELETE remove) ``doc[k1][k2]...``; returns ``doc``."""
    node = doc
    for k in keys[:-1]:
        node = node[k]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


def problems_of(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(path, list(overrides))
    problems = info.value.problems
    assert problems, "ScenarioError raised with no problem lines"
    assert all(isinstance(p, str) and p.strip() for p in problems), f"blank problem lines: {problems}"
    return problems


def line_for(problems: list[str], origin: str | Path, key: str, *, arm: str | None = None) -> str:
    """The problem line for ``key`` attributed to ``origin``: ``<origin>: [(arm a) ]<key>: ...``."""
    head = f"{origin}: " + (f"(arm {arm}) " if arm else "") + f"{key}: "
    matches = [p for p in problems if p.startswith(head)]
    assert matches, f"expected a problem line starting {head!r}; found {problems}"
    return matches[0]


def assert_mentions(line: str, *fragments: str) -> None:
    missing = [f for f in fragments if f not in line]
    assert not missing, f"expected the message to mention {missing}; found {line!r}"


# ---- one bad value in a standalone file ---------------------------------------------------------

TRIANGULAR_BAD = {"dist": "triangular", "min": 10, "mode": 3, "max": 1}

BAD_VALUES = [
    # unknown keys (typos): the message lists the keys allowed there
    pytest.param(
        ("descripton",),
        "typo",
        "descripton",
        ["unknown key", "did you mean description?", "'description'", "'run'", "'arms'"],
        id="unknown-key-top-level",
    ),
    pytest.param(
        ("run", "replicatons"),
        3,
        "run.replicatons",
        ["unknown key", "did you mean replications?", "'replications'", "'seed'"],
        id="unknown-key-nested",
    ),
    pytest.param(
        ("population", "prior_arrests", "meen"),
        4,
        "population.prior_arrests.meen",
        ["unknown key", "'mean'", "'sd'"],
        id="unknown-key-in-distribution",
    ),
    pytest.param(
        ("lead", "services", "job_training", "capacty"),
        3,
        "lead.services.job_training.capacty",
        ["unknown key", "did you mean capacity?", "'capacity'", "'p_uptake'"],
        id="unknown-key-in-named-service",
    ),
    # wrong types
    pytest.param(
        ("behaviour", "contact_rate_per_year"),
        "lots",
        "behaviour.contact_rate_per_year",
        ["expected a valid number", "'lots'"],
        id="string-for-number",
    ),
    pytest.param(
        ("run", "replications"),
        "twelve",
        "run.replications",
        ["expected a valid integer", "'twelve'"],
        id="string-for-integer",
    ),
    pytest.param(
        ("lead", "case_managers"),
        "three",
        "lead.case_managers",
        ["expected a number", "'three'"],
        id="string-for-dated-number",
    ),
    pytest.param(
        ("population", "initial_people"),
        12.5,
        "population.initial_people",
        ["integer", "12.5"],
        id="fraction-for-integer",
    ),
    # probabilities outside [0, 1]
    pytest.param(
        ("population", "p_female"),
        1.5,
        "population.p_female",
        ["less than or equal to 1", "1.5"],
        id="probability-above-1",
    ),
    pytest.param(
        ("contact", "p_excluded"),
        -0.1,
        "contact.p_excluded",
        ["greater than or equal to 0", "-0.1"],
        id="probability-below-0",
    ),
    pytest.param(
        ("usual_processing", "p_possession_felony"),
        {"start": 0.7, dt.date(2020, 3, 1): 1.3},
        "usual_processing.p_possession_felony",
        ["<= 1", "2020-03-01", "1.3"],
        id="dated-probability-above-1",
    ),
    pytest.param(
        ("population", "p_female"), float("nan"), "population.p_female", ["finite", "nan"], id="probability-nan"
    ),
    # negative durations and costs
    pytest.param(
        ("usual_processing", "sanction_jail_days"),
        {"dist": "uniform", "min": -2, "max": 5},
        "usual_processing.sanction_jail_days",
        ["cannot be negative", "uniform", "-2"],
        id="negative-duration-uniform",
    ),
    pytest.param(
        ("usual_processing", "prison_days"),
        {"dist": "fixed", "value": -1},
        "usual_processing.prison_days",
        ["cannot be negative", "-1"],
        id="negative-duration-fixed",
    ),
    pytest.param(
        ("costs", "per_event", "arrest", "police", "average"),
        -300,
        "costs.per_event.arrest.police.average",
        ["greater than or equal to 0", "-300"],
        id="negative-event-cost",
    ),
    pytest.param(
        ("costs", "per_day", "jail", "jail", "marginal", "usd"),
        -60,
        "costs.per_day.jail.jail.marginal.usd",
        ["greater than or equal to 0", "-60"],
        id="negative-daily-cost",
    ),
    pytest.param(
        ("lead", "services", "job_training", "cost", "usd"),
        -1,
        "lead.services.job_training.cost.usd",
        ["greater than or equal to 0", "-1"],
        id="negative-service-cost",
    ),
    # branch probabilities leaving a decision sum to at most 1
    pytest.param(
        ("usual_processing", "sentence", "felony"),
        {"prison": 0.5, "jail": 0.4, "probation": 0.3},
        "usual_processing.sentence.felony",
        ["at most 1", "1.2", "prison=0.5"],
        id="sentence-branches-over-1",
    ),
    pytest.param(
        ("usual_processing", "disposition", "misdemeanor"),
        {"dismissed": 0.8, "deferred": 0.3},
        "usual_processing.disposition.misdemeanor",
        ["at most 1", "1.1"],
        id="disposition-branches-over-1",
    ),
    pytest.param(
        ("contact", "offense_mix", "both"),
        {"possession": 0.6, "prostitution": 0.3, "other": 0.2},
        "contact.offense_mix.both",
        ["at most 1", "1.1"],
        id="offense-mix-over-1",
    ),
    # shares summing to 1
    pytest.param(("districts", "shares", 6), 0.5, "districts.shares", ["sum to 1", "1.22"], id="district-shares"),
    pytest.param(
        ("population", "offense_profile", "both"),
        0.5,
        "population.offense_profile",
        ["sum to 1", "1.38"],
        id="offense-profile-shares",
    ),
    # dated schedules
    pytest.param(
        ("lead", "p_officer_trained"),
        {"start": 0.0, dt.date(2019, 7, 1): 0.25, dt.date(2019, 1, 22): 0.15},
        "lead.p_officer_trained",
        ["must increase", "2019-01-22", "2019-07-01"],
        id="schedule-dates-not-increasing",
    ),
    pytest.param(
        ("lead", "p_officer_trained"),
        {dt.date(2019, 1, 22): 0.15, dt.date(2019, 7, 1): 0.25},
        "lead.p_officer_trained",
        ["begin with the key 'start'", "found first key"],
        id="schedule-without-start",
    ),
    pytest.param(
        ("usual_processing", "p_possession_felony"),
        {"start": 0.7, "March 2020": 0.0},
        "usual_processing.p_possession_felony",
        ["ISO date", "'March 2020'"],
        id="schedule-key-not-a-date",
    ),
    # dates are written as dates: a bare number would otherwise be read as a Unix time
    pytest.param(("run", "start_date"), 20190122, "run.start_date", ["YYYY-MM-DD", "the number 20190122"],
                 id="date-as-number"),
    pytest.param(("lead", "end_date"), 1609372800, "lead.end_date", ["YYYY-MM-DD", "the number 1609372800"],
                 id="date-as-unix-time"),
    pytest.param(("run", "end_date"), "31/12/2021", "run.end_date", ["YYYY-MM-DD", "'31/12/2021'"],
                 id="date-in-another-format"),
    pytest.param(("run", "end_date"), True, "run.end_date", ["YYYY-MM-DD", "found true"], id="date-as-boolean"),
    # distribution parameters
    pytest.param(
        ("usual_processing", "prison_days"),
        {"dist": "lognormal", "median": 365},
        "usual_processing.prison_days",
        ["mean and sd", "median and p90"],
        id="lognormal-neither",
    ),
    pytest.param(
        ("usual_processing", "sanction_jail_days"),
        TRIANGULAR_BAD,
        "usual_processing.sanction_jail_days",
        ["min <= mode <= max", "min=10", "mode=3", "max=1"],
        id="triangular-min-above-max",
    ),
    pytest.param(
        ("population", "prior_arrests"),
        {"dist": "weibull", "k": 1},
        "population.prior_arrests",
        ["'weibull'", "'gamma'", "'lognormal'"],
        id="unknown-distribution",
    ),
    pytest.param(
        ("population", "prior_arrests"),
        {"dist": "gamma", "mean": -1, "sd": 2},
        "population.prior_arrests.mean",
        ["greater than 0", "-1"],
        id="distribution-parameter-negative",
    ),
    # missing keys
    pytest.param(("run", "seed"), DELETE, "run.seed", ["missing required key"], id="missing-required-key"),
    pytest.param(("lead",), DELETE, "lead", ["missing required key"], id="missing-required-section"),
]


@pytest.mark.parametrize(("keys", "value", "key", "fragments"), BAD_VALUES)
def test_bad_value_is_reported_with_file_key_expected_and_found(tmp_path, doc, keys, value, key, fragments):
    path = write(tmp_path, "bad.yaml", put(doc, keys, value))
    problems = problems_of(path)
    line = line_for(problems, path, key)
    assert_mentions(line, *fragments)


# Rules that involve several sections (checked on the whole scenario). The message must name the
# key and the offending value, whatever the key slot says (see the strict test below).
CROSS_FIELD = [
    pytest.param(
        ("run", "comparator"),
        "nobody",
        "run.comparator",
        ["'nobody'", "'usual_processing'", "'lead_pilot'", "'lead_continued'"],
        id="comparator-not-an-arm",
    ),
    pytest.param(
        ("lead", "districts"),
        [1, 2, 9],
        "lead.districts",
        ["[9]", "districts.shares", "[1, 2, 3, 4, 5, 6]"],
        id="lead-district-unknown",
    ),
    pytest.param(
        ("lead", "services", "job_training", "cost", "agency"),
        "sheriff",
        "lead.services.job_training.cost.agency",
        ["'sheriff'", "costs.agencies", "'job_training'"],
        id="service-agency-unknown",
    ),
    pytest.param(
        ("costs", "per_event", "booking"),
        DELETE,
        "costs",
        ["per_event", "'booking'", "unit cost"],
        id="per-event-missing-costed-event",
    ),
    pytest.param(
        ("costs", "per_event", "booking"),
        {"sheriff": 150},
        "costs",
        ["per_event.booking", "'sheriff'", "costs.agencies", "'jail'"],
        id="event-agency-unknown",
    ),
    pytest.param(
        ("costs", "per_day", "hospital"),
        {"jail": 1},
        "costs",
        ["per_day", "'hospital'", "'jail'"],
        id="per-day-unknown-state",
    ),
]


@pytest.mark.parametrize(("keys", "value", "key", "fragments"), CROSS_FIELD)
def test_cross_field_rule_names_key_expected_and_found(tmp_path, doc, keys, value, key, fragments):
    path = write(tmp_path, "bad.yaml", put(doc, keys, value))
    problems = problems_of(path)
    lines = [p for p in problems if p.startswith(f"{path}: ") and key in p]
    assert lines, f"expected a line naming {path} and {key!r}; found {problems}"
    assert_mentions(lines[0], *fragments)




@pytest.mark.parametrize(
    ("keys", "value", "key"),
    [
        pytest.param(("run", "comparator"), "nobody", "run.comparator", id="comparator"),
        pytest.param(("lead", "districts"), [1, 2, 9], "lead.districts", id="lead-districts"),
        pytest.param(
            ("lead", "services", "job_training", "cost", "agency"),
            "sheriff",
            "lead.services.job_training.cost.agency",
            id="service-agency",
        ),
    ],
)
def test_cross_field_rule_puts_the_key_in_the_key_slot(tmp_path, doc, keys, value, key):
    path = write(tmp_path, "bad.yaml", put(doc, keys, value))
    problems = problems_of(path)
    assert not any("(top level)" in p for p in problems), f"expected no '(top level)' placeholder; found {problems}"
    line_for(problems, path, key)


def test_lognormal_error_says_which_parameters_were_given(tmp_path, doc):
    put(doc, ("usual_processing", "prison_days"), {"dist": "lognormal", "median": 365})
    path = write(tmp_path, "bad.yaml", doc)
    line = line_for(problems_of(path), path, "usual_processing.prison_days")
    assert_mentions(line, "found", "median")


def test_schedule_without_start_shows_the_date_as_written(tmp_path, doc):
    put(doc, ("lead", "p_officer_trained"), {dt.date(2019, 1, 22): 0.15, dt.date(2019, 7, 1): 0.25})
    path = write(tmp_path, "bad.yaml", doc)
    line = line_for(problems_of(path), path, "lead.p_officer_trained")
    assert "datetime.date" not in line, f"expected the date as written in the file; found {line!r}"


def test_several_problems_are_all_reported(tmp_path, doc):
    put(doc, ("population", "p_female"), 1.5)
    put(doc, ("run", "replicatons"), 3)
    path = write(tmp_path, "bad.yaml", doc)
    problems = problems_of(path)
    line_for(problems, path, "population.p_female")
    line_for(problems, path, "run.replicatons")


# ---- files that are not scenarios ------------------------------------------------------------------


def test_empty_file(tmp_path):
    path = write(tmp_path, "empty.yaml", "# nothing but a comment\n")
    problems = problems_of(path)
    assert problems[0].startswith(f"{path}: "), problems
    assert_mentions(problems[0], "empty", "mapping")


def test_list_instead_of_mapping(tmp_path):
    path = write(tmp_path, "list.yaml", "- name: demo\n- run: {}\n")
    problems = problems_of(path)
    assert problems[0].startswith(f"{path}: "), problems
    assert_mentions(problems[0], "expected a YAML mapping", "found list")


def test_invalid_yaml_syntax_gives_line_number(tmp_path):
    path = write(tmp_path, "syntax.yaml", "name: demo\nrun:\n  start_date: [2019\n  end_date: 2021-12-31\n")
    problems = problems_of(path)
    assert problems[0].startswith(f"{path}: line 4, column "), f"expected the error at line 4; found {problems}"
    assert_mentions(problems[0], "not valid YAML")


def test_binary_garbage(tmp_path):
    path = write(tmp_path, "image.yaml", b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xfd")
    problems = problems_of(path)
    assert problems[0].startswith(f"{path}: "), problems
    assert_mentions(problems[0], "not a text file", "UTF-8")


def test_duplicate_keys_are_refused(tmp_path):
    path = write(tmp_path, "dup.yaml", "name: a\ndescription: x\nname: b\n")
    problems = problems_of(path)
    assert problems[0].startswith(f"{path}: line 3, column 1: "), f"expected the duplicate at line 3; found {problems}"
    assert_mentions(problems[0], "duplicate key 'name'")


def test_nested_duplicate_keys_are_refused(tmp_path):
    text = (SCENARIOS / "denver_pilot.yaml").read_text(encoding="utf-8")
    text = text.replace("  seed: 20190122", "  seed: 20190122\n  seed: 1", 1)
    path = write(tmp_path, "dup.yaml", text)
    problems = problems_of(path)
    assert_mentions(problems[0], str(path), "duplicate key 'seed'", "line ")


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    assert problems_of(path) == [f"{path}: file not found"]


def test_directory_instead_of_file(tmp_path):
    problems = problems_of(tmp_path)
    assert_mentions(problems[0], str(tmp_path), "directory")


# ---- extends --------------------------------------------------------------------------------------


@pytest.fixture
def pilot_copy(tmp_path, pilot_doc) -> Path:
    """denver_pilot.yaml copied into tmp_path, so child files can extend it."""
    return write(tmp_path, "denver_pilot.yaml", pilot_doc)


def test_extends_cycle(tmp_path):
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    problems = problems_of(a)
    assert problems[0].startswith(f"{a}: extends: "), problems
    assert_mentions(problems[0], "cycle", "a.yaml", "b.yaml")


def test_extends_itself(tmp_path):
    a = write(tmp_path, "a.yaml", "extends: a.yaml\nname: a\n")
    assert_mentions(problems_of(a)[0], f"{a}: extends: ", "cycle")


def test_extends_missing_parent(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: nowhere.yaml\nname: child\n")
    problems = problems_of(child)
    assert problems[0].startswith(f"{child}: extends: "), problems
    assert_mentions(problems[0], "nowhere.yaml", "not found")


def test_extends_not_a_file_name(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: [a.yaml, b.yaml]\nname: child\n")
    assert_mentions(problems_of(child)[0], f"{child}: extends: ", "expected a file name", "['a.yaml', 'b.yaml']")


def test_bad_value_in_child_is_attributed_to_child(tmp_path, pilot_copy):
    child = write(tmp_path, "child.yaml", "extends: denver_pilot.yaml\nname: child\npopulation:\n  p_housed: 7\n")
    problems = problems_of(child)
    assert_mentions(line_for(problems, child, "population.p_housed"), "less than or equal to 1", "7")
    assert not any(p.startswith(f"{pilot_copy}: ") for p in problems), (
        f"parent blamed for the child's value: {problems}"
    )


def test_bad_value_in_parent_is_attributed_to_parent(tmp_path, doc):
    parent = write(tmp_path, "parent.yaml", put(doc, ("population", "p_housed"), 7))
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nname: child\n")
    assert_mentions(line_for(problems_of(child), parent, "population.p_housed"), "7")


def test_child_breaking_a_branch_sum_is_attributed_to_child(tmp_path, pilot_copy):
    child = write(
        tmp_path,
        "child.yaml",
        "extends: denver_pilot.yaml\nname: child\nusual_processing:\n  sentence:\n    felony: {prison: 0.5}\n",
    )
    line = line_for(problems_of(child), child, "usual_processing.sentence.felony")
    assert_mentions(line, "at most 1", "1.3")


def test_parent_branch_sum_is_attributed_to_parent(tmp_path, doc):
    parent = write(tmp_path, "parent.yaml", put(doc, ("usual_processing", "sentence", "felony", "prison"), 0.5))
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nname: child\n")
    line_for(problems_of(child), parent, "usual_processing.sentence.felony")


def test_parent_cross_field_error_is_attributed_to_parent(tmp_path, doc):
    parent = write(tmp_path, "parent.yaml", put(doc, ("lead", "districts"), [1, 9]))
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nname: child\n")
    problems = problems_of(child)
    assert any(p.startswith(f"{parent}: ") and "lead.districts" in p for p in problems), (
        f"expected the error attributed to {parent}; found {problems}"
    )


# ---- arms --------------------------------------------------------------------------------------------


def test_arm_set_with_invalid_value_names_the_arm(tmp_path, doc):
    put(doc, ("arms", "lead_pilot", "set"), {"lead.p_divert_if_eligible": 2})
    path = write(tmp_path, "bad.yaml", doc)
    problems = problems_of(path)
    line = line_for(problems, path, "lead.p_divert_if_eligible", arm="lead_pilot")
    assert_mentions(line, "less than or equal to 1", "2")
    assert len(problems) == 1, f"only the broken arm should be reported; found {problems}"


def test_arm_set_with_unknown_key_names_the_arm(tmp_path, doc):
    put(doc, ("arms", "lead_pilot", "set"), {"lead.p_divert_if_eligbile": 0.2})
    path = write(tmp_path, "bad.yaml", doc)
    line = line_for(problems_of(path), path, "lead.p_divert_if_eligbile", arm="lead_pilot")
    assert_mentions(line, "unknown key", "'p_divert_if_eligible'")


def test_arm_set_through_a_non_mapping(tmp_path, doc):
    put(doc, ("arms", "lead_pilot", "set"), {"lead.enabled.x": 1})
    path = write(tmp_path, "bad.yaml", doc)
    problems = problems_of(path)
    assert_mentions(problems[0], str(path), "arms.lead_pilot.set", "lead.enabled", "not a mapping")


def test_arm_in_child_file_is_attributed_to_child(tmp_path, pilot_copy):
    child = write(
        tmp_path,
        "child.yaml",
        "extends: denver_pilot.yaml\nname: child\narms:\n  lead_pilot:\n    set: {lead.p_divert_if_eligible: 2}\n",
    )
    line_for(problems_of(child), child, "lead.p_divert_if_eligible", arm="lead_pilot")


def test_arm_in_parent_file_is_attributed_to_parent(tmp_path, doc):
    parent = write(tmp_path, "parent.yaml", put(doc, ("arms", "lead_pilot", "set"), {"lead.p_divert_if_eligible": 2}))
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nname: child\n")
    line_for(problems_of(child), parent, "lead.p_divert_if_eligible", arm="lead_pilot")


# ---- --set overrides -----------------------------------------------------------------------------------


DEMO = SCENARIOS / "demo.yaml"


@pytest.mark.parametrize("text", ["lead.case_managers", "=3", " = 3"])
def test_set_without_key_or_equals(text):
    problems = problems_of(DEMO, [text])
    assert problems == [f"--set {text!r}: expected path.to.key=value"], problems


@pytest.mark.parametrize(
    ("override", "key", "fragments"),
    [
        pytest.param("lead.case_managers=-1", "lead.case_managers", [">= 0", "-1"], id="negative"),
        pytest.param("lead.case_managers=lots", "lead.case_managers", ["expected a number", "'lots'"], id="string"),
        pytest.param("population.p_female=1.5", "population.p_female", ["less than or equal to 1", "1.5"], id="prob"),
        pytest.param("run.replicatons=3", "run.replicatons", ["unknown key", "'replications'"], id="typo"),
        pytest.param(
            "costs.per_event.arrest.police=-1",
            "costs.per_event.arrest.police",
            ["greater than or equal to 0", "-1"],
            id="negative-cost",
        ),
        pytest.param(
            "population.age_years={dist: lognormal, median: 30}",
            "population.age_years",
            ["mean and sd", "median and p90"],
            id="distribution",
        ),
        pytest.param(
            "lead.p_officer_trained={start: 0, 2019-07-01: 0.5, 2019-01-22: 0.2}",
            "lead.p_officer_trained",
            ["must increase", "2019-01-22", "2019-07-01"],
            id="schedule",
        ),
    ],
)
def test_set_with_invalid_value_is_attributed_to_set(override, key, fragments):
    problems = problems_of(DEMO, [override])
    assert_mentions(line_for(problems, "--set", key), *fragments)
    assert not any(p.startswith(str(DEMO)) for p in problems), f"the file is blamed for --set: {problems}"


def test_set_with_invalid_yaml_value():
    problems = problems_of(DEMO, ["lead.districts=[1, 2"])
    assert problems[0].startswith("--set lead.districts: "), problems
    assert_mentions(problems[0], "not valid YAML", "'[1, 2'")


def test_set_through_a_non_mapping():
    problems = problems_of(DEMO, ["run.seed.x=1"])
    assert problems[0].startswith("--set: run.seed.x: "), problems
    assert_mentions(problems[0], "run.seed", "not a mapping")




@pytest.mark.parametrize(
    ("override", "key"),
    [
        pytest.param("districts.shares.6=1.5", "districts.shares.6", id="int-key-leaf"),
        pytest.param("districts.shares.6=0.5", "districts.shares", id="shares-sum"),
        pytest.param(
            "usual_processing.sentence.felony.prison=0.5",
            "usual_processing.sentence.felony",
            id="branch-sum",
        ),
    ],
)
def test_set_breaking_a_mapping_rule_is_attributed_to_set(override, key):
    line_for(problems_of(DEMO, [override]), "--set", key)


def test_set_can_change_one_date_of_a_schedule():
    loaded = load(DEMO, ["lead.p_officer_trained.2019-07-01=0.3"])
    got = loaded.base.lead.p_officer_trained
    assert got == {"start": 0.0, "2019-01-22": 0.15, "2019-07-01": 0.3}, (
        f"expected the 2019-07-01 value replaced; found {got}"
    )


def test_set_values_are_read_as_yaml_and_revalidated():
    loaded = load(
        DEMO,
        [
            "lead.districts=[1, 2]",
            "lead.case_managers=2",
            "run.end_date=2021-06-30",
            "lead.when_full=book",
            "jail.capacity_beds=null",
        ],
    )
    for name, sc in {"base": loaded.base, **loaded.arms}.items():
        assert sc.lead.districts == [1, 2], f"{name}: expected districts [1, 2]; found {sc.lead.districts}"
        assert sc.run.end_date == dt.date(2021, 6, 30), f"{name}: expected end 2021-06-30; found {sc.run.end_date}"
    assert loaded.base.lead.case_managers == 2.0
    assert loaded.base.lead.when_full == "book"
    assert loaded.base.jail.capacity_beds is None
    problems = problems_of(DEMO, ["lead.districts=[1, 9]"])
    assert any("lead.districts" in p and "[9]" in p for p in problems), f"expected district 9 refused; found {problems}"


def test_set_is_not_evaluated():
    problems = problems_of(DEMO, ["lead.case_managers=__import__('os').getpid()"])
    assert_mentions(line_for(problems, "--set", "lead.case_managers"), "expected a number", "__import__")


def test_set_applies_to_every_arm_but_arms_still_win():
    loaded = load(DEMO, ["lead.enabled=true", "lead.p_divert_if_eligible=0.9"])
    assert loaded.arms["usual_processing"].lead.enabled is False, "the arm's own set must override --set"
    assert all(sc.lead.p_divert_if_eligible == 0.9 for sc in loaded.arms.values())


def test_set_reaches_a_key_that_holds_dots():
    """``arms.<arm>.set`` (and the analysis sections) are keyed by dotted keys: --set changes the
    existing entry instead of nesting a new one, and a bad value there is blamed on --set."""
    loaded = load(SCENARIOS / "denver_pilot.yaml", ["arms.lead_pilot.set.lead.end_date=2020-06-30"])
    assert loaded.arms["lead_pilot"].lead.end_date == dt.date(2020, 6, 30), loaded.arms["lead_pilot"].lead.end_date
    assert loaded.arms["lead_pilot"].lead.p_divert_if_eligible == loaded.base.lead.p_divert_if_eligible
    problems = problems_of(SCENARIOS / "denver_pilot.yaml", ["arms.lead_pilot.set.lead.end_date=soon"])
    assert problems and all(p.startswith("--set: (arm lead_pilot) lead.end_date: ") for p in problems), problems


# ---- valid scenarios ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_scenarios_load(name):
    loaded = load(SCENARIOS / name)
    assert loaded.base.name == Path(name).stem
    assert list(loaded.arms)[:3] == ARMS, f"expected arms to start with {ARMS}; found {list(loaded.arms)}"
    assert loaded.base.run.comparator in loaded.arms
    assert loaded.arms["usual_processing"].lead.enabled is False
    assert loaded.arms["lead_pilot"].lead.end_date == dt.date(2020, 12, 31)
    assert loaded.files[0] == SCENARIOS / name


def test_demo_extends_pilot():
    demo, pilot = load(DEMO), load(SCENARIOS / "denver_pilot.yaml")
    assert [p.name for p in demo.files] == ["demo.yaml", "denver_pilot.yaml"]
    assert demo.base.population.initial_people == 600
    assert demo.base.run.warmup_days == 365
    assert demo.base.costs == pilot.base.costs, "demo should inherit the pilot's costs unchanged"


def _without_arms(sc):
    return sc.model_copy(update={"arms": {}})


@pytest.mark.parametrize("name", BUNDLED)
def test_resolved_yaml_loads_back_to_the_same_model(tmp_path, name):
    loaded = load(SCENARIOS / name)
    again = load(write(tmp_path, "resolved.yaml", resolved_yaml(loaded.base)))
    assert _without_arms(again.base) == _without_arms(loaded.base), "resolved base differs from the original"
    assert list(again.arms) == list(loaded.arms)
    for arm, sc in loaded.arms.items():
        assert _without_arms(again.arms[arm]) == _without_arms(sc), f"arm {arm} differs after the round trip"
    assert resolved_yaml(again.base) == resolved_yaml(loaded.base), "resolved YAML is not a fixed point"


@pytest.mark.parametrize("name", BUNDLED)
def test_resolved_yaml_loads_back_to_an_equal_scenario(tmp_path, name):
    loaded = load(SCENARIOS / name)
    again = load(write(tmp_path, "resolved.yaml", resolved_yaml(loaded.base)))
    changed = {a: (arm.set, again.base.arms[a].set) for a, arm in loaded.base.arms.items() if again.base.arms[a] != arm}
    assert again.base == loaded.base, f"expected an equal Scenario; arm `set` (before, after) differs: {changed}"


def test_set_adds_an_uncertain_parameter_whose_key_has_dots():
    """uncertainty.parameters is keyed by dotted scenario keys: a new entry takes the rest of the path."""
    loaded = load(DEMO, ["uncertainty.parameters.lead.intake_deadline_days={dist: uniform, min: 10, max: 20}"])
    assert "lead.intake_deadline_days" in loaded.base.uncertainty.parameters
    problems = problems_of(DEMO, ["uncertainty.parameters.lead.nope={dist: uniform, min: 1, max: 2}"])
    assert_mentions(line_for(problems, "--set", "uncertainty.parameters.lead.nope"), "no such key in the scenario")
    assert not any("discriminator" in p for p in problems), problems
