"""The purge planner, as tables: observed repositories + policy + in-use → what is deleted and kept.

Cases, one row each:
- rules: tag regex and olderThan; a manifest with one unselected tag is kept whole; untagged
  manifests only with ``untagged: true``; the tag's own last update (a moved tag is young);
  rules with no ``olderThan``;
- protections: keep N (and ties at the boundary, all kept), the keep-list, minAge (also when a
  referrer is young), locks on manifests, tags and repositories (deleteEnabled and writeEnabled), ``unlock``
  turning a lock into an unlock action, in use by digest, by tag, by a deployment scaled to zero
  (a pod template), by a child of an index, an unreadable cluster (stops all deletes) unless
  allowed;
- multi-arch: a deleted index takes its children, a kept index keeps them (and says so), a
  child shared with a kept index stays, a tagged child stands on its own tags;
- referrers: deleted with their subject, kept with it (and said so), never untagged garbage on
  their own; cosign ``sha256-….sig`` tags are referrers; an orphaned referrer is ordinary;
- suspicious ratio, and ``allowSuspicious``; the maxDeletesPerRun cap, oldest first, whole
  groups only, a shared child counted only when it goes; ``deletes_wanted`` in cap units;
- plan shape: stages order parents before children and unlocks first, keys change with the
  run id, the plan's cap, notes for unreadable clusters;
- a stopped cluster's last-known in-use set: its images are protected as in use, and the
  reason says how long ago the cluster was last seen running (by tag, by digest, through a
  child), a running cluster's reason says nothing of the kind, the plan notes it, and a
  stopped cluster with no usable set still stops every delete;
- times the registry did not give: an undated manifest, tag, referrer or untagged manifest
  is protected as ``no timestamp from the registry``, even by a rule with no olderThan, and
  takes no ``keep`` slot from a dated one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from ops.plan import Plan
from ops.purge.images import ImageUse, InUseIndex, build_in_use
from ops.purge.inventory import Manifest, RepositoryState
from ops.purge.planner import DELETE, UNLOCK_MANIFEST, UNLOCK_TAG
from tests.unit.purge_builders import (
    LOGIN,
    NOW,
    deleted,
    digest,
    in_use,
    manifest,
    name_of,
    plan,
    protected,
    repository,
)

CI = "    - repository: app\n      tags: 'ci-.*'\n      olderThan: 30d\n"
UNTAGGED = "    - repository: app\n      untagged: true\n      olderThan: 7d\n"
EVERYTHING = "    - repository: app\n      tags: '.*'\n      untagged: true\n      olderThan: 30d\n"
ALLOW = "      allowSuspicious: true\n"

# Filler keeps repositories far from the suspicious ratio unless a row is about it.
FILLER = tuple(manifest(f"filler-{i}", tags=[f"filler-{i}"], age=1) for i in range(20))


def row(
    rid: str,
    manifests: list[Any],
    rules: str,
    *,
    deleted: set[str],
    protected: dict[str, str] | None = None,
    uses: Any = None,
    extra: str = "",
    locked_tags: tuple[str, ...] = (),
    tag_ages: dict[str, float] | None = None,
    max_deletes: int | None = None,
) -> Any:
    return pytest.param(
        manifests,
        rules,
        uses,
        extra,
        locked_tags,
        tag_ages,
        max_deletes,
        deleted,
        protected or {},
        id=rid,
    )


# fmt: off
ROWS = [
    # -- rules ------------------------------------------------------------------------
    row(
        "tag-regex-and-age",
        [manifest("old", tags=["ci-1"], age=40), manifest("young", tags=["ci-2"], age=10),
         manifest("release", tags=["v1"], age=400)],
        CI, deleted={"old"},
    ),
    row(
        "one-unselected-tag-keeps-the-manifest",
        [manifest("both", tags=["ci-1", "v1"], age=40)],
        CI, deleted=set(),
    ),
    row(
        "untagged-only-with-untagged-true",
        [manifest("u-old", age=10), manifest("u-new", age=3), manifest("t", tags=["x"], age=100)],
        UNTAGGED, deleted={"u-old"},
    ),
    row(
        "untagged-not-deleted-by-a-tag-rule",
        [manifest("u-old", age=100)],
        CI, deleted=set(),
    ),
    row(
        "a-moved-tag-is-young",
        [manifest("old", tags=["ci-1"], age=40)],
        CI, tag_ages={"ci-1": 2}, deleted=set(),
    ),
    row(
        "no-olderThan-means-any-age-above-minAge",
        [manifest("a", tags=["ci-1"], age=3), manifest("b", tags=["ci-2"], age=0.5)],
        "    - repository: app\n      tags: 'ci-.*'\n",
        deleted={"a"}, protected={"b": "min-age"},
    ),
    row(
        "rules-cover-repositories-by-regex",
        [manifest("old", tags=["ci-1"], age=40)],
        "    - repository: 'other|app2'\n      tags: '.*'\n",
        deleted=set(),
    ),
    # -- keep N, keep-list, minAge --------------------------------------------------------
    row(
        "keep-n-most-recent",
        [manifest(f"m{d}", tags=[f"ci-{d}"], age=d) for d in (40, 50, 60, 70)],
        CI.replace("olderThan: 30d", "olderThan: 30d\n      keep: 2"),
        deleted={"m60", "m70"}, protected={"m40": "keep", "m50": "keep"},
    ),
    row(
        "keep-n-ties-at-the-boundary-are-all-kept",
        [manifest("a", tags=["ci-a"], age=40), manifest("b", tags=["ci-b"], age=50),
         manifest("c", tags=["ci-c"], age=50), manifest("d", tags=["ci-d"], age=60)],
        CI.replace("olderThan: 30d", "olderThan: 30d\n      keep: 2"),
        deleted={"d"}, protected={"a": "keep", "b": "keep", "c": "keep"},
    ),
    row(
        "keep-n-counts-young-manifests-too",
        [manifest("new", tags=["ci-new"], age=1), manifest("old", tags=["ci-old"], age=60)],
        CI.replace("olderThan: 30d", "olderThan: 30d\n      keep: 1"),
        deleted={"old"},
    ),
    row(
        "keep-list",
        [manifest("rel", tags=["ci-release"], age=90), manifest("old", tags=["ci-1"], age=90)],
        CI + "      keepTags: ['ci-release', 'v.*']\n",
        deleted={"old"}, protected={"rel": "keep-list"},
    ),
    row(
        "keep-list-of-another-covering-rule-also-protects",
        [manifest("rel", tags=["ci-release"], age=90)],
        CI + "    - repository: app\n      keepTags: 'ci-release'\n",
        deleted=set(), protected={"rel": "keep-list"},
    ),
    row(
        "min-age-floor",
        [manifest("fresh", age=0.5), manifest("day-old", age=1.5)],
        "    - repository: app\n      untagged: true\n",
        extra="  minAge: 1d\n", deleted={"day-old"}, protected={"fresh": "min-age"},
    ),
    row(
        "min-age-of-a-young-referrer-protects-its-old-subject",
        [manifest("img", tags=["ci-1"], age=90), manifest("sig", subject="img", age=0.2)],
        CI, deleted=set(), protected={"img": "min-age"},
    ),
    # -- locks --------------------------------------------------------------------------
    row(
        "lock-delete-disabled",
        [manifest("locked", tags=["ci-1"], age=90, delete_enabled=False),
         manifest("free", tags=["ci-2"], age=90)],
        CI, deleted={"free"}, protected={"locked": "lock"},
    ),
    row(
        "lock-write-disabled",
        [manifest("locked", tags=["ci-1"], age=90, write_enabled=False)],
        CI, deleted=set(), protected={"locked": "lock"},
    ),
    row(
        "lock-on-a-tag",
        [manifest("m", tags=["ci-1"], age=90)],
        CI, locked_tags=("ci-1",), deleted=set(), protected={"m": "lock"},
    ),
    row(
        "lock-on-a-child-protects-the-index",
        [manifest("idx", tags=["ci-1"], age=90, children=["c1"]),
         manifest("c1", age=90, delete_enabled=False)],
        CI, deleted=set(), protected={"idx": "lock"},
    ),
    row(
        "unlock-opt-in-deletes",
        [manifest("locked", tags=["ci-1"], age=90, delete_enabled=False)],
        CI + "      unlock: true\n" + ALLOW, deleted={"locked"},
    ),
    # -- in use ---------------------------------------------------------------------------
    row(
        "in-use-by-digest",
        [manifest("run", tags=["ci-1"], age=90), manifest("idle", tags=["ci-2"], age=90)],
        CI, uses=in_use(f"{LOGIN}/app@{digest('run')}"), deleted={"idle"}, protected={"run": "in-use"},
    ),
    row(
        "in-use-by-tag",
        [manifest("run", tags=["ci-1"], age=90)],
        CI, uses=in_use(f"{LOGIN}/app:ci-1"), deleted=set(), protected={"run": "in-use"},
    ),
    row(
        "in-use-by-tag-and-digest-reference",
        [manifest("run", tags=["ci-1"], age=90)],
        CI, uses=in_use(f"{LOGIN}/app:ci-9@{digest('run')}"), deleted=set(), protected={"run": "in-use"},
    ),
    row(
        "in-use-by-a-child-digest-protects-the-index",
        [manifest("idx", tags=["ci-1"], age=90, children=["amd64"]), manifest("amd64", age=90)],
        CI, uses=in_use(f"docker-pullable://{LOGIN}/app@{digest('amd64')}"),
        deleted=set(), protected={"idx": "in-use"},
    ),
    row(
        "same-repository-name-in-another-registry-is-not-in-use",
        [manifest("m", tags=["ci-1"], age=90)],
        CI, uses=in_use("other.azurecr.io/app:ci-1", "app:ci-1"), deleted={"m"},
    ),
    row(
        "unreadable-cluster-stops-deletes",
        [manifest("m", tags=["ci-1"], age=90)],
        CI, uses=in_use(unreadable={"aks-dev": "connection refused"}),
        deleted=set(), protected={"m": "in-use-unknown"},
    ),
    row(
        "unreadable-cluster-allowed-by-policy",
        [manifest("m", tags=["ci-1"], age=90)],
        CI, uses=in_use(unreadable={"aks-dev": "connection refused"}),
        extra="  inUse:\n    allowUnreadable: ['aks-d.*']\n", deleted={"m"},
    ),
    # -- multi-arch -----------------------------------------------------------------------
    row(
        "deleted-index-takes-its-children",
        [manifest("idx", tags=["ci-1"], age=90, children=["c1", "c2"]), manifest("c1", age=90),
         manifest("c2", age=90)],
        CI, deleted={"idx", "c1", "c2"},
    ),
    row(
        "kept-index-keeps-its-children-from-untagged-purge",
        [manifest("idx", tags=["v1"], age=90, children=["c1", "c2"]), manifest("c1", age=90),
         manifest("c2", age=90), manifest("junk", age=90)],
        UNTAGGED, deleted={"junk"}, protected={"c1": "multi-arch", "c2": "multi-arch"},
    ),
    row(
        "child-shared-with-a-kept-index-stays",
        [manifest("old", tags=["ci-1"], age=90, children=["shared", "own"]),
         manifest("new", tags=["v2"], age=90, children=["shared"]),
         manifest("shared", age=90), manifest("own", age=90)],
        CI, deleted={"old", "own"},
    ),
    row(
        "tagged-child-stands-on-its-own-tags",
        [manifest("idx", tags=["ci-1"], age=90, children=["c1"]), manifest("c1", tags=["v1"], age=90)],
        CI, deleted={"idx"},
    ),
    row(
        "tagged-child-of-a-present-index-is-not-deleted-alone",
        [manifest("idx", tags=["v1"], age=90, children=["c1"]), manifest("c1", tags=["ci-1"], age=90)],
        CI, deleted=set(), protected={"c1": "multi-arch"},
    ),
    # -- referrers --------------------------------------------------------------------------
    row(
        "referrers-go-with-their-subject",
        [manifest("img", tags=["ci-1"], age=90), manifest("sig", subject="img", age=90),
         manifest("sbom", subject="img", age=90), manifest("sbom-sig", subject="sbom", age=90)],
        CI, deleted={"img", "sig", "sbom", "sbom-sig"},
    ),
    row(
        "referrers-of-a-kept-subject-are-not-untagged-garbage",
        [manifest("img", tags=["v1"], age=90), manifest("sig", subject="img", age=90)],
        UNTAGGED, deleted=set(), protected={"sig": "referrer"},
    ),
    row(
        "orphaned-referrer-is-ordinary-untagged",
        [manifest("sig", subject="gone", age=90)],
        UNTAGGED + ALLOW, deleted={"sig"},
    ),
    row(
        "cosign-signature-tag-is-a-referrer",
        [manifest("img", tags=["v1"], age=90),
         manifest("sig", tags=[f"sha256-{digest('img')[7:]}.sig"], age=90)],
        EVERYTHING + "      keepTags: 'v1'\n", deleted=set(), protected={"img": "keep-list"},
    ),
    row(
        "cosign-signature-goes-with-its-subject",
        [manifest("img", tags=["ci-1"], age=90),
         manifest("sig", tags=[f"sha256-{digest('img')[7:]}.sig"], age=90)],
        CI, deleted={"img", "sig"},
    ),
    row(
        "referrer-in-use-protects-the-group",
        [manifest("img", tags=["ci-1"], age=90), manifest("sig", subject="img", age=90)],
        CI, uses=in_use(f"{LOGIN}/app@{digest('sig')}"), deleted=set(), protected={"img": "in-use"},
    ),
]


@pytest.mark.parametrize(
    ("manifests", "rules", "uses", "extra", "locked_tags", "tag_ages", "max_deletes", "want_deleted",
     "want_protected"),
    ROWS,
)  # fmt: skip
def test_planner_table(
    manifests: list[Any],
    rules: str,
    uses: Any,
    extra: str,
    locked_tags: tuple[str, ...],
    tag_ages: dict[str, float] | None,
    max_deletes: int | None,
    want_deleted: set[str],
    want_protected: dict[str, str],
) -> None:
    repo = repository(*manifests, *FILLER, locked_tags=locked_tags, tag_ages=tag_ages)
    result = plan([repo], rules, uses=uses, extra=extra, max_deletes=max_deletes)
    assert deleted(result) == want_deleted
    assert protected(result) == want_protected


@pytest.mark.parametrize(
    ("rules", "want_deleted", "want_protected"),
    [
        pytest.param(CI, set(), {"a": "suspicious", "b": "suspicious", "c": "suspicious"}, id="skipped"),
        pytest.param(CI + ALLOW, {"a", "b", "c"}, {}, id="allowed"),
    ],
)
def test_suspicious_ratio(rules: str, want_deleted: set[str], want_protected: dict[str, str]) -> None:
    repo = repository(*(manifest(n, tags=[f"ci-{n}"], age=90) for n in "abc"))
    result = plan([repo], rules)
    assert deleted(result) == want_deleted
    assert protected(result) == want_protected


def test_suspicious_ratio_is_a_setting() -> None:
    repo = repository(*(manifest(n, tags=[f"ci-{n}"], age=90) for n in "abc"), manifest("keep", tags=["v"]))
    assert deleted(plan([repo], CI, extra="  suspiciousRatio: 0.75\n")) == {"a", "b", "c"}
    assert deleted(plan([repo], CI, extra="  suspiciousRatio: 0.5\n")) == set()


@pytest.mark.parametrize(
    ("budget", "want_deleted"),
    [
        pytest.param(None, {"m70", "m80", "m90", "idx", "c1", "c2"}, id="no-cap"),
        pytest.param(2, {"m80", "m90"}, id="oldest-first-whole-groups"),
        pytest.param(4, {"idx", "c1", "c2", "m90"}, id="group-fits"),
        pytest.param(0, set(), id="zero"),
    ],
)
def test_cap_deletes_oldest_first_and_whole_groups(budget: int | None, want_deleted: set[str]) -> None:
    repo = repository(
        manifest("m70", tags=["ci-70"], age=70),
        manifest("m80", tags=["ci-80"], age=80),
        manifest("m90", tags=["ci-90"], age=90),
        manifest("idx", tags=["ci-idx"], age=100, children=["c1", "c2"]),
        manifest("c1", age=100),
        manifest("c2", age=100),
        *FILLER,
    )
    result = plan([repo], CI, max_deletes=budget)
    assert deleted(result) == want_deleted
    capped = {n for n, why in protected(result).items() if why == "cap"}
    assert capped == {"m70", "m80", "m90", "idx"} - want_deleted
    if budget is not None:
        assert sum(1 for a in result.actions if a.kind == DELETE) <= budget
        assert not result.over_cap


def test_cap_applies_across_repositories_oldest_first() -> None:
    one = repository(manifest("a60", tags=["ci-a"], age=60), *FILLER, name="app")
    two = repository(manifest("b90", tags=["ci-b"], age=90), *FILLER, name="app2")
    rules = "    - repository: 'app|app2'\n      tags: 'ci-.*'\n      olderThan: 30d\n"
    result = plan([one, two], rules, max_deletes=1)
    assert deleted(result) == {"b90"}


def test_stages_order_unlocks_then_parents_then_dependents() -> None:
    repo = repository(
        manifest("idx", tags=["ci-1"], age=90, children=["c1"], delete_enabled=False),
        manifest("c1", age=90),
        manifest("sig", subject="c1", age=90),
        *FILLER,
        locked_tags=("ci-1",),
    )
    result = plan([repo], CI + "      unlock: true\n")
    order = [(a.kind, name_of(a.params.get("digest", "")), a.params["stage"]) for a in result.actions]
    assert order == [
        (UNLOCK_MANIFEST, "idx", 0),
        (UNLOCK_TAG, "idx", 0),
        (DELETE, "idx", 1),
        (DELETE, "c1", 2),
        (DELETE, "sig", 3),
    ]
    child = next(a for a in result.actions if a.kind == DELETE and name_of(a.params["digest"]) == "c1")
    assert child.params["parent"] == digest("idx")
    assert "child of deleted index" in child.reason
    assert all(a.missing_ok for a in result.actions)
    assert all(a.service == "acr:reg" for a in result.actions)


def test_action_json_names_registry_repository_digest_tags_and_reason() -> None:
    repo = repository(manifest("old", tags=["ci-1", "ci-2"], age=40), *FILLER)
    action = plan([repo], CI).actions[0]
    assert action.params["registry"] == "reg"
    assert action.params["repository"] == "app"
    assert action.params["digest"] == digest("old")
    assert action.params["tags"] == ["ci-1", "ci-2"]
    assert action.reason == "delete: tags ci-1, ci-2 older than 30d (rule rules[0])"


def test_keys_are_stable_within_a_run_and_differ_between_runs() -> None:
    from ops.purge.planner import plan_purge
    from tests.unit.purge_builders import NOW, policy

    repo = repository(manifest("old", tags=["ci-1"], age=40), *FILLER)
    args: dict[str, Any] = {"policy": policy(CI), "in_use": in_use(), "now": NOW}
    first = plan_purge([repo], run_id="r1", **args).actions[0].key
    again = plan_purge([repo], run_id="r1", **args).actions[0].key
    other = plan_purge([repo], run_id="r2", **args).actions[0].key
    assert first == again != other


def test_protected_guard_lists_every_reason_and_the_selecting_rule() -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=90, delete_enabled=False), *FILLER)
    result = plan([repo], CI, uses=in_use(f"{LOGIN}/app:ci-1"))
    guard = result.protected[0]
    assert guard.reason.startswith("protected: in use by aks-prod/default/pod/p0")
    reasons = guard.detail["reasons"]
    assert reasons[0] == "in use by aks-prod/default/pod/p0 (tag ci-1)"
    assert reasons[1].startswith("lock: ")
    assert guard.detail["rules"] == ("rules[0]",)


def test_unreadable_cluster_is_a_plan_note() -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=90), *FILLER)
    result = plan([repo], CI, uses=in_use(unreadable={"aks-dev": "timed out"}))
    assert result.actions == ()
    assert any("aks-dev could not be read (timed out)" in note for note in result.notes)


def test_plan_cap_counts_deletes_and_unlocks() -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=90, delete_enabled=False), *FILLER)
    result = plan([repo], CI + "      unlock: true\n", max_deletes=1)
    assert [a.kind for a in result.actions] == [UNLOCK_MANIFEST, DELETE]
    assert result.cap == 2 and not result.over_cap


def test_locked_repository_protects_everything_in_it() -> None:
    from dataclasses import replace

    repo = replace(repository(manifest("m", tags=["ci-1"], age=90), *FILLER), write_enabled=False)
    result = plan([repo], CI + "      unlock: true\n")
    assert deleted(result) == set()
    assert protected(result) == {"m": "lock"}
    assert "repository app writeEnabled=false" in result.protected[0].reason


def test_cap_counts_a_shared_child_only_when_it_goes() -> None:
    kept_sharing = repository(
        manifest("old", tags=["ci-1"], age=90, children=["shared", "own"]),
        manifest("new", tags=["v2"], age=90, children=["shared"]),
        manifest("shared", age=90),
        manifest("own", age=90),
        *FILLER,
    )
    assert deleted(plan([kept_sharing], CI, max_deletes=2)) == {"old", "own"}

    both_go = repository(
        manifest("a", tags=["ci-a"], age=90, children=["s", "a1"]),
        manifest("b", tags=["ci-b"], age=91, children=["s", "b1"]),
        manifest("s", age=90),
        manifest("a1", age=90),
        manifest("b1", age=90),
        *FILLER,
    )
    assert deleted(plan([both_go], CI, max_deletes=4)) == {"a", "a1", "b", "b1"}  # s waits: no budget left
    assert deleted(plan([both_go], CI, max_deletes=5)) == {"a", "a1", "b", "b1", "s"}
    assert deleted(plan([both_go], CI, max_deletes=3)) == {"b", "b1"}  # oldest group first


def test_deletes_wanted_is_the_uncapped_plan_in_cap_units() -> None:
    from ops.purge.planner import deletes_wanted
    from tests.unit.purge_builders import NOW, policy

    repo = repository(
        manifest("old", tags=["ci-1"], age=90, children=["shared", "own"]),
        manifest("new", tags=["v2"], age=90, children=["shared"]),
        manifest("shared", age=90),
        manifest("own", age=90),
        manifest("img", tags=["ci-2"], age=90),
        manifest("sig", subject="img", age=90),
        *FILLER,
    )
    wanted = deletes_wanted([repo], policy=policy(CI), in_use=in_use(), now=NOW)
    assert wanted == 4
    uncapped = deleted(plan([repo], CI))
    assert deleted(plan([repo], CI, max_deletes=wanted)) == uncapped == {"old", "own", "img", "sig"}


# -- stopped clusters: their last-known in-use set ------------------------------------------


def seen_in(cluster: str, ago: timedelta | None, *images: str) -> InUseIndex:
    """Images used in ``cluster``; with ``ago``, the cluster is stopped and this is its
    last-known set, read ``ago`` before NOW."""
    uses = [ImageUse(image, f"{cluster}/shop/deployment/d{n}") for n, image in enumerate(images)]
    index = build_in_use(uses, hosts=[LOGIN], clusters=["aks-prod", cluster])
    if ago is not None:
        index.last_seen[cluster] = NOW - ago
    return index


def reasons(result: Plan) -> dict[str, str]:
    return {name_of(g.detail["digest"]): g.reason for g in result.protected}


STOPPED = " (last seen running {} ago; cluster stopped)"

# fmt: off
STOPPED_ROWS = [
    pytest.param(
        [manifest("used", tags=["ci-1"], age=90), manifest("old", tags=["ci-2"], age=90)],
        seen_in("aks-dev", timedelta(hours=9), f"{LOGIN}/app:ci-1"),
        {"old"},
        {"used": "protected: in use by aks-dev/shop/deployment/d0 (tag ci-1)" + STOPPED.format("9h")},
        id="stopped-by-tag",
    ),
    pytest.param(
        [manifest("used", tags=["ci-1"], age=90)],
        seen_in("aks-dev", timedelta(days=3), f"{LOGIN}/app@{digest('used')}"),
        set(),
        {"used": "protected: in use by aks-dev/shop/deployment/d0" + STOPPED.format("3d")},
        id="stopped-by-digest",
    ),
    pytest.param(
        [manifest("idx", tags=["ci-1"], age=90, children=["c1"]), manifest("c1", age=90)],
        seen_in("aks-dev", timedelta(minutes=40), f"{LOGIN}/app@{digest('c1')}"),
        set(),
        {"idx": "protected: in use by aks-dev/shop/deployment/d0 (child sha256:"
                + digest("c1")[7:19] + ")" + STOPPED.format("40m")},
        id="stopped-through-a-child",
    ),
    pytest.param(
        [manifest("used", tags=["ci-1"], age=90)],
        seen_in("aks-dev", None, f"{LOGIN}/app:ci-1"),
        set(),
        {"used": "protected: in use by aks-dev/shop/deployment/d0 (tag ci-1)"},
        id="running-says-nothing-of-it",
    ),
    pytest.param(
        [manifest("used", tags=["ci-1"], age=90), manifest("old", tags=["ci-2"], age=90)],
        in_use(unreadable={"aks-dev": "the cluster is stopped, so its API server does not answer, and "
                                      "no in-use set of it was ever recorded"}),
        set(),
        {"used": "protected: in use unknown: cluster(s) aks-dev could not be read",
         "old": "protected: in use unknown: cluster(s) aks-dev could not be read"},
        id="stopped-without-a-set-stops-everything",
    ),
]
# fmt: on


@pytest.mark.parametrize(("manifests", "uses", "want_deleted", "want_reasons"), STOPPED_ROWS)
def test_stopped_cluster_table(
    manifests: list[Manifest], uses: InUseIndex, want_deleted: set[str], want_reasons: dict[str, str]
) -> None:
    result = plan([repository(*manifests, *FILLER)], CI, uses=uses)
    assert deleted(result) == want_deleted
    assert reasons(result) == want_reasons


def test_stopped_cluster_is_a_plan_note() -> None:
    result = plan([repository(*FILLER)], CI, uses=seen_in("aks-dev", timedelta(hours=9)))
    assert result.notes == (
        "cluster aks-dev is stopped: its in-use set as last seen running 9h ago stands in for it",
    )


# -- undated manifests and tags -------------------------------------------------------------


def undated(m: Manifest) -> Manifest:
    return replace(m, created=None, updated=None)


def with_undated_tag(repo: RepositoryState, tag: str) -> RepositoryState:
    return replace(repo, tags=tuple(replace(t, updated=None) if t.name == tag else t for t in repo.tags))


NO_TIME = "protected: no timestamp from the registry"
ANY_AGE = "    - repository: app\n      tags: 'ci-.*'\n      untagged: true\n"

# fmt: off
UNDATED_ROWS = [
    pytest.param([undated(manifest("u", tags=["ci-1"]))], CI, None, set(), {"u": NO_TIME},
                 id="undated-manifest"),
    pytest.param([manifest("m", tags=["ci-1"], age=90)], CI, "ci-1", set(), {"m": NO_TIME}, id="undated-tag"),
    pytest.param([undated(manifest("u"))], UNTAGGED, None, set(), {"u": NO_TIME}, id="undated-untagged"),
    pytest.param([undated(manifest("u", tags=["ci-1"])), manifest("m", tags=["ci-2"], age=90)], ANY_AGE, None,
                 {"m"}, {"u": NO_TIME}, id="no-olderThan-still-keeps-it"),
    pytest.param([manifest("img", tags=["ci-1"], age=90), undated(manifest("sig", subject="img"))], CI, None,
                 set(), {"img": NO_TIME + " (referrer sha256:" + digest("sig")[7:19] + ")"},
                 id="undated-referrer-keeps-its-subject"),
]
# fmt: on


@pytest.mark.parametrize(("manifests", "rules", "undated_tag", "want_deleted", "want_reasons"), UNDATED_ROWS)
def test_undated_table(
    manifests: list[Manifest],
    rules: str,
    undated_tag: str | None,
    want_deleted: set[str],
    want_reasons: dict[str, str],
) -> None:
    repo = repository(*manifests, *FILLER)
    if undated_tag:
        repo = with_undated_tag(repo, undated_tag)
    result = plan([repo], rules)
    assert deleted(result) == want_deleted
    assert reasons(result) == want_reasons


def test_undated_manifest_takes_no_keep_slot() -> None:
    repo = repository(
        manifest("newer", tags=["ci-1"], age=60),
        manifest("older", tags=["ci-2"], age=90),
        undated(manifest("u", tags=["ci-3"])),
        *FILLER,
    )
    result = plan([repo], CI + "      keep: 1\n")
    assert deleted(result) == {"older"}
    assert protected(result) == {"newer": "keep", "u": "no-timestamp"}
