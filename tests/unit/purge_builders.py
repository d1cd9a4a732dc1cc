"""Builders for purge planner and service tests: manifests named by a word, ages in days.

Digests are derived from names, so a table can say ``deleted={"old"}`` and the
builder turns that into real-looking ``sha256:`` digests and back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from ops.plan import Plan
from ops.purge.images import ImageUse, InUseIndex, build_in_use
from ops.purge.inventory import INDEX_MEDIA_TYPES, Manifest, RepositoryState, Tag
from ops.purge.planner import DELETE, plan_purge
from ops.purge.policy import PurgePolicy, load_policy

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LOGIN = "reg.azurecr.io"
IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
OCI_IMAGE = "application/vnd.oci.image.manifest.v1+json"
INDEX = sorted(INDEX_MEDIA_TYPES)[0]

_NAMES: dict[str, str] = {}


def digest(name: str) -> str:
    value = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
    _NAMES[value] = name
    return value


def name_of(value: str) -> str:
    return _NAMES.get(value, value)


def manifest(
    name: str,
    *,
    age: float = 100,
    tags: Iterable[str] = (),
    children: Iterable[str] = (),
    subject: str | None = None,
    media_type: str | None = None,
    delete_enabled: bool = True,
    write_enabled: bool = True,
    size: int = 1000,
) -> Manifest:
    when = NOW - timedelta(days=age)
    kids = tuple(digest(c) for c in children)
    return Manifest(
        digest=digest(name),
        media_type=media_type or (INDEX if kids else OCI_IMAGE if subject else IMAGE),
        created=when,
        updated=when,
        size=size,
        tags=tuple(tags),
        delete_enabled=delete_enabled,
        write_enabled=write_enabled,
        children=kids,
        subject=digest(subject) if subject else None,
    )


def repository(
    *manifests: Manifest,
    name: str = "app",
    registry: str = "reg",
    locked_tags: Iterable[str] = (),
    tag_ages: Mapping[str, float] | None = None,
) -> RepositoryState:
    locked = set(locked_tags)
    tags = []
    for m in manifests:
        for tag in m.tags:
            updated = NOW - timedelta(days=tag_ages[tag]) if tag_ages and tag in tag_ages else m.updated
            tags.append(Tag(name=tag, digest=m.digest, updated=updated, delete_enabled=tag not in locked))
    return RepositoryState(
        registry=registry, login_server=LOGIN, repository=name, manifests=tuple(manifests), tags=tuple(tags)
    )


def in_use(*images: str, unreadable: Mapping[str, str] | None = None) -> InUseIndex:
    uses = [ImageUse(image=i, user=f"aks-prod/default/pod/p{n}") for n, i in enumerate(images)]
    return build_in_use(uses, hosts=[LOGIN], clusters=["aks-prod"], unreadable=unreadable)


def policy(rules: str, extra: str = "") -> PurgePolicy:
    return load_policy(f"purge:\n  minAge: 1d\n{extra}  rules:\n{rules}")


def plan(
    repos: Iterable[RepositoryState],
    rules: str,
    *,
    uses: InUseIndex | None = None,
    extra: str = "",
    max_deletes: int | None = None,
) -> Plan:
    return plan_purge(
        repos,
        policy=policy(rules, extra),
        in_use=uses or in_use(),
        now=NOW,
        run_id="run-1",
        max_deletes=max_deletes,
    )


def deleted(result: Plan) -> set[str]:
    return {name_of(a.params["digest"]) for a in result.actions if a.kind == DELETE}


def protected(result: Plan) -> dict[str, str]:
    return {name_of(g.detail["digest"]): g.detail["protection"] for g in result.protected}
