"""The fuzz suite's one sandbox, the app aimed at it, and how a delivery is judged.

One sandbox serves each fuzz module (starting one per example would dominate the run; one
per module keeps the app's settings from leaking into other tests):
a Premium registry with a replica, old and new images, a cluster running one of them,
and a registry-wide gate rule and purge rule, with ``OPS_DRY_RUN=false``, so that any
input that got past validation *could* act. State is SQLite in a temporary directory.

:func:`deliver` invokes a function as the Functions host would (``ops.triggers.invoking``)
and reports what happened: whether it raised, whether the input was rejected (the
trigger's ``rejected`` log line, or the invoker refusing a payload the host could never
deliver), and what changed in the sandbox: every registry request made meanwhile, and a
fingerprint of every manifest, tag and attribute before and after.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import function_app
from ops.errors import InvalidInput
from ops.triggers.invoking import invoke_function
from sandbox.server import SandboxServer
from tests.support.sandbox import SUBSCRIPTION, minimal_estate, running_sandbox, sandbox_env

REGISTRY = "contosotest"
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases on every run: CI stays reproducible
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,  # fixtures here set up once per test, on purpose
    ],
)

ESTATE = minimal_estate(
    registries=[
        {
            "name": REGISTRY,
            "resourceGroup": "rg-acr",
            "sku": "Premium",
            "replications": [{"location": "westeurope"}],
            "repositories": [
                {
                    "name": "payments/api",
                    "manifests": [
                        {"tags": ["v1"], "age": "40d"},
                        {"tags": ["ci-1"], "age": "40d"},
                        {"tags": ["ci-2"], "age": "40d"},
                        {"tags": ["v2", "latest"], "age": "2d"},
                    ],
                },
                {"name": "web/frontend", "manifests": [{"tags": ["ci-9"], "age": "50d"}]},
            ],
        }
    ]
)

SETTINGS = {
    "OPS_DRY_RUN": "false",
    "OPS_SUBSCRIPTIONS": SUBSCRIPTION,
    "OPS_GATE_POLICY": "gate:\n  rules:\n    - {name: all, registry: contosotest, requireScan: false,"
    " signatures: [notation]}\n",
    "OPS_PURGE_POLICY": "purge:\n  rules:\n    - {name: ci, repository: '.*', tags: 'ci-.*', olderThan: 1d,"
    " untagged: true, allowSuspicious: true}\n",
    "OPS_PURGE_SNAPSHOT_MAX_AGE": "1d",
    "OPS_LOG_LEVEL": "INFO",
}


@dataclass
class Delivery:
    """What one delivery did."""

    raised: BaseException | None = None
    rejected: bool = False
    refused_by_host: bool = False  # the invoker could not have delivered it: no function ran
    registry_requests: list[str] = field(default_factory=list)
    changed: bool = False
    results: list[Any] = field(default_factory=list)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass
class FuzzApp:
    server: SandboxServer
    lines: _Lines

    def fingerprint(self) -> tuple[Any, ...]:
        world = self.server.world
        with world.lock:
            return tuple(
                (
                    name,
                    repo_name,
                    repr(repo.attrs),
                    tuple((digest, repr(m.attrs)) for digest, m in sorted(repo.manifests.items())),
                    tuple((tag, t.digest, repr(t.attrs)) for tag, t in sorted(repo.tags.items())),
                )
                for name, registry in sorted(world.registries.items())
                for repo_name, repo in sorted(registry.repositories.items())
            )

    def deliver(self, function: str, payload: Any) -> Delivery:
        world = self.server.world
        before = self.fingerprint()
        with world.lock:
            world.requests.clear()
        self.lines.lines.clear()
        outcome = Delivery()
        try:
            outcome.results = invoke_function(function_app.app, function, payload).results
        except InvalidInput:
            outcome.refused_by_host = outcome.rejected = True
        except BaseException as exc:
            outcome.raised = exc
        prefix = f"{function} rejected"
        outcome.rejected = outcome.rejected or any(line.startswith(prefix) for line in self.lines.lines)
        with world.lock:
            outcome.registry_requests = [
                f"{r.method} {r.path}" for r in world.requests if r.service.startswith("acr:")
            ]
        outcome.changed = self.fingerprint() != before
        return outcome


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApp]:
    from ops.adapters import clients, identity, kube
    from ops.services import reset_services

    state = tmp_path_factory.mktemp("fuzz")
    lines = _Lines()
    triggers = logging.getLogger("ops.triggers")
    triggers.addHandler(lines)
    with running_sandbox(ESTATE, state) as server, pytest.MonkeyPatch.context() as monkeypatch:
        sandbox_env(server, monkeypatch)
        monkeypatch.delenv("AzureWebJobsStorage", raising=False)
        monkeypatch.setenv("OPS_STATE_PATH", str(state / "state.db"))
        for key, value in SETTINGS.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(identity, "_CREDENTIALS", {})
        monkeypatch.setattr(clients, "_CLIENTS", {})
        monkeypatch.setattr(kube, "_READERS", {})
        reset_services()
        try:
            yield FuzzApp(server, lines)
        finally:
            reset_services()
            triggers.removeHandler(lines)


def assert_judged(outcome: Delivery, what: object) -> None:
    """The suite's three properties for one delivery: nothing raised (bad input is rejected and
    acknowledged, and the sandbox has no outage); rejected input changed nothing and sent no
    request to any registry."""
    if outcome.raised is not None:
        raise AssertionError(f"raised {type(outcome.raised).__name__}: {outcome.raised} for {what!r:.300}")
    if outcome.rejected:
        assert outcome.registry_requests == [], (outcome.registry_requests, f"{what!r:.300}")
        assert not outcome.changed, f"rejected input changed the sandbox: {what!r:.300}"
