"""The gate's verdicts word for word: every check's name, result and message, which is what
a person reads in the audit record, the published event and ``ops gate show``.

Cases, each a whole verdict: a manifest not read yet; labels on an index; referrers not
listed, found (each type with its digest) and missing (all-of, naming what is missing);
a scan incomplete (naming each unscanned digest, or the image's), not reported, and not
required (with and without findings); the scan summary (CVEs counted once, Healthy rows
skipped wherever they fall, exempt rows counted, allowed CVEs counted); an image with
only exempt rows; a CVE's severity being its worst unhealthy row whatever their order;
an active and an expired exception; an unfixed CVE ignored; the deny list; denied
platform images; quarantine mode on a registry without quarantine; a moved immutable
tag; the settle timeout with onTimeout pass and deny. An override: active on a deny
(saying what the verdict would be), on a pass (saying nothing more), and not active
after its end or for another digest.
"""

# ruff: noqa: E501  (messages are compared whole)
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ops.gate.evidence import ManifestFacts, Referrer, Scan, TagConflict
from ops.gate.planner import Decision, Override, evaluate
from tests.unit.test_gate_planner import IMAGE, NOTATION, NOW, OTHER, evidence, finding, rule

COSIGN = "application/vnd.dev.cosign.artifact.sig.v1+json"
D2 = "sha256:" + "c" * 64


@pytest.mark.parametrize(
    ("fields", "given", "decision", "checks"),
    [
        pytest.param(
            dict(annotations={"team": ".*"}),
            dict(manifest=None),
            "pending",
            [
                ("manifest", "wait", "the manifest has not been read yet"),
                ("scan", "ok", "scanned: no vulnerabilities"),
            ],
            id="manifest-unread",
        ),
        pytest.param(
            dict(labels={"tier": "web"}),
            dict(manifest=ManifestFacts("application/vnd.oci.image.index.v1+json", 10)),
            "pass",
            [
                ("labels", "note", "an index has no config; its platform images carry labels"),
                ("scan", "ok", "scanned: no vulnerabilities"),
            ],
            id="index-labels",
        ),
        pytest.param(
            dict(signatures=["notation"]),
            dict(referrers=None),
            "pending",
            [
                ("signatures", "wait", "the referrers have not been listed yet"),
                ("scan", "ok", "scanned: no vulnerabilities"),
            ],
            id="referrers-unlisted",
        ),
        pytest.param(
            dict(signatures=["notation", "cosign"]),
            dict(referrers=(Referrer(OTHER, NOTATION), Referrer(D2, COSIGN))),
            "pass",
            [
                (
                    "signatures",
                    "ok",
                    f"found application/vnd.cncf.notary.signature ({OTHER}), application/vnd.dev.cosign.artifact.sig.v1+json ({D2})",
                ),
                ("scan", "ok", "scanned: no vulnerabilities"),
            ],
            id="referrers-found",
        ),
        pytest.param(
            dict(signatures={"allOf": ["notation", "cosign", "spdx"]}),
            dict(referrers=(Referrer(OTHER, COSIGN),), first_seen=NOW),
            "pending",
            [
                (
                    "signatures",
                    "wait",
                    "needs all of application/vnd.cncf.notary.signature, application/vnd.dev.cosign.artifact.sig.v1+json, application/spdx+json; missing application/vnd.cncf.notary.signature, application/spdx+json",
                ),
                ("scan", "ok", "scanned: no vulnerabilities"),
            ],
            id="referrers-missing",
        ),
        pytest.param(
            {},
            dict(scan=Scan(unscanned=(OTHER, D2)), first_seen=NOW),
            "pending",
            [
                ("scan", "wait", f"Defender has not reported on {OTHER}, {D2} yet"),
            ],
            id="scan-incomplete",
        ),
        pytest.param(
            {},
            dict(scan=None, first_seen=NOW),
            "pending",
            [
                ("scan", "wait", f"Defender has not reported on {IMAGE.digest} yet"),
            ],
            id="scan-none",
        ),
        pytest.param(
            dict(requireScan=False),
            dict(scan=None),
            "pass",
            [
                ("scan", "note", "not required by the rule, and not reported yet"),
            ],
            id="scan-not-required",
        ),
        pytest.param(
            dict(requireScan=False),
            dict(scan=Scan(findings=(finding("CVE-2024-2", "High"),), unscanned=(D2,))),
            "deny",
            [
                (
                    "cve",
                    "deny",
                    "CVE-2024-2 is High, above the maximum medium (High, pkg, fix: FixAvailable)",
                ),
            ],
            id="scan-not-required-incomplete-with-findings",
        ),
        pytest.param(
            {},
            dict(
                scan=Scan(
                    findings=(
                        finding("CVE-2024-0", "High", status="Healthy"),
                        finding("CVE-2024-1", "Low"),
                        finding("CVE-2024-2", "Medium"),
                        finding("CVE-2024-2", "Low"),
                        finding("CVE-2024-3", "High", status="NotApplicable"),
                        finding("CVE-2024-4", "High", status="NotApplicable"),
                        finding("CVE-2024-5", "High", status="Healthy"),
                    )
                )
            ),
            "pass",
            [
                ("scan", "ok", "scanned: 2 vulnerability(ies); 2 at or below medium; 2 exempted in Defender"),
            ],
            id="scan-summary",
        ),
        pytest.param(
            {},
            dict(scan=Scan(findings=(finding("CVE-2024-3", "High", status="NotApplicable"),))),
            "pass",
            [
                ("scan", "ok", "scanned: no vulnerabilities; 1 exempted in Defender"),
            ],
            id="scan-clean-exempt",
        ),
        pytest.param(
            dict(
                cveExceptions=[
                    {"cve": "CVE-2024-1111", "expires": "2026-12-31", "reason": "vendor patch due"}
                ]
            ),
            dict(scan=Scan(findings=(finding("CVE-2024-1111", "High"),))),
            "pass",
            [
                ("scan", "ok", "scanned: 1 vulnerability(ies)"),
                (
                    "exception",
                    "note",
                    "CVE-2024-1111 (High, pkg, fix: FixAvailable) allowed until 2027-01-01T00:00:00+00:00: vendor patch due",
                ),
            ],
            id="exception-active",
        ),
        pytest.param(
            dict(
                cveExceptions=[
                    {"cve": "CVE-2024-1111", "expires": "2026-11-01", "reason": "vendor patch due"}
                ]
            ),
            dict(scan=Scan(findings=(finding("CVE-2024-1111", "High"),))),
            "deny",
            [
                (
                    "cve",
                    "deny",
                    "CVE-2024-1111 is High, above the maximum medium (High, pkg, fix: FixAvailable); its exception expired at 2026-11-02T00:00:00+00:00",
                ),
            ],
            id="exception-expired",
        ),
        pytest.param(
            dict(ignoreUnfixed=True),
            dict(scan=Scan(findings=(finding("CVE-2024-7", "High", fix="WontFix"),))),
            "pass",
            [
                ("scan", "ok", "scanned: 1 vulnerability(ies)"),
                ("cve", "note", "CVE-2024-7 (High, pkg, fix: WontFix) ignored: no fix to install"),
            ],
            id="ignored-unfixed",
        ),
        pytest.param(
            dict(maxSeverity="critical", denyCves=["CVE-2024-3094"]),
            dict(scan=Scan(findings=(finding("CVE-2024-3094", "Low"),))),
            "deny",
            [
                ("cve", "deny", "CVE-2024-3094 is on the deny list (Low, pkg, fix: FixAvailable)"),
            ],
            id="deny-list",
        ),
        pytest.param(
            {},
            dict(scan=Scan(findings=(finding("CVE-2024-6", "Low"), finding("CVE-2024-6", "High")))),
            "deny",
            [
                (
                    "cve",
                    "deny",
                    "CVE-2024-6 is High, above the maximum medium (High, pkg, fix: FixAvailable)",
                ),
            ],
            id="mixed-rows",
        ),
        pytest.param(
            {},
            dict(denied_children=(OTHER, D2)),
            "deny",
            [
                ("platform", "deny", f"platform image {OTHER} was denied on its own"),
                ("platform", "deny", f"platform image {D2} was denied on its own"),
                ("scan", "ok", "scanned: no vulnerabilities"),
            ],
            id="children",
        ),
        pytest.param(
            dict(mode="quarantine", requireScan=False),
            dict(quarantine_enabled=False),
            "pass",
            [
                (
                    "mode",
                    "note",
                    "the registry's quarantine policy is disabled, so the image's tags are locked instead",
                ),
                ("scan", "ok", "scanned: no vulnerabilities"),
            ],
            id="quarantine-off",
        ),
        pytest.param(
            {},
            dict(conflicts=(TagConflict("v1", OTHER, "v*"),)),
            "deny",
            [
                (
                    "immutable-tag",
                    "deny",
                    f"tag v1 is immutable (pattern v*) and already named {OTHER}; the tag is put back on it",
                ),
                ("scan", "ok", "scanned: no vulnerabilities"),
            ],
            id="conflict",
        ),
        pytest.param(
            dict(onTimeout="pass", signatures=["notation"]),
            dict(first_seen=NOW - timedelta(hours=1), referrers=None, scan=None),
            "pass",
            [
                ("signatures", "wait", "the referrers have not been listed yet"),
                ("scan", "wait", f"Defender has not reported on {IMAGE.digest} yet"),
                (
                    "settle",
                    "note",
                    "settle timeout of 30m after the push passed at 2026-11-26T11:30:00+00:00 while waiting for signatures, scan; onTimeout is pass",
                ),
            ],
            id="timeout-pass",
        ),
        pytest.param(
            dict(signatures=["notation"]),
            dict(first_seen=NOW - timedelta(hours=1), referrers=None, scan=None),
            "deny",
            [
                ("signatures", "wait", "the referrers have not been listed yet"),
                ("scan", "wait", f"Defender has not reported on {IMAGE.digest} yet"),
                (
                    "settle",
                    "deny",
                    "settle timeout of 30m after the push passed at 2026-11-26T11:30:00+00:00 while waiting for signatures, scan; onTimeout is deny",
                ),
            ],
            id="timeout-deny",
        ),
    ],
)
def test_a_verdict_word_for_word(
    fields: dict[str, Any], given: dict[str, Any], decision: str, checks: list[tuple[str, str, str]]
) -> None:
    verdict = evaluate(evidence(**given), rule(**fields), now=NOW)
    assert [(c.name, str(c.result), c.message) for c in verdict.checks] == checks
    assert str(verdict.decision) == decision
    assert verdict.rule == "r"


def override(until: timedelta = timedelta(days=1)) -> Override:
    return Override(IMAGE.digest, "INC-7 hotfix", NOW + until, "alice@contoso.com", NOW)


def test_an_active_override_passes_a_deny_and_says_what_it_would_be() -> None:
    denied = evidence(conflicts=(TagConflict("v1", OTHER, "v*"),))
    verdict = evaluate(denied, rule(), now=NOW, override=override())
    assert verdict.decision is Decision.PASS
    assert (verdict.checks[-1].name, str(verdict.checks[-1].result), verdict.checks[-1].message) == (
        "override",
        "note",
        "allowed by alice@contoso.com until 2026-11-27T12:00:00+00:00 (would be deny): INC-7 hotfix",
    )
    assert [c.name for c in verdict.checks] == ["immutable-tag", "scan", "override"]


def test_an_override_on_a_pass_says_nothing_more() -> None:
    verdict = evaluate(evidence(), rule(), now=NOW, override=override())
    assert verdict.decision is Decision.PASS
    assert (
        verdict.checks[-1].message
        == "allowed by alice@contoso.com until 2026-11-27T12:00:00+00:00: INC-7 hotfix"
    )


@pytest.mark.parametrize(
    ("until", "digest"),
    [
        pytest.param(timedelta(0), IMAGE.digest, id="at-its-end"),
        pytest.param(timedelta(days=1), OTHER, id="another-digest"),
    ],
)
def test_an_inactive_override_changes_nothing(until: timedelta, digest: str) -> None:
    denied = evidence(image=IMAGE.with_digest(digest), conflicts=(TagConflict("v1", D2, "v*"),))
    verdict = evaluate(denied, rule(), now=NOW, override=override(until))
    assert verdict.decision is Decision.DENY
    assert "override" not in [c.name for c in verdict.checks]
