"""skopeo against the sandbox's registry: estate images and pushed ones pull, copy and delete.

Cases:
- ``inspect`` of an estate image reports the digest ACR lists, and the os and
  architecture of its real config blob;
- ``copy`` of an estate image to a directory fetches every blob its manifest names,
  and each file's sha256 is its digest;
- ``copy`` from one repository to another pushes it (blob mounts and uploads), and
  the copy has the same digest;
- ``delete`` of the copy removes its manifest: a later inspect fails with
  MANIFEST_UNKNOWN, and the source is untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from tests.clients.conftest import NULL_USER, run, tool


@pytest.fixture()
def skopeo_env(sandbox: SandboxServer) -> dict[str, str]:
    return {**os.environ, "SSL_CERT_FILE": str(sandbox.tls.ca_cert)}


def skopeo(env: dict[str, str], token: str, *args: str, check: bool = True):  # type: ignore[no-untyped-def]
    creds = f"{NULL_USER}:{token}"
    command, rest = args[0], args[1:]
    flags = (
        ["--creds", creds]
        if command in ("inspect", "delete")
        else ["--src-creds", creds, "--dest-creds", creds]
    )
    return run(tool("skopeo"), command, *flags, *rest, check=check, env=env)


def test_inspect_estate_image(
    skopeo_env: dict[str, str], refresh_token: str, registry_host: str, sandbox: SandboxServer
) -> None:
    out = json.loads(
        skopeo(skopeo_env, refresh_token, "inspect", f"docker://{registry_host}/payments/api:v1").stdout
    )
    registry = sandbox.world.registries["contosoclients"]
    assert out["Digest"] == registry.repositories["payments/api"].tags["v1"].digest
    assert (out["Os"], out["Architecture"]) == ("linux", "amd64")
    assert "v2" in out["RepoTags"] and "latest" in out["RepoTags"]


def test_copy_estate_image_fetches_every_blob(
    skopeo_env: dict[str, str], refresh_token: str, registry_host: str, tmp_path: Path
) -> None:
    target = tmp_path / "image"
    skopeo(skopeo_env, refresh_token, "copy", f"docker://{registry_host}/payments/api:v2", f"dir:{target}")
    manifest = json.loads((target / "manifest.json").read_text())
    wanted = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    for digest in wanted:
        data = (target / digest.split(":", 1)[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest


def test_copy_between_repositories_then_delete(
    skopeo_env: dict[str, str], refresh_token: str, registry_host: str
) -> None:
    source, copy = f"docker://{registry_host}/payments/api:v1", f"docker://{registry_host}/mirror/api:v1"
    skopeo(skopeo_env, refresh_token, "copy", source, copy)
    original = json.loads(skopeo(skopeo_env, refresh_token, "inspect", source).stdout)["Digest"]
    copied = json.loads(skopeo(skopeo_env, refresh_token, "inspect", copy).stdout)["Digest"]
    assert copied == original
    skopeo(skopeo_env, refresh_token, "delete", copy)
    gone = skopeo(skopeo_env, refresh_token, "inspect", copy, check=False)
    assert gone.returncode != 0
    assert "manifest unknown" in gone.stderr.lower()
    assert json.loads(skopeo(skopeo_env, refresh_token, "inspect", source).stdout)["Digest"] == original
