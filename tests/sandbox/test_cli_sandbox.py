"""`ops sandbox serve | state | push | events` as a user runs them, in subprocesses.

Cases: serve writes the env file when ready and then prints where ARM and the managed
identity listen (the env file's own endpoints), the env file's path and how to stop it;
state prints the estate format;
push through the CLI records an ImagePushed event that `ops sandbox events`
prints and that `ops invoke` can take as-is; serve stops cleanly on SIGTERM.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from sandbox.process import start_sandbox_process

ROOT = Path(__file__).resolve().parents[2]


def _ops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _readiness(log: Path, timeout: float = 30.0) -> list[str]:
    """The three lines serve prints once ready (just after it writes the env file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text(errors="replace").splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("sandbox ready:")), None)
        if start is not None and len(lines) >= start + 3:
            return lines[start : start + 3]
        time.sleep(0.05)
    raise AssertionError(f"no readiness lines in {log.read_text(errors='replace')[-2000:]}")


def test_serve_state_push_events(tmp_path: Path) -> None:
    server = start_sandbox_process(ROOT / "sandbox" / "estates" / "demo.yaml", tmp_path, timeout=60)
    env_file = server.env_path
    try:
        assert "IDENTITY_ENDPOINT=" in env_file.read_text()
        ready = _readiness(server.log_path)
        assert ready[0] == (
            f"sandbox ready: ARM at {server.env['OPS_ARM_ENDPOINT']}, "
            f"managed identity at {server.env['IDENTITY_ENDPOINT']}"
        )
        assert ready[1].startswith(f"env file: {env_file} (use it with: ops --env-file {env_file} ")
        assert ready[2] == "stop with Ctrl-C (the env file is removed)"

        state = _ops("--env-file", str(env_file), "sandbox", "state")
        assert state.returncode == 0, state.stderr
        registries = yaml.safe_load(state.stdout)["registries"]
        name = registries[0]["name"]

        pushed = _ops("--env-file", str(env_file), "sandbox", "push", name, "demo/cli:1.0")
        assert pushed.returncode == 0, pushed.stderr
        digest = json.loads(pushed.stdout)["digest"]
        assert digest.startswith("sha256:")

        listed = _ops("--env-file", str(env_file), "sandbox", "events")
        assert listed.returncode == 0, listed.stderr
        events = json.loads(listed.stdout)
        pushes = [e for e in events if e["data"]["target"].get("digest") == digest]
        assert len(pushes) == 1
        assert pushes[0]["eventType"] == "Microsoft.ContainerRegistry.ImagePushed"
        assert pushes[0]["data"]["target"]["repository"] == "demo/cli"
        assert pushes[0]["data"]["target"]["tag"] == "1.0"
    finally:
        assert server.stop() == 0  # SIGTERM: a clean stop
