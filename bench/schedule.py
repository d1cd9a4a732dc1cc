"""Benchmark: the schedule engine over 1,000 clusters, against the sandbox.

An estate of 1,000 clusters in 10 subscriptions mixes every case the tick meets: dev
clusters stopped whole, staging clusters whose two user pools go to zero, protected
prod clusters, excluded, snoozed and already-stopped ones, clusters with an invalid
time zone, and clusters without a schedule; in Europe/Berlin and America/New_York,
some with a holiday calendar. An evening of ticks, then a morning of ticks, run against
the sandbox (real SDKs, real ARM throttling limits), advancing the sandbox clock
between ticks so that operations finish.

- ``eval_s``: one dry tick at 1,000 clusters, the plan an operator sees with
  ``ops schedule``: the paged Resource Graph query, the desired state of every cluster,
  and the re-read of the clusters the plan would change. Goal: at most 2 s.
- ``arm_writes``: ARM writes (POST, PUT, PATCH, DELETE) in the sandbox's request log
  over the evening and the morning, throttled attempts included.
- ``arm_writes_needed``: what the estate needs, counted from how it was generated
  (a stop and a start per dev cluster, a start per already-stopped cluster, two pool
  updates each way per staging cluster). Goal: equal to ``arm_writes``.

The full run adds the same evening a week later (a new window: new actions, new
idempotency keys); ``--quick`` stops after the morning, well within a minute.

Usage: ``python -m bench.schedule [--quick]``; the last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.process import start_sandbox_process

SUBSCRIPTIONS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 11)]
BERLIN = ZoneInfo("Europe/Berlin")
# Thursday evening and Friday afternoon: off-hours, then on-hours, in both zones.
EVENING = datetime(2026, 11, 26, 20, 5, tzinfo=BERLIN)  # 14:05 in New York
MORNING = datetime(2026, 11, 27, 15, 0, tzinfo=BERLIN)  # 09:00 in New York
LRO_SECONDS = 600
BERLIN_TAGS = {
    "ops-schedule": "Mon-Fri 07:30-19:00",
    "ops-timezone": "Europe/Berlin",
    "ops-holidays": "DE-BY",
}
NEW_YORK_TAGS = {"ops-schedule": "Mon-Fri 07:00-13:00", "ops-timezone": "America/New_York"}

#: (share of clusters out of 20, kind); kinds decide tags, state and the writes needed.
MIX = [
    (8, "dev"),  # cluster mode, running: stop in the evening, start in the morning
    (4, "staging"),  # node-pool mode, two user pools: 2 updates each way
    (2, "prod"),  # protected: never touched
    (1, "excluded"),
    (1, "snoozed"),  # snoozed past the evening tick, running as scheduled in the morning
    (1, "stopped"),  # cluster mode, already stopped: only the morning start
    (1, "invalid"),  # a bad time zone: reported, never touched
    (2, "untagged"),  # out of scope
]


@dataclass
class Expected:
    writes: int = 0  # the evening and the morning
    next_evening: int = 0  # the same evening a week later (the full run only)
    kinds: dict[str, int] = field(default_factory=dict)


def build_estate(count: int) -> tuple[dict[str, Any], Expected]:
    kinds = [kind for share, kind in MIX for _ in range(share)]
    expected = Expected()
    clusters = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        expected.kinds[kind] = expected.kinds.get(kind, 0) + 1
        zone_tags = BERLIN_TAGS if index % 3 else NEW_YORK_TAGS
        tags: dict[str, str] = {"environment": "dev"}
        pools: list[dict[str, Any]] = [{"name": "system", "mode": "System", "count": 1}]
        power = "Running"
        if kind in ("dev", "stopped", "excluded", "snoozed", "invalid"):
            tags.update(zone_tags)
            pools.append(
                {"name": "user", "count": 2, "enableAutoScaling": True, "minCount": 1, "maxCount": 4}
            )
        if kind == "dev":
            expected.writes += 2  # stop, start
            expected.next_evening += 1
        elif kind == "stopped":
            power = "Stopped"
            expected.writes += 1  # start
            expected.next_evening += 1  # running since the morning: stopped next week
        elif kind == "staging":
            tags = {"environment": "staging", "ops-schedule-mode": "nodepools", **zone_tags}
            pools.append(
                {"name": "apps", "count": 3, "enableAutoScaling": True, "minCount": 2, "maxCount": 6}
            )
            pools.append({"name": "batch", "count": 2})
            expected.writes += 4  # two pools down, two pools up
            expected.next_evening += 2
        elif kind == "prod":
            tags = {"environment": "prod", **zone_tags}
        elif kind == "excluded":
            tags["ops-exclude"] = "true"
        elif kind == "snoozed":
            tags["ops-snooze-until"] = (EVENING + timedelta(hours=3)).isoformat()
            expected.next_evening += 1  # the snooze has lapsed a week later
        elif kind == "invalid":
            tags["ops-timezone"] = "Europe/Atlantis"
        clusters.append(
            {
                "name": f"aks-{kind}-{index:04d}",
                "subscription": SUBSCRIPTIONS[index % len(SUBSCRIPTIONS)],
                "resourceGroup": "rg-aks",
                "tags": tags,
                "powerState": power,
                "agentPools": pools,
            }
        )
    estate = {
        "settings": {"lroSeconds": LRO_SECONDS, "throttling": True},
        "subscriptions": [
            {"id": sub, "name": f"sub-{n}", "resourceGroups": [{"name": "rg-aks", "location": "westeurope"}]}
            for n, sub in enumerate(SUBSCRIPTIONS)
        ],
        "clusters": clusters,
    }
    return estate, expected


class RemoteSandbox:
    """The sandbox in its own process, so that it and the app each get a core, as ARM and
    the app do in Azure; steered through its ``/_sandbox`` control endpoints."""

    def __init__(self, estate: dict[str, Any], workdir: Path) -> None:
        self.served = start_sandbox_process(estate, workdir)
        self.env = self.served.env

    def control(self, method: str, path: str, body: Any = None) -> Any:
        from sandbox.cli import call_control

        return call_control(self.env, method, path, body, timeout=60)

    def finish_operations(self) -> None:
        self.control("POST", "clock", {"advance": LRO_SECONDS + 1})

    def arm_writes(self) -> int:
        records = self.control("GET", "requests?service=arm")["requests"]
        return sum(1 for r in records if r["method"] in ("POST", "PUT", "PATCH", "DELETE"))

    def stop(self) -> None:
        self.served.stop()


def run_ticks(sandbox: RemoteSandbox, service: Any, start: datetime, *, limit: int = 8) -> list[str]:
    """Ticks five minutes apart until one has nothing to do; the sandbox clock moves past
    every operation between ticks."""
    lines = []
    for n in range(limit):
        began = time.perf_counter()
        result = service.tick(now=start + timedelta(minutes=5 * n))
        lines.append(f"  tick {n} ({time.perf_counter() - began:5.2f} s): {result.log_line()}")
        sandbox.finish_operations()
        if not result.outcomes and not any(c.settled for c in result.confirmations):
            break
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--clusters", type=int, default=1000)
    args = parser.parse_args(argv)

    estate, expected = build_estate(args.clusters)
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        began = time.perf_counter()
        sandbox = RemoteSandbox(estate, Path(tmp))
        up = time.perf_counter() - began
        print(f"sandbox with {args.clusters} clusters up in {up:.1f} s; mix {expected.kinds}")
        try:
            os.environ.update(sandbox.env)
            os.environ.pop("AzureWebJobsStorage", None)
            os.environ.update(
                {
                    "OPS_DRY_RUN": "false",
                    "OPS_STATE_PATH": str(Path(tmp) / "state.db"),
                    "OPS_MAX_ACTIONS_PER_RUN": str(10 * args.clusters),
                    "OPS_SCHEDULE_NOW": EVENING.isoformat(),
                }
            )
            from ops.services import get_services

            service = get_services().schedule_service()
            service.plan()  # warm up: clients, tokens, holiday tables
            began = time.perf_counter()
            report = service.plan()
            eval_s = time.perf_counter() - began
            print(f"eval: {len(report.rows)} clusters in scope, {len(report.plan.actions)} actions planned, "
                  f"{report.not_in_scope} out of scope, {eval_s:.2f} s")  # fmt: skip
            sandbox.control("DELETE", "requests")  # count only what the ticks write
            print("evening:")
            for line in run_ticks(sandbox, service, EVENING):
                print(line)
            print("morning:")
            for line in run_ticks(sandbox, service, MORNING):
                print(line)
            needed = expected.writes
            if not args.quick:  # next Thursday: the same evening is a new window, new actions
                print("next week's evening:")
                for line in run_ticks(sandbox, service, EVENING + timedelta(days=7)):
                    print(line)
                needed += expected.next_evening
            writes = sandbox.arm_writes()
        finally:
            sandbox.stop()
    figures = f"eval_s={eval_s:.3f} arm_writes={writes} arm_writes_needed={needed}"
    print(f"RESULT clusters={args.clusters} {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
