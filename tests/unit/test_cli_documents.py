"""docs/schemas/cli/: the JSON Schemas of the commands' ``-o json`` documents.

Cases:
- every file is what ``python -m ops.commands.documents`` generates from the models now
  (``ops.policies.publish_schema``, the policies' generator), and no file is left over;
- each schema has its ``$id`` (``urn:acr-aks-ops:schema:cli-<name>``) and no generated
  field titles;
- every command with an ``-o`` option has a document, and every document named exists;
- a schema rejects a document without a field it requires (the error document without
  its exit code; a purge document without its summary's bytes), so the end-to-end
  validation of real output (tests/e2e/test_cli_contract.py) can fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import jsonschema
import pytest
import typer

from ops.cli import app
from ops.commands.documents import COMMAND_DOCUMENTS, SCHEMA_DIR, cli_schemas, schema_text, write_schemas

GENERATED = cli_schemas()


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_schema_files_are_generated_from_the_models(name: str) -> None:
    path = SCHEMA_DIR / f"{name}.schema.json"
    assert path.is_file(), "run: python -m ops.commands.documents"
    assert path.read_text() == schema_text(GENERATED[name]), "run: python -m ops.commands.documents"
    schema = json.loads(path.read_text())
    assert schema["$id"] == f"urn:acr-aks-ops:schema:cli-{name}"
    jsonschema.Draft202012Validator.check_schema(schema)
    for definition in schema.get("$defs", {}).values():
        assert not definition["title"].endswith("Model")
        for field in definition.get("properties", {}).values():
            assert "title" not in field


def test_no_schema_file_is_left_over(tmp_path: Path) -> None:
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json")) == sorted(
        f"{name}.schema.json" for name in GENERATED
    )
    (tmp_path / "gone.schema.json").write_text("{}")
    written = write_schemas(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def _commands_with_output() -> Iterator[str]:
    def walk(command: click.Command, path: list[str]) -> Iterator[str]:
        if any(param.name == "output" for param in command.params) and path:
            yield " ".join(path)
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def test_every_command_with_an_output_option_has_a_document() -> None:
    offered = set(_commands_with_output())
    assert offered, "no command found: the walk is broken"
    assert offered <= set(COMMAND_DOCUMENTS), f"no document for: {sorted(offered - set(COMMAND_DOCUMENTS))}"
    for name in COMMAND_DOCUMENTS.values():
        assert (SCHEMA_DIR / f"{name}.schema.json").is_file(), name


def test_a_schema_rejects_a_document_missing_what_it_requires() -> None:
    error = {"error": "purge.rules[0].keep: expected an integer", "kind": "invalid", "exitCode": 2}
    validator = jsonschema.Draft202012Validator(GENERATED["error"])
    assert validator.is_valid(error)
    assert not validator.is_valid({k: v for k, v in error.items() if k != "exitCode"})
    assert not validator.is_valid({**error, "exitCode": 0})
    purge = GENERATED["purge"]
    summary = purge["$defs"]["PurgeSummaryModel"]
    assert "bytes_reclaimed" in summary["required"]
    assert summary["properties"]["bytes_reclaimed"]["type"] == "integer"
