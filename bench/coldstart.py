"""Cold start: how long ``import function_app`` takes in a fresh process, against the SDKs.

The Functions host imports function_app on every cold start, so the heavy Azure
SDKs and kubernetes must be imported lazily, inside adapters. This prints
``RESULT import_ms=… all_sdk_ms=… ratio=…``: the median cold import of
function_app over fresh processes, the median cold import of every SDK module
the app uses (in one process), and their ratio. Goals: ratio ≤ 0.25, import_ms ≤ 150.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Every SDK module the app's adapters import.
SDK_MODULES = (
    "azure.identity",
    "azure.mgmt.containerregistry",
    "azure.mgmt.containerservice",
    "azure.containerregistry",
    "azure.mgmt.resourcegraph",
    "azure.monitor.query",
    "azure.eventgrid",
    "azure.data.tables",
    "azure.storage.queue",
    "azure.storage.blob",
    "kubernetes.client",
    "kubernetes.config",
)

_TIMER = "import time; t = time.perf_counter(); {imports}; print((time.perf_counter() - t) * 1000)"


def time_import(modules: tuple[str, ...]) -> float:
    """Milliseconds to import ``modules`` in a fresh interpreter (after a warm disk cache)."""
    code = _TIMER.format(imports="; ".join(f"import {m}" for m in modules))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def heavy_modules_loaded() -> list[str]:
    """SDK modules that ``import function_app`` drags in (should be none)."""
    code = "import sys, function_app; print(' '.join(m for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    return sorted(m for m in SDK_MODULES if m in loaded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (still ≥ 5)")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    time_import(("function_app",))  # warm the file cache and bytecode once
    app_ms = statistics.median(time_import(("function_app",)) for _ in range(runs))
    sdk_ms = statistics.median(time_import(SDK_MODULES) for _ in range(max(3, runs // 3)))
    leaked = heavy_modules_loaded()
    print(f"function_app cold import: median of {runs} = {app_ms:.1f} ms; SDKs: {sdk_ms:.1f} ms")
    if leaked:
        print(f"WARNING: function_app imports heavy SDKs at cold start: {', '.join(leaked)}")
    print(f"RESULT import_ms={app_ms:.1f} all_sdk_ms={sdk_ms:.1f} ratio={app_ms / sdk_ms:.3f}")


if __name__ == "__main__":
    main()
