"""Cold start stays light: importing function_app loads no Azure SDK, kubernetes, pydantic or
OpenTelemetry (telemetry is configured on the first invocation, and only when it is on).

(The timing itself is measured by ``python -m bench.coldstart``; this test guards
the cause.)
"""

import subprocess
import sys
from pathlib import Path

from bench.coldstart import SDK_MODULES

ROOT = Path(__file__).resolve().parents[2]


def test_function_app_imports_no_heavy_modules() -> None:
    code = "import sys, function_app; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    heavy = [
        m
        for m in (
            *SDK_MODULES,
            "kubernetes",
            "azure.core",
            "pydantic",
            "ops.config",
            "opentelemetry",
            "azure.monitor",
        )
        if m in loaded
    ]
    assert heavy == []
