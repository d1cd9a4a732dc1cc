"""``ops sandbox serve`` in a child process, as a user runs it, for benchmarks and CLI tests.

A benchmark wants the sandbox on its own core, as ARM is in Azure, and a CLI test wants
the command itself; both start ``ops sandbox serve``, wait for the env file it writes
once every endpoint accepts connections, read the endpoints from it, and stop it with
SIGTERM (on which it stops cleanly and removes the env file). The child's output goes
to ``sandbox.log`` in the work directory, not a pipe that could fill and block it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class SandboxProcess:
    """A running ``ops sandbox serve``: the child, and the env-file contract it wrote."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    env_path: Path
    log_path: Path

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code (killed, and a negative code, if it outlives ``timeout``)."""
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def start_sandbox_process(
    estate: dict[str, Any] | Path, workdir: Path, *, timeout: float = 120.0
) -> SandboxProcess:
    """Serve ``estate`` (a dict is written to ``workdir/estate.json``) from a child process and
    wait until it is ready; RuntimeError, with the end of its log, if it exits or ``timeout``
    passes first."""
    if isinstance(estate, dict):
        estate_path = workdir / "estate.json"
        estate_path.write_text(json.dumps(estate))
    else:
        estate_path = estate
    env_path = workdir / "sandbox.env"
    log_path = workdir / "sandbox.log"
    command = [sys.executable, "-m", "ops", "sandbox", "serve", "--estate", str(estate_path)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--env-file", str(env_path)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout
    while not env_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the sandbox did not start (exit code {process.returncode}): {tail}")
        time.sleep(0.1)
    from dotenv import dotenv_values

    env = {key: value for key, value in dotenv_values(env_path).items() if value is not None}
    return SandboxProcess(process, env, env_path, log_path)
