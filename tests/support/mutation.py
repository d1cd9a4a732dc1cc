"""Mutation testing of the modules that decide what is deleted, unblocked, stopped or run twice.

Line coverage says a line ran; a mutant says whether any test would notice the line being
wrong. This runs mutmut on one module at a time, each with its own fast unit tests, in a
staging copy of the tree (``.mutation/<module>/``) so that the checkout is never touched,
and prints one line per module and a total::

    module=ops/purge/planner.py mutants=896 killed=850 survived=46 score=0.949
    RESULT mutants=... killed=... survived=... score=... modules=5

``--changed`` (what CI runs) mutates, in the modules with a recorded run, only the functions
whose code differs from that run (``tests/support/mutation-baseline.json``): the score of a module is then
estimated from the new results of its changed functions and the recorded results of the
others. A fresh clone has no history to diff against, so "changed" is judged by each
function's hash, not by git. ``--record`` stores the hashes and results of a full run;
survivors it stores must be explained in docs/testing.md (a test keeps the two in step).

The targets: ``TARGETS`` below (a module and the unit tests that judge it), plus every
``ops/<capability>/planner.py`` that appears later, tested by
``tests/unit/test_<capability>_planner*.py``. A target whose tests do not exist yet is
reported and skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGING = ROOT / ".mutation"
BASELINE = ROOT / "tests" / "support" / "mutation-baseline.json"
FLOOR = 0.90

#: module → the tests that judge it (mutmut runs, per mutant, only those that call the function).
TARGETS: dict[str, tuple[str, ...]] = {
    "ops/purge/planner.py": ("tests/unit/test_purge_planner*.py",),
    "ops/gate/planner.py": ("tests/unit/test_gate_planner*.py",),
    "ops/schedule/planner.py": (
        "tests/unit/test_schedule_engine*.py",
        "tests/unit/test_schedule_planner*.py",
    ),
    "ops/schedule/windows.py": ("tests/unit/test_schedule_windows*.py",),
    "ops/executor.py": ("tests/unit/test_executor*.py",),
    "ops/remediate/autoscaler.py": ("tests/unit/test_remediate_planner*.py",),
    "ops/remediate/snat.py": ("tests/unit/test_remediate_planner*.py",),
    "ops/failover/machine.py": ("tests/unit/test_failover_policy.py", "tests/unit/test_failover_machine*.py"),
}

#: mutmut's exit-code classes that count as the mutant being detected.
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass(frozen=True)
class Target:
    module: str
    tests: tuple[str, ...]

    @property
    def slug(self) -> str:
        return self.module.removesuffix(".py").replace("/", "-")

    @property
    def dotted(self) -> str:
        return self.module.removesuffix(".py").replace("/", ".")


@dataclass
class Survivor:
    """A mutant no test noticed, by function and diff (stable when other code moves)."""

    function: str
    diff: str
    status: str

    def identity(self) -> tuple[str, str]:
        return (self.function, self.diff)


@dataclass
class Result:
    module: str
    mutants: int = 0
    killed: int = 0
    survived: int = 0
    untested: int = 0
    per_function: dict[str, list[int]] = field(default_factory=dict)  # key → [mutants, killed]
    survivors: list[Survivor] = field(default_factory=list)
    estimated: bool = False
    seconds: float = 0.0

    @property
    def score(self) -> float:
        judged = self.killed + self.survived
        return self.killed / judged if judged else 1.0

    def line(self) -> str:
        extra = f" untested={self.untested}" if self.untested else ""
        kind = " estimated=1" if self.estimated else ""
        return (
            f"module={self.module} mutants={self.mutants} killed={self.killed} "
            f"survived={self.survived}{extra} score={self.score:.3f}{kind} seconds={self.seconds:.0f}"
        )


def discover_targets(root: Path = ROOT) -> list[Target]:
    """The fixed targets, then any capability planner added since (remediate, failover, ...)."""
    found = dict(TARGETS)
    for planner in sorted(root.glob("ops/*/planner.py")):
        module = planner.relative_to(root).as_posix()
        found.setdefault(module, (f"tests/unit/test_{planner.parent.name}_planner*.py",))
    return [Target(module, tests) for module, tests in found.items() if (root / module).exists()]


def suite_of(target: Target, root: Path = ROOT) -> list[str]:
    return sorted({p.relative_to(root).as_posix() for pattern in target.tests for p in root.glob(pattern)})


def function_hashes(path: Path) -> dict[str, str]:
    """mutmut's own per-function hashes (its keys name the mutants), so the two always agree."""
    from mutmut.mutation.file_mutation import compute_function_hashes

    return compute_function_hashes(path.read_text())


def changed_functions(target: Target, baseline: dict[str, object], root: Path = ROOT) -> set[str] | None:
    """Functions whose code differs from the recorded run; None when the module was never recorded."""
    recorded = baseline.get(target.module)
    if not isinstance(recorded, dict):
        return None
    old: dict[str, str] = recorded.get("functions", {})
    return {key for key, digest in function_hashes(root / target.module).items() if old.get(key) != digest}


def readable(key: str) -> str:
    """``xǁ_Repositoryǁactivity`` → ``_Repository.activity``; ``x__ago`` → ``_ago``."""
    if key.startswith("xǁ"):
        return ".".join(key[2:].split("ǁ"))
    return key.removeprefix("x_")


# -- staging and running -----------------------------------------------------------------------


#: Written into the staging copy's tests/unit/: pytest collects there only the test files that
#: match the target's patterns, so a test file added later is picked up by ``--rerun`` without
#: changing mutmut's test selection (a changed selection would void every recorded verdict).
_SELECT = """\
import fnmatch
from pathlib import Path

PATTERNS = {patterns!r}


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    name = "tests/unit/" + collection_path.name
    return None if any(fnmatch.fnmatch(name, p) for p in PATTERNS) else True
"""


def copy_tests(target: Target, where: Path, root: Path = ROOT) -> None:
    """tests/ into the staging copy, with the collection filter for ``target``."""
    shutil.rmtree(where / "tests", ignore_errors=True)
    shutil.copytree(root / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    conftest = where / "tests" / "unit" / "conftest.py"
    assert not conftest.exists(), "tests/unit/conftest.py would be overwritten in the staging copy"
    conftest.write_text(_SELECT.format(patterns=list(target.tests)))


def stage(target: Target, root: Path = ROOT) -> Path:
    """A fresh copy of ops/ and tests/ with a pyproject that points mutmut at one module."""
    where = STAGING / target.slug
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(root / "ops", where / "ops", ignore=ignore)
    copy_tests(target, where, root)
    shutil.copytree(root / "docs", where / "docs", ignore=ignore)  # tests compare published schemas
    tests = ["tests/unit/"]
    (where / "pyproject.toml").write_text(
        "\n".join(
            [
                "[tool.pytest.ini_options]",
                'testpaths = ["tests"]',
                'pythonpath = ["."]',
                'addopts = "-p no:cacheprovider --timeout=120"',
                "",
                "[tool.mutmut]",
                'source_paths = ["ops/"]',
                'also_copy = ["docs/"]',
                f"only_mutate = [{json.dumps(target.module)}]",
                f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
                "use_git_change_detection = false",
                "",
            ]
        )
    )
    return where


def run_mutmut(where: Path, patterns: Sequence[str], *, children: int, budget: float | None) -> bool:
    """Run mutmut in ``where``; False when the budget ran out first (results so far are kept)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run", "--max-children", str(children), *patterns]
    with open(where / "mutmut.log", "w") as log:
        proc = subprocess.Popen(
            command, cwd=where, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return False
    if code != 0:
        tail = (where / "mutmut.log").read_text(errors="replace")[-3000:]
        if "nothing matches" in tail:  # the changed functions have nothing to mutate
            return True
        raise SystemExit(f"mutmut failed in {where} (exit {code}):\n{tail}")
    return True


def collect(target: Target, where: Path, keys: set[str] | None) -> Result:
    """Count the staged run's verdicts; ``keys`` limits them to some functions."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.format_utils import mangled_name_from_mutant_name

    meta = json.loads((where / "mutants" / (target.module + ".meta")).read_text())
    if keys is not None and not any(
        mangled_name_from_mutant_name(name).removeprefix(target.dotted + ".") in keys
        for name in meta["exit_code_by_key"]
    ):
        return Result(target.module)
    result = Result(target.module)
    prefix = target.dotted + "."
    here = Path.cwd()
    os.chdir(where)
    reset_config()
    try:
        for name, code in sorted(meta["exit_code_by_key"].items()):
            key = mangled_name_from_mutant_name(name).removeprefix(prefix)
            if keys is not None and key not in keys:
                continue
            counts = result.per_function.setdefault(key, [0, 0])
            counts[0] += 1
            result.mutants += 1
            status = status_by_exit_code[code]
            if status == "not checked":
                result.untested += 1
            elif status in DETECTED:
                counts[1] += 1
                result.killed += 1
            else:
                result.survived += 1
                diff = get_diff_for_mutant(name, path=target.module)
                lines = [
                    ln.rstrip() for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")
                ]
                result.survivors.append(Survivor(readable(key), "\n".join(lines), status))
    finally:
        os.chdir(here)
        reset_config()
    return result


def undetected(target: Target, where: Path) -> list[str]:
    """The mutants of the last run in ``where`` that no test detected (survived, no tests, not run)."""
    from mutmut.stats import status_by_exit_code

    meta = json.loads((where / "mutants" / (target.module + ".meta")).read_text())
    return sorted(
        name
        for name, code in meta["exit_code_by_key"].items()
        if code is None or status_by_exit_code[code] not in DETECTED
    )


def rerun(target: Target, *, children: int, budget: float | None, root: Path = ROOT) -> Result:
    """Run again only the mutants the last full run of ``target`` left alive, against the
    current tests; the verdicts of the killed ones stand (tests were added, the module is the
    same). Refuses when the module changed since that run: then only a full run is honest."""
    started = time.monotonic()
    where = STAGING / target.slug
    if not (where / "mutants" / (target.module + ".meta")).exists():
        raise SystemExit(f"{target.module}: no earlier run in {where}; run it in full first")
    if (where / target.module).read_bytes() != (root / target.module).read_bytes():
        raise SystemExit(f"{target.module} changed since the run in {where}; run it in full")
    copy_tests(target, where, root)
    names = undetected(target, where)
    finished = run_mutmut(where, names, children=children, budget=budget) if names else True
    result = collect(target, where, None)
    result.seconds = time.monotonic() - started
    if not finished and not result.untested:
        result.untested = result.mutants - result.killed - result.survived
    return result


def mutate(target: Target, *, keys: set[str] | None, children: int, budget: float | None) -> Result:
    started = time.monotonic()
    where = stage(target)
    patterns = [f"{target.dotted}.{key}__mutmut_*" for key in sorted(keys)] if keys is not None else []
    finished = run_mutmut(where, patterns, children=children, budget=budget)
    result = collect(target, where, keys)
    result.seconds = time.monotonic() - started
    if not finished and not result.untested:
        result.untested = result.mutants - result.killed - result.survived
    return result


def estimate(result: Result, recorded: dict[str, object], keys: set[str], current: set[str]) -> Result:
    """The module's score: new verdicts for ``keys``, recorded ones for every other function
    that still exists."""
    per_function: dict[str, list[int]] = recorded.get("per_function", {})  # type: ignore[assignment]
    for key, (mutants, killed) in per_function.items():
        if key in keys or key not in current:
            continue
        result.mutants += mutants
        result.killed += killed
        result.survived += mutants - killed
    result.estimated = True
    return result


# -- the baseline ------------------------------------------------------------------------------


def load_baseline(path: Path = BASELINE) -> dict[str, object]:
    return json.loads(path.read_text()) if path.exists() else {}


def record(results: Iterable[Result], path: Path = BASELINE, root: Path = ROOT) -> None:
    baseline = load_baseline(path)
    for result in results:
        baseline[result.module] = {
            "date": datetime.now(UTC).date().isoformat(),
            "mutants": result.mutants,
            "killed": result.killed,
            "score": round(result.score, 3),
            "functions": function_hashes(root / result.module),
            "per_function": {k: v for k, v in sorted(result.per_function.items())},
            "survivors": [{"function": s.function, "diff": s.diff} for s in result.survivors],
        }
    path.write_text(json.dumps(baseline, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def unexplained(result: Result, baseline: dict[str, object]) -> list[Survivor]:
    """Survivors not recorded (and so not explained in docs/testing.md) before."""
    recorded = baseline.get(result.module, {})
    known = {(s["function"], s["diff"]) for s in recorded.get("survivors", [])}  # type: ignore[union-attr]
    return [s for s in result.survivors if s.identity() not in known]


# -- command line ------------------------------------------------------------------------------


def report(results: Sequence[Result]) -> None:
    mutants = sum(r.mutants for r in results)
    killed = sum(r.killed for r in results)
    survived = sum(r.survived for r in results)
    untested = sum(r.untested for r in results)
    judged = killed + survived
    score = killed / judged if judged else 1.0
    print(
        f"RESULT mutants={mutants} killed={killed} survived={survived} untested={untested} "
        f"score={score:.3f} modules={len(results)}"
    )


def select(targets: list[Target], names: Sequence[str]) -> Iterator[Target]:
    for name in names:
        match = [t for t in targets if t.module == name or t.module.startswith(name.rstrip("/") + "/")]
        if not match:
            raise SystemExit(
                f"{name}: not a mutation target; targets are {', '.join(t.module for t in targets)}"
            )
        yield from match


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules or packages to mutate (default: every target)")
    parser.add_argument(
        "--changed", action="store_true", help="only functions changed since the recorded run"
    )
    parser.add_argument("--record", action="store_true", help="store this full run as the baseline")
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="run again only the mutants the last full run of each module left alive",
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds for the whole run (default: none)"
    )
    parser.add_argument("--children", type=int, default=int(os.environ.get("MUTATION_CHILDREN", "2")))
    parser.add_argument("--floor", type=float, default=FLOOR, help="lowest acceptable score per module")
    parser.add_argument("--show", action="store_true", help="print every surviving mutant")
    args = parser.parse_args(argv)
    if args.record and args.changed:
        parser.error("--record needs a full run; drop --changed")
    if args.rerun and args.changed:
        parser.error("--rerun repeats the last full run's survivors; drop --changed")

    targets = discover_targets()
    chosen = list(select(targets, args.modules)) if args.modules else targets
    baseline = load_baseline()
    deadline = None if args.budget is None else time.monotonic() + args.budget
    results: list[Result] = []
    failed = False
    for target in chosen:
        if not suite_of(target):
            print(f"module={target.module} not run: no tests match {', '.join(target.tests)}")
            failed = failed or not args.changed
            continue
        keys = changed_functions(target, baseline) if args.changed else None
        if args.changed and keys is None:
            # Held to the floor once a full run of it is recorded (scripts/mutation MODULE --record).
            print(f"module={target.module} not run: no recorded run to compare with")
            continue
        if keys is not None and not keys:
            print(f"module={target.module} unchanged since the recorded run")
            continue
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            print(f"module={target.module} not run: the time budget is spent")
            continue
        if args.rerun:
            result = rerun(target, children=args.children, budget=left)
        else:
            result = mutate(target, keys=keys, children=args.children, budget=left)
        fresh = unexplained(result, baseline)
        if keys is not None:
            current = set(function_hashes(ROOT / target.module))
            estimate(result, baseline[target.module], keys, current)  # type: ignore[arg-type]
        results.append(result)
        print(result.line(), flush=True)
        for survivor in result.survivors if args.show else fresh:
            print(f"  survived in {survivor.function}:")
            print("    " + survivor.diff.replace("\n", "\n    "))
        if result.untested:
            print(f"  {result.untested} mutant(s) not run: the time budget is spent")
        elif result.score < args.floor:
            print(f"  score {result.score:.3f} is under the floor {args.floor:.2f}")
            failed = True
    if args.record:
        if failed:
            print("not recorded: a module is under the floor", file=sys.stderr)
        else:
            record([r for r in results if not r.untested])
    report(results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
