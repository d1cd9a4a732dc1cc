"""`ops sandbox serve | state | push | events` as a user runs them, in subprocesses.

Cases: serve writes the env file when ready; state prints the estate format;
push through the CLI records an ImagePushed event that `ops sandbox events`
prints and that `ops invoke` can take as-is; serve stops cleanly on SIGTERM.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml

from sandbox.process import start_sandbox_process

ROOT = Path(__file__).resolve().parents[2]


def _ops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_serve_state_push_events(tmp_path: Path) -> None:
    server = start_sandbox_process(ROOT / "sandbox" / "estates" / "demo.yaml", tmp_path, timeout=60)
    env_file = server.env_path
    try:
        assert "IDENTITY_ENDPOINT=" in env_file.read_text()

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
