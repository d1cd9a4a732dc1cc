"""``ops demo`` end to end: the command a newcomer runs first, against the bundled estate.

Cases: it exits 0 with no failed step; it prints each step's timeline (health, estate,
gate, purge, schedule) and a summary in which every capability built so far reports what
it showed rather than "not built yet"; it ends with next steps whose commands are real
(the estate and example files they name exist, the commands are the CLI's) and fit 80
columns; it leaves the caller's environment as it found it
(it must never point later commands at its throwaway sandbox or state).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops import demo
from ops.cli import app

BUILT = ("gate", "purge", "schedule", "failover")


def test_ops_demo_runs_every_capability_and_restores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("OPS_", "AzureWebJobsStorage")):
            monkeypatch.delenv(name)
    for name in BUILT:
        monkeypatch.setitem(demo.CAPABILITIES, name, "not built yet")
    before = dict(os.environ)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "demo failed" not in result.output
    lines = result.output.splitlines()
    for step in ("health", "sandbox", *BUILT):
        assert any(line.split()[1:2] == [step] for line in lines if line.strip()), f"no {step} step"
    assert "summary" in result.output
    rows = {line.split("│")[1].strip(): line for line in lines if line.count("│") >= 3}
    for name in BUILT:
        assert demo.CAPABILITIES[name] != "not built yet"
        assert "not built yet" not in rows[name]
        assert demo.CAPABILITIES[name].split()[0] in rows[name]
    assert dict(os.environ) == before
    assert result.output.rstrip().endswith(demo.NEXT_STEPS.rstrip())
    root = Path(demo.__file__).resolve().parent.parent
    named = re.findall(r"(?:examples|sandbox/estates)/[\w.-]+\.yaml", demo.NEXT_STEPS)
    assert len(named) >= 4 and all((root / path).is_file() for path in named)
    commands = set(re.findall(r"\.venv/bin/ops (?:--env-file \S+ )?(\w+)", demo.NEXT_STEPS))
    assert commands == {"sandbox", "validate", "purge", "gate", "schedule"}
    assert max(len(line) for line in demo.NEXT_STEPS.splitlines()) <= 80
