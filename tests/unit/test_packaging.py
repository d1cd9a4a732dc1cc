"""Packaging: requirements.txt (what the Functions build installs) equals pyproject's
runtime dependencies, and .funcignore keeps dev-only trees out of the deployment."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_requirements_match_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    required = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert required == declared


def test_funcignore_excludes_dev_trees() -> None:
    ignored = set((ROOT / ".funcignore").read_text().split())
    assert {"sandbox/", "tests/", "bench/", "docs/"} <= ignored
