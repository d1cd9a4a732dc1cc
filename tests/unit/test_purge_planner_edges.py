"""The purge planner at its edges: both sides of every boundary, all-versus-any, and the
exact plan it writes (what the executor and the audit log will see).

Cases:
- activity: a tag moved onto an old image makes it young, also under a rule with no
  ``olderThan`` (then minAge keeps it); a tag the registry did not list falls back to
  the manifest's time;
- boundaries, both sides: ``olderThan`` for tags and for untagged manifests (exactly the
  age is not older), ``minAge`` (exactly minAge is old enough), ``suspiciousRatio``
  (exactly the ratio is allowed; one manifest of one is over it), ``keep`` (more slots
  than manifests keeps them all; untagged manifests fill an untagged rule's slots, tagged
  ones do not), the shared-children budget (one left, two left), the "ago" units;
- all versus any: the suspicious check needs every selecting rule to allow it, across
  candidates and across the rules of one candidate; every rule that selects a manifest is
  named;
- whole structure: a self-listing index, a missing child, a referrer cycle, a tagged
  child in use does not protect its index, cosign tags naming two subjects are not a
  referrer;
- all protections are listed, not the first: in use, no timestamp, keep-list (also on a
  referrer's tag), keep, min-age, locks (repository, manifest, tag, several);
- the exact actions (unlocks first, then stages in digest order; keys, params, reasons),
  guards (reasons and details), notes and cap of a plan, and ``deletes_wanted`` when a
  cluster cannot be read.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from ops.plan import make_key
from ops.purge.images import ImageUse, build_in_use
from ops.purge.planner import DELETE, UNLOCK_MANIFEST, UNLOCK_TAG, deletes_wanted, plan_purge
from tests.unit.purge_builders import (
    LOGIN,
    NOW,
    deleted,
    digest,
    in_use,
    manifest,
    name_of,
    plan,
    policy,
    protected,
    repository,
)

CI = "    - repository: app\n      tags: 'ci-.*'\n      olderThan: 30d\n"
ANY_AGE = "    - repository: app\n      tags: 'ci-.*'\n"
UNTAGGED = "    - repository: app\n      untagged: true\n      olderThan: 7d\n"
ALLOW = "      allowSuspicious: true\n"
FILLER = tuple(manifest(f"filler-{i}", tags=[f"filler-{i}"], age=1) for i in range(20))
DAY = 86400.0


def short(name: str) -> str:
    return digest(name)[:19]


def target(name: str) -> str:
    return f"reg/app@{digest(name)}"


def reasons_of(result: Any) -> dict[str, tuple[str, ...]]:
    return {name_of(g.detail["digest"]): g.detail["reasons"] for g in result.protected}


# -- activity --------------------------------------------------------------------------------


def test_a_tag_moved_onto_an_old_image_keeps_it_young_under_a_rule_without_older_than() -> None:
    repo = repository(manifest("old", tags=["ci-1"], age=90), *FILLER, tag_ages={"ci-1": 2 / 24})
    result = plan([repo], ANY_AGE)
    assert deleted(result) == set()
    assert reasons_of(result) == {"old": ("min-age: updated 2h ago, under minAge 1d",)}


def test_a_tag_the_registry_did_not_list_takes_the_manifest_time() -> None:
    repo = replace(repository(manifest("old", tags=["ci-1"], age=90), *FILLER), tags=())
    assert deleted(plan([repo], CI)) == {"old"}


# -- boundaries, both sides ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "selected"),
    [
        pytest.param(30.0, False, id="exactly-olderThan-is-not-older"),
        pytest.param(30.0 + 1 / DAY, True, id="a-second-past-olderThan"),
    ],
)
def test_older_than_boundary_for_tags(age: float, selected: bool) -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=age), *FILLER)
    assert deleted(plan([repo], CI)) == ({"m"} if selected else set())


@pytest.mark.parametrize(
    ("age", "selected"),
    [
        pytest.param(7.0, False, id="exactly-olderThan-is-not-older"),
        pytest.param(7.0 + 1 / DAY, True, id="a-second-past-olderThan"),
    ],
)
def test_older_than_boundary_for_untagged(age: float, selected: bool) -> None:
    repo = repository(manifest("u", age=age), *FILLER)
    assert deleted(plan([repo], UNTAGGED)) == ({"u"} if selected else set())


@pytest.mark.parametrize(
    ("age", "kept"),
    [
        pytest.param(1.0, False, id="exactly-minAge-is-old-enough"),
        pytest.param(1.0 - 1 / DAY, True, id="a-second-under-minAge"),
    ],
)
def test_min_age_boundary(age: float, kept: bool) -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=age), *FILLER)
    result = plan([repo], ANY_AGE)
    assert deleted(result) == (set() if kept else {"m"})
    assert protected(result) == ({"m": "min-age"} if kept else {})


@pytest.mark.parametrize(
    ("ratio", "suspicious"),
    [
        pytest.param("0.5", False, id="exactly-the-ratio-is-allowed"),
        pytest.param("0.49", True, id="over-the-ratio"),
    ],
)
def test_suspicious_ratio_boundary(ratio: str, suspicious: bool) -> None:
    repo = repository(manifest("a", tags=["ci-a"], age=90), manifest("b", tags=["v1"], age=90))
    result = plan([repo], CI, extra=f"  suspiciousRatio: {ratio}\n")
    assert deleted(result) == (set() if suspicious else {"a"})


def test_the_only_manifest_of_a_repository_is_suspicious() -> None:
    result = plan([repository(manifest("a", tags=["ci-a"], age=90))], CI)
    assert deleted(result) == set()
    assert reasons_of(result) == {
        "a": (
            "suspicious: would delete 1 of 1 manifests (100%), over suspiciousRatio 0.9; "
            "set allowSuspicious on the rule to allow it",
        )
    }


def test_suspicious_reason_gives_the_share() -> None:
    repo = repository(*(manifest(n, tags=[f"ci-{n}"], age=90) for n in "abc"), manifest("v", tags=["v1"]))
    (guard, *_) = plan([repo], CI, extra="  suspiciousRatio: 0.5\n").protected
    assert guard.reason == (
        "protected: suspicious: would delete 3 of 4 manifests (75%), over suspiciousRatio 0.5; "
        "set allowSuspicious on the rule to allow it"
    )


def test_keep_with_more_slots_than_manifests_keeps_them_all() -> None:
    repo = repository(manifest("a", tags=["ci-a"], age=40), manifest("b", tags=["ci-b"], age=50), *FILLER)
    result = plan([repo], CI + "      keep: 5\n")
    assert deleted(result) == set()
    assert protected(result) == {"a": "keep", "b": "keep"}
    assert reasons_of(result)["a"] == ("keep: among the 5 most recently updated (rule rules[0])",)


def test_untagged_manifests_fill_an_untagged_rules_keep_slots_and_tagged_ones_do_not() -> None:
    repo = repository(
        manifest("tagged-new", tags=["v1"], age=8),
        manifest("u-newer", age=20),
        manifest("u-older", age=30),
        *FILLER,
    )
    result = plan([repo], UNTAGGED + "      keep: 1\n")
    assert deleted(result) == {"u-older"}
    assert protected(result) == {"u-newer": "keep"}


def two_shared_children(extra_age: int = 0) -> Any:
    return repository(
        manifest("a", tags=["ci-a"], age=90, children=["s1", "s2", "a1"]),
        manifest("b", tags=["ci-b"], age=91, children=["s1", "s2", "b1"]),
        manifest("s1", age=90),
        manifest("s2", age=90),
        manifest("a1", age=90),
        manifest("b1", age=90),
        *FILLER,
    )


@pytest.mark.parametrize(
    ("budget", "shared"),
    [
        pytest.param(4, 0, id="no-budget-left"),
        pytest.param(5, 1, id="one-left"),
        pytest.param(6, 2, id="two-left"),
    ],
)
def test_shared_children_take_what_the_budget_leaves(budget: int, shared: int) -> None:
    result = plan([two_shared_children()], CI, max_deletes=budget)
    gone = deleted(result)
    assert gone - {"s1", "s2"} == {"a", "a1", "b", "b1"}
    assert len(gone & {"s1", "s2"}) == shared


@pytest.mark.parametrize(
    ("ago", "shown"),
    [
        (timedelta(days=1), "1d"),
        (timedelta(days=1) - timedelta(seconds=1), "23h"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=1) - timedelta(seconds=1), "59m"),
    ],
)
def test_ago_units_at_their_boundaries(ago: timedelta, shown: str) -> None:
    uses = build_in_use(
        [ImageUse(f"{LOGIN}/app:ci-1", "aks-dev/shop/deployment/d0")],
        hosts=[LOGIN],
        clusters=["aks-prod", "aks-dev"],
    )
    uses.last_seen["aks-dev"] = NOW - ago
    result = plan([repository(manifest("used", tags=["ci-1"], age=90), *FILLER)], CI, uses=uses)
    assert result.protected[0].reason.endswith(f"(last seen running {shown} ago; cluster stopped)")
    assert f"last seen running {shown} ago" in result.notes[0]


# -- all versus any --------------------------------------------------------------------------


def test_suspicious_needs_every_selecting_rule_of_every_candidate_to_allow_it() -> None:
    rules = (
        "    - repository: app\n      tags: 'ci-.*'\n      olderThan: 30d\n"
        + ALLOW
        + "    - repository: app\n      tags: 'tmp-.*'\n      olderThan: 30d\n"
    )
    repo = repository(manifest("a", tags=["ci-a"], age=90), manifest("b", tags=["tmp-b"], age=90))
    assert deleted(plan([repo], rules)) == set()  # b's rule does not allow it
    both = repository(manifest("a", tags=["ci-a", "tmp-a"], age=90), manifest("v", tags=["v1"], age=90))
    result = plan([both], rules, extra="  suspiciousRatio: 0.3\n")
    assert deleted(result) == set()  # a is selected by both rules; one does not allow it
    allowed = rules + ALLOW
    assert deleted(plan([repo], allowed)) == {"a", "b"}


def test_every_selecting_rule_is_named_and_may_unlock() -> None:
    rules = (
        "    - repository: app\n      tags: 'ci-.*'\n      olderThan: 30d\n"
        "    - repository: app\n      tags: 'ci-1'\n      olderThan: 30d\n      unlock: true\n"
    )
    repo = repository(manifest("m", tags=["ci-1"], age=90, delete_enabled=False), *FILLER)
    result = plan([repo], rules)
    (delete,) = (a for a in result.actions if a.kind == DELETE)
    assert delete.reason == "delete: tags ci-1 older than 30d (rule rules[0], rules[1])"
    assert [a.kind for a in result.actions] == [UNLOCK_MANIFEST, DELETE]


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (5, "ci-0, ci-1, ci-2, ci-3, ci-4"),
        (6, "ci-0, ci-1, ci-2, ci-3, ci-4 and 1 more"),
        (8, "ci-0, ci-1, ci-2, ci-3, ci-4 and 3 more"),
    ],
)
def test_a_reason_names_five_tags_then_counts_the_rest(count: int, shown: str) -> None:
    repo = repository(manifest("m", tags=[f"ci-{i}" for i in range(count)], age=90), *FILLER)
    (action,) = plan([repo], CI).actions
    assert action.reason == f"delete: tags {shown} older than 30d (rule rules[0])"


def test_a_rule_without_older_than_is_named_alone() -> None:
    (action,) = plan([repository(manifest("m", tags=["ci-1"], age=3), *FILLER)], ANY_AGE).actions
    assert action.reason == "delete: tags ci-1 (rule rules[0])"


# -- structure ---------------------------------------------------------------------------------


def test_odd_structures_are_planned_without_error() -> None:
    repo = repository(
        manifest("self", age=90, children=["self"]),  # an index that lists itself
        manifest("idx", tags=["ci-1"], age=90, children=["gone"]),  # a child the registry lost
        manifest("root", tags=["ci-2"], age=90, children=["u"]),
        manifest("u", age=90),
        manifest("v", subject="u", age=90, children=["u"]),  # a referrer that lists its subject
        *FILLER,
    )
    result = plan([repo], CI + "    - repository: app\n      untagged: true\n      olderThan: 30d\n" + ALLOW)
    # u and v each wait for the other to go first: both stay, which is the safe side
    assert deleted(result) == {"self", "idx", "root"}


def test_a_tagged_child_in_use_does_not_protect_its_index() -> None:
    repo = repository(
        manifest("idx", tags=["ci-1"], age=90, children=["c1"]), manifest("c1", tags=["v1"], age=90), *FILLER
    )
    result = plan([repo], CI, uses=in_use(f"{LOGIN}/app@{digest('c1')}"))
    assert deleted(result) == {"idx"}


def test_cosign_tags_naming_two_subjects_are_not_a_referrer() -> None:
    a, b = digest("img-a")[7:], digest("img-b")[7:]
    repo = repository(
        manifest("img-a", tags=["v1"], age=90),
        manifest("img-b", tags=["v2"], age=90),
        manifest("sig", tags=[f"sha256-{a}.sig", f"sha256-{b}.sig"], age=90),
        *FILLER,
    )
    result = plan([repo], "    - repository: app\n      tags: 'sha256-.*'\n      olderThan: 30d\n")
    assert deleted(result) == {"sig"}


# -- every protection is listed ---------------------------------------------------------------


def test_every_protection_is_listed_in_order() -> None:
    repo = repository(
        manifest("m", tags=["ci-1", "ci-keep"], age=0.5, delete_enabled=False, write_enabled=False),
        replace(manifest("sig", subject="m", age=90), updated=None),
        *FILLER,
        locked_tags=("ci-1",),
    )
    rules = CI.replace("olderThan: 30d", "keep: 1\n      keepTags: 'ci-keep'")
    result = plan([repo], rules, uses=in_use(f"{LOGIN}/app:ci-1"))
    (guard,) = result.protected
    assert guard.detail["reasons"] == (
        "in use by aks-prod/default/pod/p0 (tag ci-1)",
        f"no timestamp from the registry (referrer {short('sig')})",
        "lock: " + short("m") + " deleteEnabled=false and more",
        "keep-list: tag ci-keep matches 'ci-keep' (rule rules[0])",
        "keep: among the 1 most recently updated (rule rules[0])",
        "min-age: updated 12h ago, under minAge 1d",
    )


def test_a_keep_listed_tag_on_a_referrer_protects_its_subject() -> None:
    sig_tag = f"sha256-{digest('img')[7:]}.sig"
    repo = repository(
        manifest("img", tags=["ci-1"], age=90), manifest("sig", tags=[sig_tag], age=90), *FILLER
    )
    result = plan([repo], CI + "      keepTags: 'sha256-.*'\n")
    assert deleted(result) == set()
    assert reasons_of(result) == {"img": (f"keep-list: tag {sig_tag} matches 'sha256-.*' (rule rules[0])",)}


@pytest.mark.parametrize(
    ("delete_enabled", "write_enabled", "why"),
    [
        (False, True, "lock: repository app deleteEnabled=false"),
        (True, False, "lock: repository app writeEnabled=false"),
    ],
)
def test_a_locked_repository_says_which_flag(delete_enabled: bool, write_enabled: bool, why: str) -> None:
    repo = replace(
        repository(manifest("m", tags=["ci-1"], age=90), *FILLER),
        delete_enabled=delete_enabled,
        write_enabled=write_enabled,
    )
    assert reasons_of(plan([repo], CI + "      unlock: true\n")) == {"m": (why,)}


@pytest.mark.parametrize(
    ("delete_enabled", "write_enabled", "why"),
    [
        (False, True, "lock: tag ci-1 deleteEnabled=false"),
        (True, False, "lock: tag ci-1 writeEnabled=false"),
    ],
)
def test_a_locked_tag_says_which_flag(delete_enabled: bool, write_enabled: bool, why: str) -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=90), *FILLER)
    tags = tuple(replace(t, delete_enabled=delete_enabled, write_enabled=write_enabled) for t in repo.tags)
    result = plan([replace(repo, tags=tags)], CI)
    assert reasons_of(result)["m"] == (why,)


def test_one_lock_is_named_alone() -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=90, write_enabled=False), *FILLER)
    assert reasons_of(plan([repo], CI)) == {"m": (f"lock: {short('m')} writeEnabled=false",)}


# -- the exact plan ----------------------------------------------------------------------------


def test_the_exact_actions_of_a_plan() -> None:
    repo = repository(
        manifest("idx", tags=["ci-1"], age=90, children=["c1"], delete_enabled=False),
        manifest("c1", age=90),
        manifest("sig", subject="idx", age=90),
        manifest("young", tags=["ci-2"], age=45),
        *FILLER,
        locked_tags=("ci-1",),
    )
    result = plan([repo], CI + "      unlock: true\n")
    base = {"registry": "reg", "repository": "app"}
    run = {"run": "run-1"}
    idx = digest("idx")
    tag_target = "reg/app:ci-1"
    want = [
        (
            UNLOCK_MANIFEST,
            target("idx"),
            "unlock: the selecting rule has unlock: true",
            {**base, "digest": idx, "stage": 0, "for": idx},
        ),
        (
            UNLOCK_TAG,
            tag_target,
            "unlock: the selecting rule has unlock: true",
            {**base, "tag": "ci-1", "digest": idx, "stage": 0, "for": idx},
        ),
    ]
    stage_one = [
        (
            DELETE,
            target(name),
            f"delete: tags {tag} older than 30d (rule rules[0])",
            {**base, "digest": digest(name), "tags": [tag], "stage": 1},
        )
        for name, tag in sorted([("idx", "ci-1"), ("young", "ci-2")], key=lambda p: digest(p[0]))
    ]
    # unlocks run just before their manifest's delete, in stage-then-digest order
    for entry in stage_one:
        if entry[1] == target("idx"):
            want.append(entry)
        else:
            want.insert(0 if digest("young") < idx else len(want), entry)
    stage_two = sorted(
        [
            (
                DELETE,
                target("c1"),
                f"delete: child of deleted index {short('idx')}",
                {**base, "digest": digest("c1"), "tags": [], "stage": 2, "parent": idx},
            ),
            (
                DELETE,
                target("sig"),
                f"delete: referrer of deleted {short('idx')}",
                {**base, "digest": digest("sig"), "tags": [], "stage": 2, "parent": idx},
            ),
        ],
        key=lambda entry: entry[3]["digest"],
    )
    want.extend(stage_two)
    got = [(a.kind, a.target, a.reason, dict(a.params)) for a in result.actions]
    assert got == want
    assert [a.key for a in result.actions] == [make_key(kind, where, run) for kind, where, _, _ in want]
    assert all(a.service == "acr:reg" and a.missing_ok for a in result.actions)
    assert result.capability == "purge"
    assert result.cap is None


def test_the_exact_guards_notes_and_cap_of_a_plan() -> None:
    repo = repository(
        manifest("rel", tags=["ci-release"], age=90),
        manifest("idx", tags=["v1"], age=90, children=["c1"]),
        manifest("c1", age=90),
        manifest("young-child-idx", tags=["v2"], age=90, children=["c2"]),
        manifest("c2", age=2),
        manifest("img", tags=["v3"], age=90),
        manifest("sig", subject="img", age=90),
        manifest("m80", tags=["ci-80"], age=80),
        manifest("m70", tags=["ci-70"], age=70, delete_enabled=False),
        manifest("m60", tags=["ci-60"], age=60),
        *FILLER,
    )
    rules = CI + "      keepTags: 'ci-rel.*'\n" + "      unlock: true\n" + UNTAGGED
    uses = in_use(unreadable={"aks-dev": "timed out", "aks-test": "refused"})
    extra = "  inUse:\n    allowUnreadable: ['aks-d.*', 'aks-t.*']\n"
    result = plan([repo], rules, uses=uses, extra=extra, max_deletes=2)
    assert deleted(result) == {"m80", "m70"}
    assert result.cap == 3  # two deletes and one unlock
    assert result.notes == (
        "cluster aks-dev could not be read; the policy allows it (inUse.allowUnreadable)",
        "cluster aks-test could not be read; the policy allows it (inUse.allowUnreadable)",
        "1 manifest(s) over maxDeletesPerRun (2) wait for the next run",
    )
    guards = {name_of(g.detail["digest"]): g for g in result.protected}
    assert set(guards) == {"rel", "m60", "c1", "sig"}
    rel = guards["rel"]
    assert rel.target == target("rel")
    assert rel.reason == "protected: keep-list: tag ci-release matches 'ci-rel.*' (rule rules[0])"
    assert dict(rel.detail) == {
        "registry": "reg",
        "repository": "app",
        "digest": digest("rel"),
        "tags": ("ci-release",),
        "protection": "keep-list",
        "reasons": ("keep-list: tag ci-release matches 'ci-rel.*' (rule rules[0])",),
        "rules": ("rules[0]",),
        "selected": "tags ci-release older than 30d (rule rules[0])",
    }
    assert guards["m60"].reason == "protected: cap: maxDeletesPerRun (2) reached; waits for the next run"
    c1 = guards["c1"]
    assert c1.target == target("c1")
    assert c1.reason == f"protected: multi-arch: child of index {short('idx')}, which is kept"
    assert dict(c1.detail) == {
        "registry": "reg",
        "repository": "app",
        "digest": digest("c1"),
        "tags": (),
        "protection": "multi-arch",
        "reasons": (f"multi-arch: child of index {short('idx')}, which is kept",),
    }
    assert guards["sig"].reason == f"protected: referrer: refers to {short('img')}, which is kept"


def test_a_kept_index_child_that_is_also_top_level_says_it_goes_with_its_index() -> None:
    repo = repository(
        manifest("idx", tags=["v1"], age=90, children=["c1"]), manifest("c1", tags=["ci-1"], age=90), *FILLER
    )
    assert reasons_of(plan([repo], CI)) == {
        "c1": (f"multi-arch: child of index {short('idx')}; it goes with its index",)
    }


def test_deleted_dependents_get_no_guard() -> None:
    rules = "    - repository: app\n      tags: 'ci-.*'\n      untagged: true\n      olderThan: 30d\n"
    repo = repository(
        manifest("img", tags=["ci-1"], age=90),
        manifest("sig", subject="img", age=90),
        manifest("idx", tags=["v1"], age=90, children=["young", "old"]),
        manifest("young", age=2),
        manifest("old", age=90),
        *FILLER,
    )
    result = plan([repo], rules)
    assert deleted(result) == {"img", "sig"}
    assert protected(result) == {"old": "multi-arch"}  # the young child is not even selected


def test_repositories_without_rules_do_not_stop_the_others() -> None:
    other = repository(manifest("x", tags=["ci-x"], age=90), *FILLER, name="other")
    app = repository(manifest("m", tags=["ci-1"], age=90), *FILLER)
    assert deleted(plan([other, app], CI)) == {"m"}


def test_deletes_wanted_is_zero_while_a_cluster_cannot_be_read_unless_allowed() -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=90), *FILLER)
    blind = in_use(unreadable={"aks-dev": "timed out"})
    assert deletes_wanted([repo], policy=policy(CI), in_use=blind, now=NOW) == 0
    allowing = policy(CI, "  inUse:\n    allowUnreadable: ['aks-dev']\n")
    assert deletes_wanted([repo], policy=allowing, in_use=blind, now=NOW) == 1
    unblocked = plan_purge([repo], policy=allowing, in_use=blind, now=NOW, run_id="r")
    assert len(unblocked.actions) == 1


def test_two_unreadable_clusters_are_named_in_each_guard() -> None:
    repo = repository(manifest("m", tags=["ci-1"], age=90), *FILLER)
    result = plan([repo], CI, uses=in_use(unreadable={"aks-b": "x", "aks-a": "y"}))
    assert reasons_of(result) == {"m": ("in use unknown: cluster(s) aks-a, aks-b could not be read",)}
