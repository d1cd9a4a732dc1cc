"""docs/deploy.md is true: what it names exists in the templates, the app and the tree.

Cases:
- the Parameters table pairs each environment value with the parameter that
  main.parameters.json maps it to, and names every mapped parameter;
- every ``azd env set NAME`` in the page sets an environment value some parameter reads;
- every upper-case setting-like name in backticks is an environment value azd maps, an
  output of main.bicep, or an app setting;
- every function name in backticks is registered in function_app (or pending in infra);
- every repository path in backticks exists.
"""

from __future__ import annotations

import re

import function_app
from ops.config import Settings
from ops.triggers.invoking import list_functions
from tests.infra.templates import (
    INFRA,
    PENDING_FUNCTIONS,
    ROOT,
    parameter_env_names,
    parse,
    product_settings,
)

DOC = ROOT / "docs" / "deploy.md"

#: snake_case names in the page that are not functions.
NOT_FUNCTIONS = frozenset({"cluster_autoscaler_unschedulable_pods_count"})

#: Path prefixes of the repository that the page may name.
PATH = re.compile(
    r"^(?:infra|docs|ops|scripts|tests|bench|examples)/[\w./*<>-]*$|^[\w.-]+\.(?:json|yaml|md)$"
)


def _text() -> str:
    return DOC.read_text()


def _ticked() -> list[str]:
    return re.findall(r"`([^`\n]+)`", _text())


def _parameter_rows() -> list[tuple[list[str], list[str]]]:
    section = _text().split("### Parameters", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        rows.append((re.findall(r"`([^`]+)`", cells[0]), re.findall(r"`([^`]+)`", cells[1])))
    return rows


def test_parameter_table_matches_main_parameters() -> None:
    mapped = parameter_env_names()
    documented: dict[str, str] = {}
    for envs, parameters in _parameter_rows():
        assert len(envs) == len(parameters), (envs, parameters)
        documented.update(zip(parameters, envs, strict=True))
    wrong = {p: e for p, e in documented.items() if mapped.get(p) != e}
    assert not wrong, f"the table pairs these differently from main.parameters.json: {wrong}"
    undocumented = sorted(set(mapped) - set(documented))
    assert not undocumented, f"parameters missing from the table in docs/deploy.md: {undocumented}"


def test_azd_env_set_names_are_mapped() -> None:
    names = set(re.findall(r"azd env set ([A-Z][A-Z0-9_]*)", _text()))
    assert names, "the page sets no environment value"
    unknown = sorted(names - set(parameter_env_names().values()))
    assert not unknown, f"azd env set of values no parameter reads: {unknown}"


def test_setting_like_names_exist() -> None:
    known = (
        set(parameter_env_names().values())
        | set(parse(INFRA / "main.bicep")["outputs"])
        | set(product_settings())
        | set(Settings.env_names())
    )
    named = {n for t in _ticked() for n in re.findall(r"\b(?:OPS|AZURE|GATE|PURGE|SCHEDULE)_[A-Z0-9_]+\b", t)}
    unknown = sorted(n for n in named - known if not n.endswith("_"))
    assert not unknown, f"names in docs/deploy.md that nothing defines: {unknown}"


def test_function_names_exist() -> None:
    registered = set(list_functions(function_app.app)) | set(PENDING_FUNCTIONS)
    named = {t for t in _ticked() if re.fullmatch(r"[a-z]+(?:_[a-z]+)+", t)} - NOT_FUNCTIONS
    assert named, "the page names no function"
    unknown = sorted(named - registered)
    assert not unknown, f"functions docs/deploy.md names that function_app does not register: {unknown}"


def test_paths_exist() -> None:
    paths = [t for t in _ticked() if PATH.match(t)]
    assert paths
    missing = [p for p in paths if not any(ROOT.glob(p.replace("<env>", "*")))]
    assert not missing, missing
