"""scripts/mutation's own logic (tests/support/mutation.py), without running mutmut.

Cases: the five core targets exist and have tests; a capability planner added later is found,
with its tests by name; mutant keys read as functions and methods; "changed" is judged by
function hash against the record (an unrecorded module is None, an edited function is the
only one changed, a new one counts as changed); an estimate adds the recorded verdicts of
the unchanged functions that still exist; the score and the printed lines; every recorded
surviving mutant's function is explained in docs/testing.md; the staging copy collects only
the target's test files (one added later too); a rerun refuses without an earlier full run
of the same code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import mutation
from tests.support.mutation import (
    ROOT,
    Result,
    Target,
    changed_functions,
    copy_tests,
    discover_targets,
    estimate,
    function_hashes,
    readable,
    suite_of,
)


def test_the_core_targets_exist_and_have_tests() -> None:
    targets = {t.module: t for t in discover_targets()}
    for module in list(mutation.TARGETS)[:5]:
        assert module in targets, module
        assert suite_of(targets[module]), module


def test_a_capability_planner_added_later_is_found_with_its_tests(tmp_path: Path) -> None:
    (tmp_path / "ops" / "remediate").mkdir(parents=True)
    (tmp_path / "ops" / "remediate" / "planner.py").write_text("def plan_x():\n    return 1\n")
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_remediate_planner.py").write_text("")
    (target,) = discover_targets(tmp_path)
    assert target == Target("ops/remediate/planner.py", ("tests/unit/test_remediate_planner*.py",))
    assert suite_of(target, tmp_path) == ["tests/unit/test_remediate_planner.py"]
    assert target.slug == "ops-remediate-planner"
    assert target.dotted == "ops.remediate.planner"


def test_mutant_keys_read_as_functions_and_methods() -> None:
    assert readable("x__ago") == "_ago"
    assert readable("x_plan_purge") == "plan_purge"
    assert readable("xǁ_Repositoryǁactivity") == "_Repository.activity"


def test_changed_is_judged_by_function_hash(tmp_path: Path) -> None:
    module = tmp_path / "ops" / "m.py"
    module.parent.mkdir()
    module.write_text("def a():\n    return 1\n\n\ndef b():\n    return 2\n")
    target = Target("ops/m.py", ())
    assert changed_functions(target, {}, tmp_path) is None  # never recorded
    baseline: dict[str, object] = {"ops/m.py": {"functions": function_hashes(module)}}
    assert changed_functions(target, baseline, tmp_path) == set()
    module.write_text("def a():\n    return 1\n\n\ndef b():\n    return 3\n\n\ndef c():\n    return 0\n")
    assert changed_functions(target, baseline, tmp_path) == {"x_b", "x_c"}


def test_an_estimate_adds_the_recorded_verdicts_of_unchanged_functions() -> None:
    fresh = Result("ops/m.py", mutants=4, killed=3, survived=1, per_function={"x_b": [4, 3]})
    recorded: dict[str, object] = {"per_function": {"x_a": [10, 10], "x_b": [5, 5], "x_gone": [7, 0]}}
    estimated = estimate(fresh, recorded, {"x_b"}, {"x_a", "x_b"})
    assert (estimated.mutants, estimated.killed, estimated.survived) == (14, 13, 1)
    assert estimated.estimated
    assert estimated.score == 13 / 14
    assert estimated.line().startswith(
        "module=ops/m.py mutants=14 killed=13 survived=1 score=0.929 estimated=1"
    )


def test_a_run_with_untested_mutants_says_so() -> None:
    result = Result("ops/m.py", mutants=10, killed=6, survived=0, untested=4)
    assert result.score == 1.0
    assert " untested=4 " in result.line()
    assert Result("ops/m.py").score == 1.0


def test_every_recorded_survivor_is_explained_in_the_docs() -> None:
    path = ROOT / "tests" / "support" / "mutation-baseline.json"
    baseline = json.loads(path.read_text()) if path.exists() else {}
    docs = (ROOT / "docs" / "testing.md").read_text()
    for module, record in baseline.items():
        for survivor in record["survivors"]:
            assert f"`{survivor['function']}`" in docs, (
                f"{module}: a surviving mutant in {survivor['function']} is not explained in docs/testing.md"
            )


def test_the_staging_copy_collects_only_the_targets_test_files(tmp_path: Path) -> None:
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    for name in ("test_gate_planner.py", "test_gate_planner_new.py", "test_gate_policy.py"):
        (tmp_path / "tests" / "unit" / name).write_text("")
    where = tmp_path / "stage"
    where.mkdir()
    target = Target("ops/gate/planner.py", ("tests/unit/test_gate_planner*.py",))
    copy_tests(target, where, tmp_path)
    namespace: dict[str, Any] = {}
    exec((where / "tests" / "unit" / "conftest.py").read_text(), namespace)
    ignore = namespace["pytest_ignore_collect"]
    unit = where / "tests" / "unit"
    assert ignore(unit / "test_gate_planner.py", None) is None
    assert ignore(unit / "test_gate_planner_new.py", None) is None  # added later: still collected
    assert ignore(unit / "test_gate_policy.py", None) is True
    assert ignore(unit / "gate_builders.py", None) is None  # helpers are imported, never collected


def test_a_rerun_needs_an_earlier_full_run_of_the_same_code(tmp_path: Path, monkeypatch: Any) -> None:
    module = tmp_path / "ops" / "m.py"
    module.parent.mkdir()
    module.write_text("def a():\n    return 1\n")
    monkeypatch.setattr(mutation, "STAGING", tmp_path / ".mutation")
    target = Target("ops/m.py", ())
    with pytest.raises(SystemExit, match="no earlier run"):
        mutation.rerun(target, children=1, budget=None, root=tmp_path)
    staged = tmp_path / ".mutation" / target.slug
    (staged / "mutants" / "ops").mkdir(parents=True)
    (staged / "mutants" / "ops" / "m.py.meta").write_text("{}")
    (staged / "ops").mkdir()
    (staged / "ops" / "m.py").write_text("def a():\n    return 2\n")
    with pytest.raises(SystemExit, match="changed since the run"):
        mutation.rerun(target, children=1, budget=None, root=tmp_path)
