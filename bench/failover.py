"""Failover benchmark: one impaired region, N stamps, alert to all paths moved, on the sandbox clock.

The sandbox runs in its own process with ARM throttling on and LROs that take
``LRO_SECONDS`` of sandbox time. eastus2 is impaired and one Service Health incident alert
(its stage Active) is handed to the failover service as the alert webhook would; the time
from the alert to every stamp's pointer, traffic and routing moved is measured on the
sandbox clock (``failover_s``). ARM writes are counted from the sandbox's request log and
compared with the writes the estate needs: one routing change per stamp and one traffic
change per Front Door origin group or Traffic Manager profile (``arm_writes_needed``).

Then the region flaps: healed and impaired again on alternate watch ticks, one minute of
sandbox time apart, with the incident resolved in between; a failback step taken while it
flaps is a false failback (``false_failbacks``, the goal is 0). Finally it heals for good,
and the watch fails every stamp back once the hysteresis is satisfied (``failback_ticks``).

The flaps last longer than the stable period, so without them failback would have
started. ``--quick`` runs 50 stamps (the issue's figure) and stops after the flaps; a full
run (200 stamps) also fails every stamp back. The last line is
``RESULT stamps=… failover_s=… arm_writes=… arm_writes_needed=… false_failbacks=…``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.failover.stamps import PRIMARY, failover_estate, failover_policy
from sandbox.process import start_sandbox_process

LRO_SECONDS = 0.5
HYSTERESIS = {"stableFor": "3m", "onlineChecks": 2, "maxFailoversPerDay": 2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 stamps, under a minute")
    parser.add_argument("--stamps", type=int, default=None)
    parser.add_argument(
        "--flaps", type=int, default=4, help="watch ticks, a minute apart, the region flaps for"
    )
    args = parser.parse_args(argv)
    stamps = args.stamps or (50 if args.quick else 200)
    failback = not args.quick  # the final failback takes minutes of probing; --quick stops after the flaps

    estate = failover_estate(stamps=stamps, lro_seconds=LRO_SECONDS, throttling=True)
    estate["failover"]["replicationWritesWhenHomeDown"] = "accept"
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        began = time.perf_counter()
        served = start_sandbox_process(estate, Path(tmp))
        print(f"sandbox with {stamps} stamps up in {time.perf_counter() - began:.1f} s")
        try:
            return run(served.env, stamps, args.flaps, Path(tmp), failback=failback)
        finally:
            served.stop()


def run(env: dict[str, str], stamps: int, flaps: int, tmp: Path, *, failback: bool) -> int:
    from sandbox.cli import call_control

    def control(method: str, path: str, body: Any = None) -> Any:
        return call_control(env, method, path, body, timeout=120)

    def sandbox_now() -> datetime:
        return datetime.fromisoformat(control("GET", "clock")["now"])

    policy = failover_policy(control("GET", "regions"), stamps=stamps, hysteresis=HYSTERESIS)
    os.environ.update(env)
    os.environ.pop("AzureWebJobsStorage", None)
    os.environ.update(
        {
            "OPS_DRY_RUN": "false",
            "OPS_STATE_PATH": str(tmp / "state.db"),
            "OPS_FAILOVER_POLICY": json.dumps(policy),
            "OPS_MAX_CONCURRENCY": "32",
        }
    )
    from ops.failover.machine import Signal
    from ops.plan import Action
    from ops.services import get_services

    service = get_services().failover_service()
    service.clock = sandbox_now

    def point_at_primary(stamp: Any) -> None:  # where CI pushes before the incident
        service.paths.set_pointer(
            Action("set_pointer", stamp.name, "setup", "appconfig",
                   {"store": stamp.pointer.store, "key": stamp.pointer.key, "label": stamp.pointer.label,
                    "value": stamp.pointer.endpoints[PRIMARY], "etag": None})
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(point_at_primary, service.policy.stamps))
    needed = stamps + sum(
        (s.traffic.front_door is not None) + (s.traffic.traffic_manager is not None)
        for s in service.policy.stamps
    )
    control("DELETE", "requests")

    control("POST", f"regions/{PRIMARY}", {"impaired": True})
    alert_at = sandbox_now()
    wall = time.perf_counter()
    result = service.handle_signals(
        [Signal(PRIMARY, "servicehealth:BENCH-1", True, alert_at, "bench incident")]
    )
    failover_s = (sandbox_now() - alert_at).total_seconds()
    wall_s = time.perf_counter() - wall
    phases = [s.phase for s in result.stamps]
    records = control("GET", "requests?service=arm")["requests"]
    arm_writes = sum(1 for r in records if r["method"] in ("PUT", "PATCH", "POST", "DELETE"))
    print(f"failover: {phases.count('failed-over')}/{stamps} stamps failed over in {failover_s:.1f} s "
          f"(sandbox clock; {wall_s:.1f} s wall), {arm_writes} ARM writes, {needed} needed")  # fmt: skip

    false_failbacks = 0
    at = sandbox_now()
    for n in range(flaps):
        impaired = n % 2 == 1
        control("POST", f"regions/{PRIMARY}", {"impaired": impaired})
        control("POST", "clock", {"advance": 60})
        at = sandbox_now()
        service.record_signals([Signal(PRIMARY, "servicehealth:BENCH-1", impaired, at, "flapping")])
        watched = service.watch()
        false_failbacks += sum(1 for s in watched.stamps if s.decision in ("failback-step", "failback"))
    print(f"flapping: {flaps} ticks, {false_failbacks} failback step(s) taken while the region flapped")

    if not failback:
        print(
            f"RESULT stamps={stamps} failover_s={failover_s:.1f} arm_writes={arm_writes} "
            f"arm_writes_needed={needed} false_failbacks={false_failbacks} failover_wall_s={wall_s:.1f}"
        )
        return 0 if phases.count("failed-over") == stamps else 1
    control("POST", f"regions/{PRIMARY}", {"impaired": False})
    service.handle_signals([Signal(PRIMARY, "servicehealth:BENCH-1", False, sandbox_now(), "resolved")])
    ticks = 0
    for ticks in range(1, 20):  # noqa: B007 - the count is reported
        control("POST", "clock", {"advance": 60})
        watched = service.watch()
        if all(s.phase == "normal" for s in watched.stamps):
            break
    normal = sum(1 for s in service.status() if s["phase"] == "normal")
    print(f"failback: {normal}/{stamps} stamps back to normal after {ticks} watch ticks one minute apart")
    print(
        f"RESULT stamps={stamps} failover_s={failover_s:.1f} arm_writes={arm_writes} "
        f"arm_writes_needed={needed} false_failbacks={false_failbacks} failback_ticks={ticks} "
        f"failover_wall_s={wall_s:.1f}"
    )
    return 0 if phases.count("failed-over") == stamps and normal == stamps else 1


if __name__ == "__main__":
    raise SystemExit(main())
