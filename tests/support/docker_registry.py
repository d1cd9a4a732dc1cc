"""Run the reference registry (Debian's docker-registry, distribution 2.8) for conformance tests.

The sandbox's ``/v2`` is checked case by case against this real peer: same requests,
same expected answers, except where distribution 2.8 lacks a feature the sandbox
must have (the referrers API, paged tag lists), which the tests assert explicitly.
The registry runs with filesystem storage in a temporary directory, deletes
enabled, no auth, on a free 127.0.0.1 port. A missing binary is an error, never a
skip: .ci/run installs the ``docker-registry`` package.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import serve_on_free_ports

DOCKER_REGISTRY_BIN = Path("/usr/bin/docker-registry")

_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
"""


class DockerRegistryMissing(RuntimeError):
    """The docker-registry binary is not installed where the tests expect it."""


@dataclass(frozen=True, slots=True)
class DockerRegistry:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def run_docker_registry(location: Path, *, binary: Path = DOCKER_REGISTRY_BIN) -> Iterator[DockerRegistry]:
    """Start docker-registry with storage under ``location``; yield it once it listens; stop it."""
    if not binary.exists():
        raise DockerRegistryMissing(
            f"docker-registry is not installed at {binary}; install the Debian package "
            "`docker-registry` (apt-get install docker-registry), as .ci/run does"
        )

    def command(ports: list[int], attempt: int) -> list[str]:
        config = location / "config.yml"
        config.write_text(_CONFIG.format(root=location / f"data{attempt}", port=ports[0]))
        return [str(binary), "serve", str(config)]

    with serve_on_free_ports("docker-registry", location, ports=1, command=command) as (port,):
        yield DockerRegistry(port)
