"""The gate policy: what it accepts, what it refuses and how it says so.

Cases:
- a policy using every field compiles: aliases become artifact types, lists become
  "any of", key lists become "present with any value", sizes and durations are parsed,
  an exception's date covers that whole UTC day;
- the first rule covering an image governs it; registry names match in lower case; an
  image no rule covers is not gated;
- refused, each with its field path and rule name: unknown keys, bad regexes, sizes,
  severities, artifact types, CVE ids, durations, a too-short reason, quarantine mode
  with a required scan (Azure/acr#499), a CVE both denied and excepted, an empty or
  double-form referrer requirement, YAML that is not a mapping;
- OPS_GATE_POLICY: empty means no gate, inline YAML, a file path, a missing file;
- docs/schemas/gate-policy.schema.json is generated from the models.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ops.errors import ConfigError
from ops.gate.policy import Mode, load_policy, policy_json_schema, read_policy_setting

ROOT = Path(__file__).resolve().parents[2]

FULL = """
gate:
  rules:
    - name: payments
      registry: 'contoso(prod|stage)'
      repository: 'payments/.*'
      mode: lock
      maxSeverity: HIGH
      denyCves: [cve-2024-3094]
      cveExceptions:
        - {cve: CVE-2024-1111, expires: 2026-12-31, reason: vendor patch due}
        - {cve: CVE-2024-2222, expires: '2026-06-01T12:00:00+02:00', reason: until the noon release}
      ignoreUnfixed: true
      signatures: [notation, cosign]
      sbom: {allOf: [spdx, application/vnd.cyclonedx+json]}
      annotations: [org.opencontainers.image.source]
      labels: {maintainer: '.+@contoso\\.com'}
      maxSize: 1.5GiB
      immutableTags: ['v\\d+\\.\\d+\\.\\d+']
      settleTimeout: 2h
      onTimeout: pass
      untagOnDeny: true
    - {name: rest, mode: audit}
"""


def test_every_field_compiles() -> None:
    rule = load_policy(FULL).rules[0]
    assert rule.mode is Mode.LOCK and rule.max_severity == "High"
    assert rule.deny_cves == frozenset({"CVE-2024-3094"})
    assert [w.until for w in rule.exceptions] == [
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2026, 6, 1, 10, 0, tzinfo=UTC),
    ]
    assert rule.signatures is not None and not rule.signatures.require_all
    assert rule.signatures.types == (
        "application/vnd.cncf.notary.signature",
        "application/vnd.dev.cosign.artifact.sig.v1+json",
    )
    assert rule.sbom is not None and rule.sbom.require_all
    assert rule.sbom.types == ("application/spdx+json", "application/vnd.cyclonedx+json")
    assert [(k, p.pattern) for k, p in rule.annotations] == [("org.opencontainers.image.source", ".*")]
    assert rule.labels[0][1].fullmatch("ops@contoso.com") and not rule.labels[0][1].fullmatch("x@y.org")
    assert rule.max_size == int(1.5 * 2**30)
    assert rule.immutable("v1.2.3") is not None and rule.immutable("latest") is None
    assert rule.settle_timeout.total_seconds() == 7200 and rule.on_timeout == "pass" and rule.untag_on_deny


@pytest.mark.parametrize(
    ("registry", "repository", "expected"),
    [
        ("contosoprod", "payments/api", "payments"),
        ("ContosoStage", "payments/api", "payments"),
        ("contosodev", "payments/api", "rest"),
        ("contosoprod", "web/app", "rest"),
    ],
)
def test_the_first_covering_rule_governs(registry: str, repository: str, expected: str) -> None:
    rule = load_policy(FULL).rule_for(registry, repository)
    assert rule is not None and rule.name == expected


def test_an_image_no_rule_covers_is_not_gated() -> None:
    policy = load_policy({"gate": {"rules": [{"repository": "only/this"}]}})
    assert policy.rule_for("any", "other/repo") is None


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"bogus": 1}, "gate.rules[0].bogus: unknown key"),
        ({"repository": "(a"}, 'gate.rules[0].repository: "(a" is not a valid regular expression'),
        ({"maxSize": "2 gigs"}, 'gate.rules[0].maxSize: "2 gigs" is not a size like 500MiB or 2GB'),
        ({"maxSeverity": "extreme"}, 'gate.rules[0].maxSeverity: "extreme" is not a severity'),
        (
            {"signatures": ["a signature"]},
            'gate.rules[0].signatures[0]: "a signature" is not an artifact type',
        ),
        ({"signatures": []}, "gate.rules[0].signatures: list at least one artifact type"),
        ({"sbom": {"anyOf": ["spdx"], "allOf": ["spdx"]}}, "gate.rules[0].sbom: give either anyOf or allOf"),
        ({"denyCves": ["xz-backdoor"]}, 'gate.rules[0].denyCves[0]: "xz-backdoor" is not a vulnerability id'),
        ({"settleTimeout": "30 minutes"}, 'gate.rules[0].settleTimeout: "30 minutes" is not a duration'),
        (
            {"cveExceptions": [{"cve": "CVE-2024-1", "expires": "2026-01-01", "reason": "no"}]},
            "gate.rules[0].cveExceptions[0].reason",
        ),
        (
            {"cveExceptions": [{"cve": "CVE-2024-1", "reason": "why not"}]},
            "cveExceptions[0].expires: is required",
        ),
        ({"mode": "quarantine"}, "Defender does not scan quarantined images (Azure/acr#499)"),
        (
            {
                "denyCves": ["CVE-2024-1"],
                "cveExceptions": [{"cve": "CVE-2024-1", "expires": "2030-01-01", "reason": "why not"}],
            },
            "CVE-2024-1 is both in denyCves and in cveExceptions",
        ),
        ({"onTimeout": "maybe"}, "gate.rules[0].onTimeout"),
    ],
)
def test_invalid_rules_are_refused_with_their_path(rule: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy({"gate": {"rules": [{"name": "r1", **rule}]}}, origin="policy.yaml")
    message = str(caught.value)
    assert problem in message and message.startswith("policy.yaml: ")
    assert '(rule "r1")' in message or "is required" in message


@pytest.mark.parametrize(
    "text", ["- just a list", "gate: {}", "gate: {rules: []}", "purge: {rules: [{}]}", "a: ["]
)
def test_documents_that_are_not_gate_policies(text: str) -> None:
    with pytest.raises(ConfigError):
        load_policy(text)


def test_the_setting_takes_inline_yaml_a_path_or_nothing(tmp_path: Path) -> None:
    assert read_policy_setting("") is None and read_policy_setting(None) is None
    assert read_policy_setting("gate: {rules: [{mode: audit}]}") is not None
    path = tmp_path / "gate.yaml"
    path.write_text(FULL)
    policy = read_policy_setting(str(path))
    assert policy is not None and [r.name for r in policy.rules] == ["payments", "rest"]
    with pytest.raises(ConfigError, match="is not a file"):
        read_policy_setting(str(tmp_path / "missing.yaml"))


def test_published_schema_is_generated_from_the_models() -> None:
    published = json.loads((ROOT / "docs" / "schemas" / "gate-policy.schema.json").read_text())
    assert published == policy_json_schema()
