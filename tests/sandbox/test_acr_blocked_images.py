"""What a sandbox registry does with a blocked image, as ACR does (sources in sandbox/acr/distribution.py
and docs/gate.md, "How ACR treats a blocked image").

Cases:
- ``readEnabled=false`` on the manifest: GET and HEAD by digest, and a pull by its tag, answer
  405 REGISTRY_DISALLOWED_OPERATION; so a signer that resolves the subject first (``push
  --subject``, as notation and oras do) cannot attach a signature;
- ``readEnabled=false`` on the tag only: the tag is refused, GET and HEAD by digest answer 200,
  and a signature pushed with the digest as subject is attached and listed;
- a referrer whose subject is locked or quarantined is accepted when pushed (201 with
  ``OCI-Subject``): the registry never reads the subject on a push;
- the referrers API of a locked subject: listed by default, refused with the subject's own
  405 when ``unreadableSubjectReferrers`` is ``refuse`` (unconfirmed in ACR: both are served);
  the setting is validated and shown by the control API;
- quarantine, per caller: a signer identity with AcrPush and AcrQuarantineReader reads the
  quarantined digest and attaches its signature; one with AcrPush only is refused (403
  IMAGE_QUARANTINED) and attaches nothing;
- other identities: the identity endpoint issues a token for another identity's client id,
  and refuses an unknown one; an estate's ``identities`` are built, dumped and checked;
- Defender's scanner: a quarantined image is never scanned; a read-locked manifest is not
  scanned unless ``defenderReadsLockedManifests``; a tag-locked image is scanned by digest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from sandbox.acr.client import registry_session
from sandbox.acr.media import MANIFEST_TYPES
from sandbox.acr.pushing import push_image, push_over_https
from sandbox.defender import scan_image
from sandbox.estate import dump_estate, load_estate
from sandbox.server import SandboxServer
from sandbox.world import Identity, RoleAssignment
from tests.support.sandbox import SUBSCRIPTION, control, minimal_estate

PLAIN = "contosotest"
QUARANTINING = "contosoquarantine"
NOTATION = "application/vnd.cncf.notary.signature"
ACR_SCOPE = "https://containerregistry.azure.net/.default"
READER = Identity(
    client_id="5e1a0000-0000-4000-8000-00000000c001",
    principal_id="5e1a0000-0000-4000-8000-00000000b001",
    roles=[
        RoleAssignment(f"/subscriptions/{SUBSCRIPTION}", "AcrPush"),
        RoleAssignment(f"/subscriptions/{SUBSCRIPTION}", "AcrQuarantineReader"),
    ],
)
PUSHER = Identity(
    client_id="5e1a0000-0000-4000-8000-00000000c002",
    principal_id="5e1a0000-0000-4000-8000-00000000b002",
    roles=[RoleAssignment(f"/subscriptions/{SUBSCRIPTION}", "AcrPush")],
)

ESTATE = minimal_estate()
ESTATE["registries"].append({"name": QUARANTINING, "resourceGroup": "rg-acr", "quarantineEnabled": True})


@pytest.fixture(scope="module")
def acr_estate() -> dict[str, Any]:
    return ESTATE


@pytest.fixture(autouse=True)
def signers(acr: SandboxServer) -> Iterator[None]:
    with acr.world.lock:
        acr.world.identities[:] = [READER, PUSHER]
    yield
    with acr.world.lock:
        acr.world.identities.clear()
    control(
        acr,
        "PATCH",
        "settings",
        {"unreadableSubjectReferrers": "list", "defenderReadsLockedManifests": False},
    )


def url(acr: SandboxServer, registry: str, path: str) -> str:
    return f"https://{acr.world.registries[registry].login_server}{path}"


def token_of(client_id: str | None) -> Any:
    credential = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    return lambda: credential.get_token(ACR_SCOPE).token


def session_of(acr: SandboxServer, client_id: str | None = None) -> requests.Session:
    return registry_session(token_of(client_id), verify=str(acr.tls.ca_cert))


def read(
    session: requests.Session, acr: SandboxServer, registry: str, repo: str, ref: str, method: str = "GET"
):
    return session.request(
        method,
        url(acr, registry, f"/v2/{repo}/manifests/{ref}"),
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )


def code_of(response: requests.Response) -> str:
    return str(response.json()["errors"][0]["code"])


def sign(acr: SandboxServer, registry: str, repo: str, subject: str, client_id: str | None = None) -> str:
    """A notation-style signature: resolve the subject by digest, then push the referrer by digest."""
    return push_over_https(
        f"https://{acr.world.registries[registry].login_server}",
        repo,
        None,
        aad_token=token_of(client_id),
        subject=subject,
        artifact_type=NOTATION,
        verify=str(acr.tls.ca_cert),
    )


def referrers(session: requests.Session, acr: SandboxServer, registry: str, repo: str, digest: str):
    return session.get(url(acr, registry, f"/v2/{repo}/referrers/{digest}"))


def lock(http: requests.Session, acr: SandboxServer, repo: str, path: str) -> None:
    response = http.patch(
        url(acr, PLAIN, f"/acr/v1/{repo.replace('/', '%2F')}/{path}"), json={"readEnabled": False}
    )
    assert response.status_code == 200, response.text


# Source: container-registry-image-lock.md ("Prevent read (pull) operations"); the FAQ's
# "disallowed operation" answer; the 405 REGISTRY_DISALLOWED_OPERATION body recorded in
# Azure/azure-sdk-for-net#22827; notation and oras resolve the subject before attaching.
def test_a_locked_manifest_refuses_every_read_and_so_signing(
    acr: SandboxServer, http: requests.Session
) -> None:
    digest = push_image(acr.world, PLAIN, "blocked/manifest", "v1")
    lock(http, acr, "blocked/manifest", f"_manifests/{digest}")

    answers = [
        read(http, acr, PLAIN, "blocked/manifest", digest),
        read(http, acr, PLAIN, "blocked/manifest", digest, "HEAD"),
        read(http, acr, PLAIN, "blocked/manifest", "v1"),
    ]
    with pytest.raises(RuntimeError, match=r"HEAD .*: 405"):
        sign(acr, PLAIN, "blocked/manifest", digest)

    assert [a.status_code for a in answers] == [405, 405, 405]
    assert code_of(answers[0]) == code_of(answers[2]) == "REGISTRY_DISALLOWED_OPERATION"
    assert referrers(http, acr, PLAIN, "blocked/manifest", digest).json()["manifests"] == []


# Source: container-registry-image-lock.md, "the changeable attributes of tags and manifest
# are managed separately".
def test_a_locked_tag_leaves_the_digest_readable_for_signers(
    acr: SandboxServer, http: requests.Session
) -> None:
    digest = push_image(acr.world, PLAIN, "blocked/tag", "v1")
    lock(http, acr, "blocked/tag", "_tags/v1")

    by_tag = read(http, acr, PLAIN, "blocked/tag", "v1")
    by_digest = read(http, acr, PLAIN, "blocked/tag", digest)
    head = read(http, acr, PLAIN, "blocked/tag", digest, "HEAD")
    signature = sign(acr, PLAIN, "blocked/tag", digest)
    listed = referrers(http, acr, PLAIN, "blocked/tag", digest).json()["manifests"]

    assert by_tag.status_code == 405 and code_of(by_tag) == "REGISTRY_DISALLOWED_OPERATION"
    assert by_digest.status_code == 200 and by_digest.headers["Docker-Content-Digest"] == digest
    assert head.status_code == 200
    assert [(m["digest"], m["artifactType"]) for m in listed] == [(signature, NOTATION)]


# Source: OCI distribution spec 1.1, Push: a registry MUST accept a manifest whose subject
# does not exist, so a push never reads (or is refused by) its subject.
def test_a_referrer_of_a_blocked_subject_is_accepted(acr: SandboxServer, http: requests.Session) -> None:
    locked = push_image(acr.world, PLAIN, "blocked/push", "v1")
    lock(http, acr, "blocked/push", f"_manifests/{locked}")
    quarantined = push_image(acr.world, QUARANTINING, "blocked/push", "v1")
    for registry, subject in ((PLAIN, locked), (QUARANTINING, quarantined)):
        # What a client pushes once it knows the subject's descriptor (pushed in-process: the
        # descriptor is read from the World, not from the locked registry).
        signature = push_image(
            acr.world, registry, "blocked/push", None, subject=subject, artifact_type=NOTATION
        )
        stored = acr.world.registries[registry].repositories["blocked/push"].manifests[signature]
        response = http.put(
            url(acr, registry, f"/v2/blocked/push/manifests/{signature}"),
            data=stored.content,
            headers={"Content-Type": stored.media_type},
        )

        assert response.status_code == 201, response.text
        assert response.headers["OCI-Subject"] == subject


# Source: none; ACR's documentation does not say. Both answers are emulated (docs/gate.md).
def test_referrers_of_a_locked_subject_follow_the_setting(acr: SandboxServer, http: requests.Session) -> None:
    digest = push_image(acr.world, PLAIN, "blocked/referrers", "v1")
    signature = sign(acr, PLAIN, "blocked/referrers", digest)
    lock(http, acr, "blocked/referrers", f"_manifests/{digest}")

    listed = referrers(http, acr, PLAIN, "blocked/referrers", digest)
    shown = control(acr, "PATCH", "settings", {"unreadableSubjectReferrers": "refuse"})
    refused = referrers(http, acr, PLAIN, "blocked/referrers", digest)
    with pytest.raises(Exception, match="400"):
        control(acr, "PATCH", "settings", {"unreadableSubjectReferrers": "maybe"})

    assert [m["digest"] for m in listed.json()["manifests"]] == [signature]
    assert shown["unreadableSubjectReferrers"] == "refuse"
    assert refused.status_code == 405 and code_of(refused) == "REGISTRY_DISALLOWED_OPERATION"


# Source: Azure/acr docs/preview/quarantine (tag not found, digest refused), Azure/acr#210
# (IMAGE_QUARANTINED), the built-in roles reference (AcrQuarantineReader: "List, read, and
# pull quarantined images").
def test_quarantine_readers_can_sign_and_others_cannot(acr: SandboxServer) -> None:
    digest = push_image(acr.world, QUARANTINING, "blocked/quarantine", "v1")
    reader, pusher = session_of(acr, READER.client_id), session_of(acr, PUSHER.client_id)

    as_reader = read(reader, acr, QUARANTINING, "blocked/quarantine", digest)
    as_pusher = read(pusher, acr, QUARANTINING, "blocked/quarantine", digest)
    signature = sign(acr, QUARANTINING, "blocked/quarantine", digest, READER.client_id)
    with pytest.raises(RuntimeError, match=r"HEAD .*: 403"):
        sign(acr, QUARANTINING, "blocked/quarantine", digest, PUSHER.client_id)
    control(acr, "PATCH", "settings", {"unreadableSubjectReferrers": "refuse"})
    listed_to_pusher = referrers(pusher, acr, QUARANTINING, "blocked/quarantine", digest)
    listed_to_reader = referrers(reader, acr, QUARANTINING, "blocked/quarantine", digest)

    assert as_reader.status_code == 200
    assert as_pusher.status_code == 403 and code_of(as_pusher) == "IMAGE_QUARANTINED"
    assert listed_to_pusher.status_code == 403
    assert [m["digest"] for m in listed_to_reader.json()["manifests"]] == [signature]


# Source: the App Service managed-identity protocol (client_id selects a user-assigned identity).
def test_other_identities_get_their_own_tokens(acr: SandboxServer) -> None:
    token = ManagedIdentityCredential(client_id=PUSHER.client_id).get_token(ACR_SCOPE).token
    unknown = ManagedIdentityCredential(client_id="00000000-0000-4000-8000-0000000000ff")

    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == PUSHER.principal_id
    with pytest.raises(Exception, match="No User Assigned"):
        unknown.get_token(ACR_SCOPE)


def test_estate_identities_are_built_dumped_and_checked() -> None:
    signer = {
        "clientId": READER.client_id,
        "principalId": READER.principal_id,
        "roles": [{"role": "AcrQuarantineReader", "scope": f"/subscriptions/{SUBSCRIPTION}"}],
    }
    world = load_estate(minimal_estate(identities=[signer]))
    dumped = dump_estate(world)["identities"]

    assert [(i.principal_id, [r.role for r in i.roles]) for i in world.identities] == [
        (READER.principal_id, ["AcrQuarantineReader"])
    ]
    assert dumped[0]["clientId"] == READER.client_id
    with pytest.raises(Exception, match=r"identities\[0\]"):
        load_estate(minimal_estate(identities=[{"clientId": READER.client_id}]))
    with pytest.raises(Exception, match=r"identities\[0\]\.roles\[0\]\.role"):
        load_estate(
            minimal_estate(identities=[{**signer, "roles": [{"role": "Nope", "scope": "/subscriptions/x"}]}])
        )


# Source: Azure/acr#499 (quarantined images are not scanned); agentless-vulnerability-
# assessment-azure.md (new images are pulled to be scanned); the read lock: unconfirmed, a setting.
def test_defender_scans_only_what_it_can_read(acr: SandboxServer, http: requests.Session) -> None:
    quarantined = push_image(acr.world, QUARANTINING, "blocked/scan", "v1")
    locked = push_image(acr.world, PLAIN, "blocked/scan", "locked")
    tagged = push_image(acr.world, PLAIN, "blocked/scan", "tagged")
    lock(http, acr, "blocked/scan", f"_manifests/{locked}")
    lock(http, acr, "blocked/scan", "_tags/tagged")

    not_quarantined = scan_image(acr.world, QUARANTINING, "blocked/scan", quarantined)
    not_locked = scan_image(acr.world, PLAIN, "blocked/scan", locked)
    tag_locked = scan_image(acr.world, PLAIN, "blocked/scan", tagged)
    control(acr, "PATCH", "settings", {"defenderReadsLockedManifests": True})
    locked_allowed = scan_image(acr.world, PLAIN, "blocked/scan", locked)
    rows = {f.digest for f in acr.world.findings if f.repository == "blocked/scan"}

    assert not_quarantined is not None and "Azure/acr#499" in not_quarantined
    assert not_locked is not None and "readEnabled=false" in not_locked
    assert tag_locked is None and locked_allowed is None
    assert rows == {tagged, locked}
