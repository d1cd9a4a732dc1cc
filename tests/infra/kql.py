"""Checking KQL against what the app writes: tables, columns, record fields, metric names.

The workbook, the alert rules and docs/observability.md query three tables of a
workspace-based Application Insights: ``AppTraces`` (the structured records of
ops/telemetry/records.py, fields in ``Properties``), ``AppMetrics`` (the instruments of
ops/telemetry/fields.py, by ``Name``) and ``AppRequests`` (the host's invocations).
:func:`problems` lists everything a query uses that the app does not write.
"""

from __future__ import annotations

import re
from pathlib import Path

from ops.plan import Status
from ops.telemetry.fields import EVENTS, METRICS, RECORD_FIELDS

ROOT = Path(__file__).resolve().parents[2]

#: The columns of each table the queries may use (the Log Analytics schema of each table).
COLUMNS = {
    "AppTraces": {"TimeGenerated", "Message", "SeverityLevel", "Properties", "OperationId", "AppRoleName"},
    "AppMetrics": {"TimeGenerated", "Name", "Sum", "Min", "Max", "ItemCount", "Properties"},
    "AppRequests": {
        "TimeGenerated",
        "Name",
        "Success",
        "ResultCode",
        "DurationMs",
        "OperationName",
        "OperationId",
    },
}

#: Attributes of every metric point, which ``Properties`` of an AppMetrics row holds.
METRIC_ATTRIBUTES = frozenset(a for _, _, attributes in METRICS.values() for a in attributes)

#: The fields whose values a query may compare, and the values the app writes to them.
VALUES = {
    "ops_event": set(EVENTS),
    "status": {str(s) for s in Status} | {"recorded", "not_recorded"},
}


def action_kinds() -> set[str]:
    """Every string literal in ops/ that names an action kind (``verb_noun``)."""
    found: set[str] = set()
    for path in (ROOT / "ops").rglob("*.py"):
        found.update(re.findall(r'"([a-z]+(?:_[a-z]+)+)"', path.read_text()))
    return found


def _table(query: str) -> str:
    body = "\n".join(line for line in query.splitlines() if not line.strip().startswith("let "))
    match = re.match(r"\s*([A-Za-z]\w*)", body)
    return match.group(1) if match else ""


def problems(query: str) -> list[str]:
    """What ``query`` uses that the app does not write (empty when it all exists)."""
    table = _table(query)
    if table not in COLUMNS:
        return [f"table {table!r} is not one the app writes to ({sorted(COLUMNS)})"]
    found = []
    text = re.sub(r'"[^"]*"', '""', query)  # string literals are values, not names
    text = re.sub(r"\{\w+\}", "", text)  # workbook parameters
    for name in set(re.findall(r"\b[A-Z][A-Za-z]+\b", text)) - {table}:
        if name not in COLUMNS[table]:
            found.append(f"{table} has no column {name}")
    fields = set(re.findall(r"Properties\.(\w+)|Properties\[\"(\w+)\"\]", query))
    known = RECORD_FIELDS if table == "AppTraces" else METRIC_ATTRIBUTES
    for field in {a or b for a, b in fields}:
        if field not in known:
            found.append(f"{table} rows carry no field {field!r} in Properties")
    if table == "AppMetrics":
        for name in re.findall(r'Name (?:==|in) \(?("[^)]*)', query):
            for metric in re.findall(r'"([^"]+)"', name):
                if metric not in METRICS:
                    found.append(f"no metric named {metric!r}")
    kinds = action_kinds()
    for field, values in re.findall(r'Properties\.(\w+)\)? (?:==|in) \(?((?:"[^"]*"(?:, )?)+)', query):
        for value in re.findall(r'"([^"]*)"', values):
            allowed = VALUES.get(field, kinds if field == "action_kind" else None)
            if allowed is not None and value not in allowed:
                found.append(f"{field} is never {value!r}")
    return found


def kql_blocks(markdown: str) -> list[str]:
    """The fenced ``kql`` blocks of a Markdown page."""
    return re.findall(r"```kql\n(.*?)```", markdown, flags=re.S)
