"""The purge planner: observed repositories + policy + in-use images + ``now`` → a Plan.

Pure: no I/O, no clock. The selection runs in this order, and protection always
beats deletion:

1. **Select.** A tagged manifest is a candidate when *every* one of its tags is
   selected by some covering rule (tag regex, and older than the rule's
   ``olderThan``): deleting a manifest deletes all its tags, so one tag that no
   rule selects keeps it. An untagged manifest is a candidate when a covering rule
   has ``untagged: true`` and it is older than ``olderThan``. Index children and
   referrers (manifests with a ``subject``) are never candidates on their own: they
   follow their index or subject.
2. **Protect.** A candidate is kept, with every reason that applies, when it or
   anything that would be deleted with it (its children, its referrers) is in use
   in a cluster (by digest, or by a tag that points at it), carries a keep-listed
   tag, is among a rule's ``keep`` most recently updated, is younger than
   ``minAge``, or is locked, itself, by a tag or by its repository (unless a selecting
   rule has ``unlock: true``: then the unlock is an action of its own; a locked
   repository is never unlocked). While a cluster in scope cannot be read,
   nothing is deleted at all (the in-use set is unknown); a *stopped* cluster's
   last-known in-use set stands in for it, and the reason says how old it is. A
   manifest or tag the registry gave no time for is of unknown age: it is kept.
3. **Suspicious.** A repository that would lose more than ``suspiciousRatio`` of
   its manifests is skipped, unless every selecting rule allows it.
4. **Cap.** At most ``max_deletes`` manifest deletes, oldest first; the rest wait
   for the next run, and say so.
5. **Dependents.** Deleting an index deletes the children that no kept index still
   references; deleting a manifest deletes its referrers. They run in a later
   stage than their parent, so a failed parent delete never leaves a broken image.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.plan import Action, Guard, Plan, make_key
from ops.policies import format_duration
from ops.purge.images import InUseIndex, RegistryInUse
from ops.purge.inventory import Manifest, RepositoryState, Tag
from ops.purge.policy import PurgePolicy, Rule

CAPABILITY = "purge"
DELETE = "delete_manifest"
UNLOCK_MANIFEST = "unlock_manifest"
UNLOCK_TAG = "unlock_tag"

# cosign stores signatures and attestations as tags named after their subject.
_COSIGN_TAG = re.compile(r"^sha256-([0-9a-f]{64})\.(sig|att|sbom)$")

# The order reasons are reported in, most important first.
_PROTECTION_ORDER = (
    "in-use",
    "in-use-unknown",
    "no-timestamp",
    "lock",
    "keep-list",
    "keep",
    "min-age",
    "multi-arch",
    "referrer",
    "suspicious",
    "cap",
)


@dataclass(frozen=True, slots=True)
class _Protection:
    kind: str
    text: str
    reason: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # Made once, so that guards sharing a protection (the cap) share its reason string.
        object.__setattr__(self, "reason", f"protected: {self.text}")


@dataclass(slots=True)
class _Candidate:
    """A top-level manifest selected for deletion, with what would go with it."""

    repo: _Repository
    manifest: Manifest
    activity: datetime
    rules: tuple[Rule, ...]
    why: str
    group: tuple[Manifest, ...]
    protections: list[_Protection] = field(default_factory=list)

    @property
    def counted(self) -> frozenset[str]:
        """The group's members its delete budget counts: not a child that an index outside
        the group also references (it goes only if that index goes too)."""
        digests = {m.digest for m in self.group}
        parents = self.repo.parents
        return frozenset(d for d in digests if all(p in digests for p in parents.get(d, ())))

    @property
    def size(self) -> int:
        return len(self.counted)

    def sort_key(self) -> tuple[datetime, str, str, str]:
        return (self.activity, self.repo.state.registry, self.repo.state.repository, self.manifest.digest)


class _Repository:
    """Indexes over one repository: tags, index parents, referrers, activity times."""

    def __init__(self, state: RepositoryState, rules: tuple[Rule, ...], in_use: RegistryInUse) -> None:
        self.state = state
        self.rules = rules
        self.in_use = in_use
        self.manifests = {m.digest: m for m in state.manifests}
        self.tags: dict[str, Tag] = {t.name: t for t in state.tags}
        self.parents: dict[str, list[str]] = defaultdict(list)
        self.referrers: dict[str, list[str]] = defaultdict(list)
        self.subject_of: dict[str, str] = {}
        self.keep_cache: dict[int, frozenset[str]] = {}
        for m in state.manifests:
            for child in m.children:
                if child in self.manifests and child != m.digest:
                    self.parents[child].append(m.digest)
            subject = m.subject or _cosign_subject(m.tags)
            if subject and subject in self.manifests and subject != m.digest:
                self.subject_of[m.digest] = subject
                self.referrers[subject].append(m.digest)

    def activity(self, m: Manifest) -> datetime:
        """When the manifest or any of its tags last changed: its age for minAge and keep.

        Times the registry did not give count as the oldest possible: an undated manifest
        is kept on its own account (``no-timestamp``) and must not take a keep slot from
        a dated one.
        """
        latest = m.updated or _UNDATED
        for name in m.tags:
            tag = self.tags.get(name)
            if tag is not None and tag.updated is not None and tag.updated > latest:
                latest = tag.updated
        return latest

    def undated(self, m: Manifest) -> bool:
        """The registry gave no time for the manifest or one of its tags: its age is unknown."""
        if m.updated is None:
            return True
        return any((tag := self.tags.get(name)) is not None and tag.updated is None for name in m.tags)

    def tag_updated(self, m: Manifest, name: str) -> datetime | None:
        tag = self.tags.get(name)
        return tag.updated if tag is not None else m.updated

    def is_top_level(self, m: Manifest) -> bool:
        """Judged on its own: not a referrer of something present, and not an untagged child."""
        return m.digest not in self.subject_of and (not self.parents.get(m.digest) or bool(m.tags))

    def closure(self, m: Manifest) -> tuple[Manifest, ...]:
        """``m`` plus everything deleted with it: untagged children and referrers, nested.

        A tagged child stands on its own tags, so it is not part of its index's group.
        """
        seen = {m.digest}
        order = [m]
        stack = [m]
        while stack:
            current = stack.pop()
            children = (c for c in current.children if not self._tagged(c))
            for digest in (*children, *self.referrers.get(current.digest, ())):
                other = self.manifests.get(digest)
                if other is not None and digest not in seen:
                    seen.add(digest)
                    order.append(other)
                    stack.append(other)
        return tuple(order)

    def _tagged(self, digest: str) -> bool:
        other = self.manifests.get(digest)
        return other is not None and bool(other.tags)

    def referrers_of(self, m: Manifest) -> list[str]:
        return self.referrers.get(m.digest, [])

    def target(self, digest: str) -> str:
        return f"{self.state.registry}/{self.state.repository}@{digest}"


def plan_purge(
    repositories: Iterable[RepositoryState],
    *,
    policy: PurgePolicy,
    in_use: InUseIndex,
    now: datetime,
    run_id: str,
    max_deletes: int | None = None,
) -> Plan:
    """Plan the purge of ``repositories``; see the module docstring for the order of decisions."""
    blocked = {c: why for c, why in sorted(in_use.unreadable.items()) if not policy.unreadable_allowed(c)}
    notes: list[str] = []
    for cluster, why in blocked.items():
        notes.append(
            f"cluster {cluster} could not be read ({why}): nothing is deleted while in-use is unknown"
        )
    for cluster in sorted(set(in_use.unreadable) - set(blocked)):
        notes.append(f"cluster {cluster} could not be read; the policy allows it (inUse.allowUnreadable)")
    for cluster, seen in sorted(in_use.last_seen.items()):
        notes.append(
            f"cluster {cluster} is stopped: its in-use set as last seen running {_ago(now - seen)} ago "
            "stands in for it"
        )
    repos, candidates = _decide(repositories, policy=policy, in_use=in_use, now=now, blocked=blocked)
    guards: list[Guard] = []
    accepted = _apply_cap([c for c in candidates if not c.protections], max_deletes)
    for candidate in candidates:
        if candidate.protections:
            guards.append(_guard(candidate))

    actions: list[Action] = []
    by_repo: dict[int, list[_Candidate]] = defaultdict(list)
    for candidate in accepted:
        by_repo[id(candidate.repo)].append(candidate)
    # A child shared by two deleted indexes is counted by neither; it takes what is left.
    spare = [None if max_deletes is None else max_deletes - sum(c.size for c in accepted)]
    for repo in repos:
        chosen = by_repo.get(id(repo), [])
        deleted = _delete_actions(repo, chosen, run_id, actions, spare)
        guards.extend(_dependent_guards(repo, deleted, now))

    unlocks = sum(1 for a in actions if a.kind != DELETE)
    cap = None if max_deletes is None else max_deletes + unlocks
    capped = sum(1 for g in guards if g.detail.get("protection") == "cap")
    if capped:
        notes.append(f"{capped} manifest(s) over maxDeletesPerRun ({max_deletes}) wait for the next run")
    return Plan(
        capability=CAPABILITY,
        actions=tuple(actions),
        protected=tuple(guards),
        cap=cap,
        notes=tuple(notes),
    )


def deletes_wanted(
    repositories: Iterable[RepositoryState], *, policy: PurgePolicy, in_use: InUseIndex, now: datetime
) -> int:
    """The delete budget that ``plan_purge`` would use without a cap, counted as its cap
    counts (a group whole: an index with all its untagged children, an image with its
    referrers). A batch asks the run for this much, then plans with what it is granted."""
    blocked = {c: why for c, why in in_use.unreadable.items() if not policy.unreadable_allowed(c)}
    _, candidates = _decide(repositories, policy=policy, in_use=in_use, now=now, blocked=blocked)
    return sum(c.size for c in candidates if not c.protections)


def _decide(
    repositories: Iterable[RepositoryState],
    *,
    policy: PurgePolicy,
    in_use: InUseIndex,
    now: datetime,
    blocked: dict[str, str],
) -> tuple[list[_Repository], list[_Candidate]]:
    """Steps 1 to 3: every candidate, with the protections (and suspicion) that keep it."""
    repos: list[_Repository] = []
    candidates: list[_Candidate] = []
    for state in repositories:
        rules = policy.rules_for(state.registry, state.repository)
        if not rules:
            continue
        repo = _Repository(state, rules, in_use.for_host(state.login_server))
        repos.append(repo)
        selected = list(_select(repo, now))
        for candidate in selected:
            _protect(candidate, policy, now, blocked, in_use.last_seen)
        survivors = [c for c in selected if not c.protections]
        if survivors:
            _check_suspicious(repo, survivors, policy.suspicious_ratio)
        candidates.extend(selected)
    return repos, candidates


# -- 1. select -------------------------------------------------------------------------


def _select(repo: _Repository, now: datetime) -> Iterator[_Candidate]:
    for m in repo.state.manifests:
        if not repo.is_top_level(m):
            continue
        chosen = _selecting_rules(repo, m, now)
        if chosen is None:
            continue
        rules, why = chosen
        yield _Candidate(
            repo=repo,
            manifest=m,
            activity=repo.activity(m),
            rules=rules,
            why=why,
            group=repo.closure(m),
        )


def _selecting_rules(repo: _Repository, m: Manifest, now: datetime) -> tuple[tuple[Rule, ...], str] | None:
    if m.tags:
        chosen: dict[int, Rule] = {}
        for name in m.tags:
            age = _age(now, repo.tag_updated(m, name))
            expiring = [r for r in repo.rules if r.selects_tag(name) and age > r.older_than]
            if not expiring:
                return None
            for rule in expiring:
                chosen.setdefault(rule.index, rule)
        rules = tuple(chosen[i] for i in sorted(chosen))
        shown = ", ".join(m.tags[:5]) + (f" and {len(m.tags) - 5} more" if len(m.tags) > 5 else "")
        return rules, f"tags {shown} {_older(rules)}"
    age = _age(now, m.updated)
    rules = tuple(r for r in repo.rules if r.untagged and age > r.older_than)
    if not rules:
        return None
    return rules, f"untagged, {_older(rules)}"


def _older(rules: Sequence[Rule]) -> str:
    rule = rules[0]
    label = ", ".join(r.name for r in rules)
    if rule.older_than:
        return f"older than {format_duration(rule.older_than)} (rule {label})"
    return f"(rule {label})"


# -- 2. protect ------------------------------------------------------------------------


def _protect(
    candidate: _Candidate,
    policy: PurgePolicy,
    now: datetime,
    blocked: dict[str, str],
    last_seen: dict[str, datetime],
) -> None:
    repo = candidate.repo
    found = candidate.protections
    for member in candidate.group:
        user = _user_of(repo, member)
        if user is not None:
            seen = last_seen.get(user.split("/", 1)[0])
            when = "" if seen is None else f" (last seen running {_ago(now - seen)} ago; cluster stopped)"
            found.append(_Protection("in-use", f"in use by {user}{_of(candidate, member)}{when}"))
            break
    if blocked:
        names = ", ".join(sorted(blocked))
        found.append(_Protection("in-use-unknown", f"in use unknown: cluster(s) {names} could not be read"))
    for member in candidate.group:
        if repo.undated(member):
            found.append(
                _Protection("no-timestamp", f"no timestamp from the registry{_of(candidate, member)}")
            )
            break
    for member in candidate.group:
        for name in member.tags:
            for rule in repo.rules:
                pattern = rule.keeps_tag(name)
                if pattern is not None:
                    found.append(
                        _Protection(
                            "keep-list",
                            f"keep-list: tag {name} matches {pattern.pattern!r} (rule {rule.name})",
                        )
                    )
                    break
            else:
                continue
            break
    for rule in repo.rules:
        if rule.keep and candidate.manifest.digest in _kept_by_count(repo, rule):
            found.append(
                _Protection("keep", f"keep: among the {rule.keep} most recently updated (rule {rule.name})")
            )
            break
    parents = repo.parents.get(candidate.manifest.digest)
    if parents:
        found.append(
            _Protection(
                "multi-arch", f"multi-arch: child of index {_short(parents[0])}; it goes with its index"
            )
        )
    youngest = max(repo.activity(member) for member in candidate.group)
    if now - youngest < policy.min_age:
        found.append(
            _Protection(
                "min-age",
                f"min-age: updated {_ago(now - youngest)} ago, "
                f"under minAge {format_duration(policy.min_age)}",
            )
        )
    if not (repo.state.delete_enabled and repo.state.write_enabled):
        flag = "deleteEnabled" if not repo.state.delete_enabled else "writeEnabled"
        found.append(_Protection("lock", f"lock: repository {repo.state.repository} {flag}=false"))
        return
    locked = [text for member in candidate.group for text in _locks(repo, member)]
    # A selecting rule with unlock: true turns the locks into unlock actions (_unlocks).
    if locked and not any(rule.unlock for rule in candidate.rules):
        found.append(_Protection("lock", f"lock: {locked[0]}" + (" and more" if len(locked) > 1 else "")))


def _user_of(repo: _Repository, m: Manifest) -> str | None:
    repository = repo.state.repository
    user = repo.in_use.digest_user(repository, m.digest)
    if user is not None:
        return user
    for name in m.tags:
        user = repo.in_use.tag_user(repository, name)
        if user is not None:
            return f"{user} (tag {name})"
    return None


def _of(candidate: _Candidate, member: Manifest) -> str:
    if member is candidate.manifest:
        return ""
    relation = "referrer" if member.digest in candidate.repo.subject_of else "child"
    return f" ({relation} {_short(member.digest)})"


def _locks(repo: _Repository, m: Manifest) -> Iterator[str]:
    if not m.delete_enabled:
        yield f"{_short(m.digest)} deleteEnabled=false"
    if not m.write_enabled:
        yield f"{_short(m.digest)} writeEnabled=false"
    for name in m.tags:
        tag = repo.tags.get(name)
        if tag is not None and tag.locked:
            flag = "deleteEnabled" if not tag.delete_enabled else "writeEnabled"
            yield f"tag {name} {flag}=false"


def _kept_by_count(repo: _Repository, rule: Rule) -> frozenset[str]:
    """Digests among ``rule.keep`` most recently updated manifests it covers (ties all kept)."""
    cache = repo.keep_cache
    if rule.index in cache:
        return cache[rule.index]
    covered = [
        (repo.activity(m), m.digest)
        for m in repo.state.manifests
        if repo.is_top_level(m)
        and ((m.tags and any(rule.selects_tag(t) for t in m.tags)) or (not m.tags and rule.untagged))
    ]
    covered.sort(reverse=True)
    if len(covered) <= rule.keep:
        kept = frozenset(d for _, d in covered)
    else:
        # Ties at the boundary are all kept: two manifests updated at the same instant
        # cannot be ordered by recency, and guessing would delete one at random.
        threshold = covered[rule.keep - 1][0]
        kept = frozenset(d for when, d in covered if when >= threshold)
    cache[rule.index] = kept
    return kept


# -- 3. suspicious, 4. cap -----------------------------------------------------------------


def _check_suspicious(repo: _Repository, survivors: list[_Candidate], ratio: float) -> None:
    total = len(repo.state.manifests)
    doomed = len({m.digest for c in survivors for m in c.group})
    if total == 0 or doomed / total <= ratio:
        return
    if all(rule.allow_suspicious for c in survivors for rule in c.rules):
        return
    text = (
        f"suspicious: would delete {doomed} of {total} manifests ({doomed / total:.0%}), over "
        f"suspiciousRatio {ratio:g}; set allowSuspicious on the rule to allow it"
    )
    for candidate in survivors:
        candidate.protections.append(_Protection("suspicious", text))


def _apply_cap(candidates: list[_Candidate], max_deletes: int | None) -> list[_Candidate]:
    ordered = sorted(candidates, key=_Candidate.sort_key)
    if max_deletes is None:
        return ordered
    accepted = []
    used = 0
    # One shared reason: a large estate can defer tens of thousands of manifests.
    capped = _Protection("cap", f"cap: maxDeletesPerRun ({max_deletes}) reached; waits for the next run")
    for candidate in ordered:
        if used + candidate.size <= max_deletes:
            used += candidate.size
            accepted.append(candidate)
        else:
            candidate.protections.append(capped)
    return accepted


# -- 5. actions and dependents ----------------------------------------------------------


def _delete_actions(
    repo: _Repository, chosen: list[_Candidate], run_id: str, actions: list[Action], spare: list[int | None]
) -> dict[str, int]:
    """Append unlock and delete actions for ``chosen``; return deleted digest → stage.

    ``spare`` is the budget the groups' own counts left over, for shared children.
    """
    counted = frozenset().union(*(c.counted for c in chosen)) if chosen else frozenset()
    stage: dict[str, int] = {}
    parent_of: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for candidate in chosen:
        stage[candidate.manifest.digest] = 1
        reasons[candidate.manifest.digest] = f"delete: {candidate.why}"
    changed = True
    while changed:  # a fixpoint: a shared child goes only once every index using it goes
        changed = False
        for digest in list(stage):
            m = repo.manifests[digest]
            for child in m.children:
                other = repo.manifests.get(child)
                if other is None or child in stage or other.tags:
                    continue
                if all(p in stage for p in repo.parents.get(child, ())):
                    if child not in counted and spare[0] is not None:
                        if spare[0] <= 0:
                            continue  # over the cap: an untagged orphan now, for the next run
                        spare[0] -= 1
                    stage[child] = stage[digest] + 1
                    parent_of[child] = digest
                    reasons[child] = f"delete: child of deleted index {_short(digest)}"
                    changed = True
            for referrer in repo.referrers_of(m):
                if referrer not in stage:
                    stage[referrer] = stage[digest] + 1
                    parent_of[referrer] = digest
                    reasons[referrer] = f"delete: referrer of deleted {_short(digest)}"
                    changed = True
    service = f"acr:{repo.state.registry}"
    base = {"registry": repo.state.registry, "repository": repo.state.repository}
    for digest, level in sorted(stage.items(), key=lambda item: (item[1], item[0])):
        m = repo.manifests[digest]
        for kind, locked, lock_params, why in _unlocks(repo, m, base):
            actions.append(
                Action(
                    kind=kind,
                    target=locked,
                    reason=why,
                    service=service,
                    params={**lock_params, "stage": 0, "for": digest},
                    key=make_key(kind, locked, {"run": run_id}),
                    missing_ok=True,
                )
            )
        params: dict[str, Any] = {**base, "digest": digest, "tags": list(m.tags), "stage": level}
        if digest in parent_of:
            params["parent"] = parent_of[digest]
        target = repo.target(digest)
        actions.append(
            Action(
                kind=DELETE,
                target=target,
                reason=reasons[digest],
                service=service,
                params=params,
                key=make_key(DELETE, target, {"run": run_id}),
                missing_ok=True,
            )
        )
    return stage


def _unlocks(
    repo: _Repository, m: Manifest, base: dict[str, str]
) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    if m.locked:
        yield (
            UNLOCK_MANIFEST,
            repo.target(m.digest),
            {**base, "digest": m.digest},
            "unlock: the selecting rule has unlock: true",
        )
    for name in m.tags:
        tag = repo.tags.get(name)
        if tag is not None and tag.locked:
            yield (
                UNLOCK_TAG,
                f"{repo.state.registry}/{repo.state.repository}:{name}",
                {**base, "tag": name, "digest": m.digest},
                "unlock: the selecting rule has unlock: true",
            )


def _dependent_guards(repo: _Repository, deleted: dict[str, int], now: datetime) -> Iterator[Guard]:
    """Children and referrers a naive untagged purge would take, kept with their parent."""
    untagged_rules = [r for r in repo.rules if r.untagged]
    if not untagged_rules:
        return
    for m in repo.state.manifests:
        if m.tags or m.digest in deleted or repo.is_top_level(m):
            continue
        age = _age(now, m.updated)
        if not any(age > r.older_than for r in untagged_rules):
            continue
        subject = repo.subject_of.get(m.digest)
        if subject is not None:
            kind, text = "referrer", f"referrer: refers to {_short(subject)}, which is kept"
        else:
            parents = [p for p in repo.parents.get(m.digest, ()) if p not in deleted]
            if not parents:
                continue
            kind, text = "multi-arch", f"multi-arch: child of index {_short(parents[0])}, which is kept"
        yield Guard(
            target=repo.target(m.digest),
            reason=f"protected: {text}",
            detail=_detail(repo, m, kind, (text,)),
        )


def _guard(candidate: _Candidate) -> Guard:
    ordered = sorted(candidate.protections, key=lambda p: _PROTECTION_ORDER.index(p.kind))
    first = ordered[0]
    detail = _detail(candidate.repo, candidate.manifest, first.kind, tuple(p.text for p in ordered))
    detail["rules"] = tuple(r.name for r in candidate.rules)
    detail["selected"] = candidate.why
    return Guard(
        target=candidate.repo.target(candidate.manifest.digest),
        reason=first.reason,
        detail=detail,
    )


def _detail(repo: _Repository, m: Manifest, kind: str, reasons: tuple[str, ...]) -> dict[str, Any]:
    return {
        "registry": repo.state.registry,
        "repository": repo.state.repository,
        "digest": m.digest,
        "tags": m.tags,
        "protection": kind,
        "reasons": reasons,
    }


# -- small helpers -----------------------------------------------------------------------


def _cosign_subject(tags: Sequence[str]) -> str | None:
    """``sha256-<hex>.sig``-style tags name their subject; all tags must agree."""
    if not tags:
        return None
    subjects = set()
    for name in tags:
        match = _COSIGN_TAG.match(name)
        if match is None:
            return None
        subjects.add(match.group(1))
    return f"sha256:{subjects.pop()}" if len(subjects) == 1 else None


#: The time of what the registry gave no time for: older than anything dated.
_UNDATED = datetime.min.replace(tzinfo=UTC)


def _age(now: datetime, when: datetime | None) -> timedelta:
    """How long ago ``when`` was; an unknown time is older than every rule's olderThan
    (the manifest is still selected, and then kept as ``no-timestamp``, so it shows)."""
    return timedelta.max if when is None else now - when


def _short(digest: str) -> str:
    algorithm, _, hexa = digest.partition(":")
    return f"{algorithm}:{hexa[:12]}" if hexa else digest[:19]


def _ago(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 86400:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"
