"""Purge policy loading and validation.

Cases: a full policy loads with its defaults; durations in every unit; bad input gets one
clear message per problem, naming the field path and the rule (invalid regex, invalid
duration, unknown keys at every level, a missing section, wrong types, a YAML syntax error);
a catastrophic regex is matched in linear time, and backtracking-only constructs are refused
at load time; the setting takes a file path or inline YAML; the published JSON Schema is the
one generated from the models.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ops.errors import ConfigError
from ops.policies import parse_duration
from ops.purge.policy import load_policy, policy_json_schema, read_policy_setting

ROOT = Path(__file__).resolve().parents[2]

FULL = """
purge:
  minAge: 2d
  maxDeletesPerRun: 500
  suspiciousRatio: 0.5
  inUse:
    allowUnreadable: ['aks-sandbox-.*']
  rules:
    - name: pr-builds
      registry: 'contoso.*'
      repository: 'team-a/.*'
      tags: 'pr-\\d+'
      olderThan: 30d
      untagged: true
      keep: 5
      keepTags: ['latest', 'v\\d+(\\.\\d+)*']
      unlock: true
      allowSuspicious: true
    - repository: scratch
      untagged: true
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_policy(text)
    return info.value.problems


def test_full_policy_loads() -> None:
    policy = load_policy(FULL)
    assert policy.min_age == timedelta(days=2)
    assert policy.max_deletes_per_run == 500
    assert policy.suspicious_ratio == 0.5
    assert policy.unreadable_allowed("aks-sandbox-1") and not policy.unreadable_allowed("aks-prod")
    first, second = policy.rules
    assert first.name == "pr-builds" and second.name == "rules[1]"
    assert first.older_than == timedelta(days=30) and second.older_than == timedelta(0)
    assert first.covers("contoso", "team-a/api") and not first.covers("contoso", "team-b/api")
    assert first.selects_tag("pr-12") and not first.selects_tag("pr-12-x")  # anchored
    assert first.keeps_tag("v1.2.3") is not None and first.keeps_tag("v1-rc") is None
    assert policy.rules_for("other", "scratch") == (second,)
    assert policy.document["purge"]["rules"][0]["olderThan"] == "30d"


def test_a_rule_that_selects_nothing_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"purge\.rules\[0\]: selects nothing"):
        load_policy("purge:\n  rules:\n    - repository: x\n      olderThan: 30d\n")


def test_defaults() -> None:
    policy = load_policy("purge:\n  rules:\n    - repository: x\n      keepTags: [keep]\n")
    assert policy.min_age == timedelta(days=1)
    assert policy.max_deletes_per_run is None
    assert policy.suspicious_ratio == 0.9
    assert policy.rules[0].tags is None and not policy.rules[0].untagged


@pytest.mark.parametrize(
    ("text", "expected"),
    [("45s", timedelta(seconds=45)), ("90m", timedelta(minutes=90)), ("12h", timedelta(hours=12)),
     ("30d", timedelta(days=30)), ("2w", timedelta(weeks=2)), (" 7d ", timedelta(days=7))],
)  # fmt: skip
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


BAD = [
    pytest.param(
        "purge:\n  rules:\n    - repository: a\n    - repository: b\n    - name: nightly\n"
        "      repository: c\n      olderThan: 30 dayz\n",
        'purge.rules[2].olderThan: "30 dayz" is not a duration like 30d or 12h (rule "nightly")',
        id="invalid-duration",
    ),
    pytest.param(
        "purge:\n  rules:\n    - repository: a\n      olderThan: 30\n",
        "purge.rules[0].olderThan: 30 is not a duration like 30d or 12h",
        id="duration-without-unit",
    ),
    pytest.param(
        "purge:\n  minAge: soon\n  rules:\n    - repository: a\n",
        'purge.minAge: "soon" is not a duration like 30d or 12h',
        id="invalid-min-age",
    ),
    pytest.param(
        "purge:\n  rules:\n    - repository: a\n    - name: web\n      repository: 'web-(\\d+'\n",
        'purge.rules[1].repository: "web-(\\d+" is not a valid regular expression (missing ): web-(\\d+)',
        id="invalid-regex",
    ),
    pytest.param(
        "purge:\n  rules:\n    - repository: a\n      keepTags: ['ok', '(x']\n",
        'purge.rules[0].keepTags[1]: "(x" is not a valid regular expression',
        id="invalid-keep-list-regex",
    ),
    pytest.param(
        "purge:\n  rules:\n    - repository: a\n      tags: '(a)\\1'\n",
        "purge.rules[0].tags: ",
        id="backreference-needs-backtracking",
    ),
    pytest.param(
        "purge:\n  rules:\n    - repository: a\n      tags: '(?=x)y'\n",
        "which has no lookarounds or backreferences",
        id="lookahead-needs-backtracking",
    ),
    pytest.param(
        "purge:\n  rules:\n    - repository: a\n      olderthan: 3d\n",
        "purge.rules[0].olderthan: unknown key (expected one of allowSuspicious, keep, keepTags, name, "
        "olderThan, registry, repository, tags, unlock, untagged)",
        id="unknown-rule-key",
    ),
    pytest.param(
        "purge:\n  maxDeletes: 3\n  rules:\n    - repository: a\n",
        "purge.maxDeletes: unknown key (expected one of inUse, maxDeletesPerRun, minAge, rules, "
        "suspiciousRatio)",
        id="unknown-section-key",
    ),
    pytest.param(
        "purge:\n  inUse:\n    allowUnreachable: [x]\n  rules:\n    - repository: a\n",
        "purge.inUse.allowUnreachable: unknown key (expected one of allowUnreadable)",
        id="unknown-nested-key",
    ),
    pytest.param(
        "prune:\n  rules: []\n",
        "prune: unknown key (expected one of purge)",
        id="unknown-root-key",
    ),
    pytest.param("purge:\n  minAge: 1d\n", "purge.rules: is required", id="missing-rules"),
    pytest.param(
        "purge:\n  rules:\n    - repository: a\n      keep: many\n",
        "purge.rules[0].keep: Input should be a valid integer",
        id="wrong-type",
    ),
    pytest.param(
        "purge:\n  suspiciousRatio: 1.5\n  rules:\n    - repository: a\n",
        "purge.suspiciousRatio: Input should be less than or equal to 1",
        id="ratio-out-of-range",
    ),
    pytest.param("purge:\n  rules: [\n", "policy: not valid YAML", id="yaml-syntax"),
    pytest.param("- purge\n", "policy: expected a mapping with a 'purge' key", id="not-a-mapping"),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_input_names_the_field_and_rule(text: str, expected: str) -> None:
    problems = problems_of(text)
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of("purge:\n  rules:\n    - repository: '('\n      olderThan: x\n      bogus: 1\n")
    assert sorted(p.split(":")[0] for p in problems) == [
        "purge.rules[0].bogus",
        "purge.rules[0].olderThan",
        "purge.rules[0].repository",
    ]


def test_catastrophic_regex_is_linear_time() -> None:
    policy = load_policy("purge:\n  rules:\n    - repository: a\n      tags: '(a+)+$'\n")
    started = time.perf_counter()
    assert not policy.rules[0].selects_tag("a" * 50_000 + "!")
    assert time.perf_counter() - started < 0.5


def test_huge_regex_is_refused_by_the_memory_bound() -> None:
    problems = problems_of("purge:\n  rules:\n    - repository: a\n      tags: '((a{100}){100}){100}'\n")
    assert problems[0].startswith("purge.rules[0].tags: ")


def test_setting_takes_a_path_or_inline_yaml(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(FULL)
    assert read_policy_setting(str(path)).rules[0].name == "pr-builds"
    assert read_policy_setting(FULL).rules[0].name == "pr-builds"
    assert (
        read_policy_setting("{purge: {rules: [{repository: x, untagged: true}]}}").rules[0].name == "rules[0]"
    )
    with pytest.raises(ConfigError, match=r"OPS_PURGE_POLICY: .*nowhere\.yaml is not a file"):
        read_policy_setting(str(tmp_path / "nowhere.yaml"))
    with pytest.raises(ConfigError, match="no purge policy"):
        read_policy_setting("  ")


def test_published_schema_is_generated_from_the_models() -> None:
    published = json.loads((ROOT / "docs" / "schemas" / "purge-policy.schema.json").read_text())
    assert published == policy_json_schema()
    rule = published["$defs"]["RuleModel"]
    assert rule["additionalProperties"] is False
    assert "olderThan" in rule["properties"]
