"""What the capabilities' policies share (ops.policies).

Cases:
- a setting's value: empty means no policy; inline YAML when it spans lines or starts with
  ``{`` or ``key:`` and a space; anything else is a path (``~`` expanded), and a path that
  is not a file, unreadable YAML (with its line and column, and the file) or an empty
  document is an error naming the setting;
- problems are told by field path in the document's own spelling: aliases, a field name
  the user wrote instead, list indices, the named rule; unknown keys list the expected
  keys; missing keys are required; union member names and wrong-shape noise from the
  members the input was not meant for are left out; a scalar the model refused is shown,
  while a validator's own message is not repeated with it;
- durations parse in every unit and format back to their shortest spelling; regexes are
  refused with the RE2 reason, or when they are not strings.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ops.errors import ConfigError
from ops.policies import (
    Regex,
    compile_regex,
    describe_validation_errors,
    format_duration,
    parse_duration,
    read_policy_source,
    validate_with,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Need(_Strict):
    any_of: list[Regex] = Field(alias="anyOf")


class Rule(_Strict):
    name: str | None = None
    keep: int = Field(0, ge=0)
    older_than: Annotated[str, validate_with(parse_duration)] | None = Field(None, alias="olderThan")
    need: list[str] | Need | None = None


class Section(_Strict):
    rules: list[Rule]


class Document(_Strict):
    demo: Section


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ValidationError) as info:
        Document.model_validate(data)
    return describe_validation_errors(info.value, data, root="demo", model=Document)


@pytest.mark.parametrize("value", [None, "", "  \n "])
def test_an_empty_setting_is_no_policy(value: str | None) -> None:
    assert read_policy_source("OPS_DEMO_POLICY", value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("demo:\n  rules: []\n", {"demo": {"rules": []}}),
        ("demo: {rules: []}", {"demo": {"rules": []}}),
        ("{demo: {rules: []}}", {"demo": {"rules": []}}),
        ("defaults: []", {"defaults": []}),
        ("demo:", {"demo": None}),
    ],
)
def test_inline_yaml(value: str, expected: object) -> None:
    assert read_policy_source("OPS_DEMO_POLICY", value) == expected


def test_a_path_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "demo.yaml").write_text("demo:\n  rules: []\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert read_policy_source("OPS_DEMO_POLICY", str(tmp_path / "demo.yaml")) == {"demo": {"rules": []}}
    assert read_policy_source("OPS_DEMO_POLICY", "~/demo.yaml") == {"demo": {"rules": []}}


@pytest.mark.parametrize("value", ["/etc/ops/missing.yaml", "/etc/ops:demo", "demo:{rules: []}"])
def test_a_one_line_value_that_is_not_yaml_must_be_a_file(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_policy_source("OPS_DEMO_POLICY", value)
    assert info.value.problems == [
        f"OPS_DEMO_POLICY: {value} is not a file; the value is neither a file nor inline YAML "
        "(which spans lines, or starts with '{' or with 'key: ')"
    ]


def test_yaml_errors_name_the_setting_the_file_and_the_place(tmp_path: Path) -> None:
    text = "\ndemo:\n  rules: a: b\n"  # the line and column count what the user wrote, blank lines too
    problem = "mapping values are not allowed here at line 3, column 11"
    with pytest.raises(ConfigError) as info:
        read_policy_source("OPS_DEMO_POLICY", text)
    assert info.value.problems == [f"OPS_DEMO_POLICY: not valid YAML ({problem})"]
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_policy_source("OPS_DEMO_POLICY", str(path))
    assert info.value.problems == [f"OPS_DEMO_POLICY ({path}): not valid YAML ({problem})"]


def test_an_empty_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match=r"^OPS_DEMO_POLICY \(.*demo\.yaml\): the policy is empty$"):
        read_policy_source("OPS_DEMO_POLICY", str(path))


def test_paths_use_the_documents_spelling_and_name_the_rule() -> None:
    problems = problems_of(
        {"demo": {"rules": [{"keep": 1}, {"name": "nightly", "olderThan": "30 dayz", "older_than": "1d"}]}}
    )
    assert problems == [
        'demo.rules[1].olderThan: "30 dayz" is not a duration like 30d or 12h (rule "nightly")',
        "demo.rules[1].older_than: unknown key (expected one of keep, name, need, olderThan) "
        '(rule "nightly")',
    ]
    assert problems_of({"demo": {"rules": [{"older_than": "x"}]}}) == [
        'demo.rules[0].older_than: "x" is not a duration like 30d or 12h'
    ]


def test_unknown_missing_and_refused_values() -> None:
    assert problems_of({"demo": {}, "dmeo": 1}) == [
        "demo.rules: is required",
        "dmeo: unknown key (expected one of demo)",
    ]
    assert problems_of({"demo": {"rules": [{"name": "r", "keep": -1}]}}) == [
        'demo.rules[0].keep: Input should be greater than or equal to 0 (got -1) (rule "r")'
    ]


def test_union_members_are_not_named_and_their_noise_is_dropped() -> None:
    assert problems_of({"demo": {"rules": [{"need": {"anyOf": ["("], "x": 1}}]}}) == [
        'demo.rules[0].need.anyOf[0]: "(" is not a valid regular expression (missing ): (); '
        "patterns use RE2 syntax, which has no lookarounds or backreferences",
        "demo.rules[0].need.x: unknown key (expected one of anyOf)",
    ]
    assert problems_of({"demo": {"rules": [{"need": 3}]}}) == [
        "demo.rules[0].need: Input should be a valid list (got 3)",
        "demo.rules[0].need: Input should be a valid dictionary or instance of Need (got 3)",
    ]


@pytest.mark.parametrize(
    ("text", "expected", "spelled"),
    [("45s", timedelta(seconds=45), "45s"), ("90m", timedelta(minutes=90), "90m"),
     ("48h", timedelta(hours=48), "2d"), (" 14d ", timedelta(days=14), "2w"),
     ("2w", timedelta(weeks=2), "2w")],
)  # fmt: skip
def test_durations(text: str, expected: timedelta, spelled: str) -> None:
    assert parse_duration(text) == expected
    assert format_duration(expected) == spelled


@pytest.mark.parametrize("value", ["30 dayz", "30", 30, "-1d", None])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="is not a duration like 30d or 12h"):
        parse_duration(value)


def test_regexes() -> None:
    assert compile_regex("v\\d+").fullmatch("v12") and not compile_regex("v\\d+").fullmatch("v12x")
    with pytest.raises(ValueError, match=r"^\"\(\?<=a\)b\" is not a valid regular expression \(.+\); "):
        compile_regex("(?<=a)b")
    with pytest.raises(ValueError, match=r"^\[1\] is not a regular expression \(a string\)$"):
        compile_regex([1])
