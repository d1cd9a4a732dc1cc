"""``ops validate``: every kind of file, problems with file, line, column and field path.

Cases:
- every file in examples/ is valid, with its kind detected, and names its schema with a
  ``yaml-language-server`` line whose schema file exists;
- the demo estate is valid (kind estate); a broken estate points at the bad field's line;
- a purge policy with a bad duration and an unknown key: each problem at its own line and
  column with its field path, the unknown key listing the keys expected there;
- a missing required key points at the mapping that lacks it;
- a problem only the capability's loader sees (a rule that selects nothing) is reported;
- YAML syntax errors carry the parser's line and column; a file of no known kind says so;
- exit code 0 when all files are valid, 2 when any is not; ``-o json`` gives a list of
  ``{file, kind, valid, problems: [{path, line, column, message}]}``;
- docs/schemas: every published schema has an ``$id`` and no generated field titles, and
  the schedule policy's schema is generated from its models like the others.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.validation import validate_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid_and_name_their_schema(path: Path) -> None:
    code, out = invoke("validate", str(path))
    assert code == 0, out
    kind = path.stem.removesuffix("-policy")
    assert out.strip() == f"{path}: ok ({kind})"
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema = (path.parent / first.split("=", 1)[1]).resolve()
    assert schema.is_file()
    assert json.loads(schema.read_text())["$id"].endswith(f"{kind}-policy")


def test_every_capability_has_an_example() -> None:
    assert {p.stem.removesuffix("-policy") for p in EXAMPLES} == {
        "gate",
        "purge",
        "schedule",
        "remediate",
        "failover",
    }


def test_demo_estate_is_valid() -> None:
    code, out = invoke("validate", str(ROOT / "sandbox" / "estates" / "demo.yaml"))
    assert code == 0, out
    assert out.strip().endswith("ok (estate)")


PURGE = """\
purge:
  rules:
    - name: nightly
      registry: contosoprod
      tags: '.*'
      olderThan: 30 dayz
      colour: blue
"""


def test_problems_carry_line_column_and_path(tmp_path: Path) -> None:
    policy = tmp_path / "purge.yaml"
    policy.write_text(PURGE)
    code, out = invoke("validate", str(policy))
    assert code == 2
    lines = out.strip().splitlines()
    assert any(
        line.startswith(f"{policy}:6:18: purge.rules[0].olderThan: ") and "30 dayz" in line for line in lines
    ), lines
    unknown = next(line for line in lines if "colour" in line)
    assert unknown.startswith(f"{policy}:7:15: purge.rules[0].colour: unknown key (expected one of ")
    assert "olderThan" in unknown


def test_json_output_lists_problems(tmp_path: Path) -> None:
    policy = tmp_path / "purge.yaml"
    policy.write_text(PURGE)
    good = ROOT / "examples" / "gate.yaml"
    code, out = invoke("-o", "json", "validate", str(policy), str(good))
    assert code == 2
    reports = json.loads(out)
    assert [r["valid"] for r in reports] == [False, True]
    assert reports[0]["kind"] == "purge"
    problem = next(p for p in reports[0]["problems"] if p["path"] == "purge.rules[0].olderThan")
    assert (problem["line"], problem["column"]) == (6, 18)
    assert set(problem) == {"path", "line", "column", "message"}


def test_missing_key_points_at_its_mapping() -> None:
    report = validate_text("failover:\n  stamps:\n    - name: pay\n")
    missing = [p for p in report.problems if p.message == "is required"]
    assert {p.path for p in missing} >= {"failover.stamps[0].regions", "failover.stamps[0].registry"}
    assert all((p.line, p.column) == (3, 7) for p in missing), report.problems


def test_loader_checks_are_reported() -> None:
    report = validate_text(
        "purge:\n  rules:\n    - name: r\n      registry: contosoprod\n      olderThan: 30d\n"
    )
    assert report.kind == "purge"
    assert not report.valid


def test_yaml_syntax_error_has_position() -> None:
    report = validate_text("purge:\n  rules: [\n    - a\n")
    assert report.kind is None
    [problem] = report.problems
    assert problem.message.startswith("not valid YAML")
    assert problem.line >= 3


def test_unknown_kind_is_refused() -> None:
    report = validate_text("colours: [red]\n")
    assert not report.valid
    assert "unknown kind of file" in report.problems[0].message


def test_broken_estate_points_at_the_field(tmp_path: Path) -> None:
    estate = tmp_path / "estate.yaml"
    estate.write_text(
        "subscriptions:\n"
        "  - id: 00000000-0000-4000-8000-000000000001\n"
        "    name: test\n"
        "    resourceGroups: [{name: rg, location: eastus2}]\n"
        "registries:\n"
        "  - name: reg\n"
        "    resourceGroup: rg\n"
        "    sku: Gold\n"
    )
    code, out = invoke("validate", str(estate))
    assert code == 2
    assert any(line.startswith(f"{estate}:8:") and "sku" in line for line in out.splitlines()), out


@pytest.mark.parametrize(
    "path", sorted((ROOT / "docs" / "schemas").glob("*.schema.json")), ids=lambda p: p.name
)
def test_published_schemas_have_ids_and_no_generated_titles(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["$id"] == f"urn:acr-aks-ops:schema:{path.name.removesuffix('.schema.json')}"
    for definition in schema.get("$defs", {}).values():
        assert not definition["title"].endswith("Model")
        for field in definition.get("properties", {}).values():
            assert "title" not in field


def test_schedule_schema_is_generated_from_the_models() -> None:
    from ops.schedule.policy import policy_json_schema

    published = json.loads((ROOT / "docs" / "schemas" / "schedule-policy.schema.json").read_text())
    assert published == policy_json_schema()


def test_estate_schema_is_generated_from_the_models() -> None:
    from ops.policies import publish_schema
    from sandbox.estate.models import EstateModel

    published = json.loads((ROOT / "docs" / "schemas" / "estate.schema.json").read_text())
    assert published == publish_schema(EstateModel, name="estate")


def test_schedule_policy_without_its_key() -> None:
    report = validate_text("defaults:\n  - selector: {environment: dev}\n    schedule: Mon-Fri 25:00-19:00\n")
    assert report.kind == "schedule"
    [problem] = report.problems
    assert problem.path.startswith("schedule.defaults[0]")
    assert problem.line == 3
