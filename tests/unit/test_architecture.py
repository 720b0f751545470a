"""The architecture contracts (docs/ARCHITECTURE.md, "Contracts") catch what they promise.

Each injection test copies the packages and pyproject.toml into a temporary directory,
adds one forbidden import (or circle, or reach into the store) and asserts that the check
`make lint` runs exits non-zero naming it, where the untouched copy did not name it. The
tests whose name starts with ``test_whole_tree`` run the same checks on the repository
itself (``pytest -k whole_tree``): they fail while the tree breaks a contract.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "api", "cli", "qr")
CYCLES = ROOT / "tools" / "import_cycles.py"
REACH = ROOT / "tools" / "store_reach.py"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lint_imports() -> str:
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is missing: pip install -e '.[test]'"
    return found


def run(command: list[str], tree: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``tree`` with only ``tree``'s packages importable."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "1000", "NO_COLOR": "1"}
    return subprocess.run(
        command, cwd=tree, env=env, capture_output=True, text=True, timeout=120, check=False
    )


Check = Callable[[Path], subprocess.CompletedProcess[str]]
Untouched = Callable[[Check], str]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return run([_lint_imports(), "--no-cache"], tree)


def cycles(tree: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(CYCLES)], tree)


def reach(tree: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(REACH)], tree)


def copy_tree(into: Path) -> Path:
    """Copy the packages and pyproject.toml (the contracts' configuration) into ``into``."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, into / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", into / "pyproject.toml")
    return into


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the tree for one test to break."""
    return copy_tree(tmp_path)


@pytest.fixture(scope="module")
def untouched(tmp_path_factory: pytest.TempPathFactory) -> Untouched:
    """What each check prints on an untouched copy, computed once per module."""
    pristine = copy_tree(tmp_path_factory.mktemp("pristine"))
    seen: dict[Check, str] = {}

    def output(check: Check) -> str:
        if check not in seen:
            seen[check] = check(pristine).stdout
        return seen[check]

    return output


def inject(tree: Path, module: str, code: str, *, top: bool = True) -> None:
    """Add ``code`` to ``module`` (a path under ``tree``): first line, or the end."""
    path = tree / module
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{code}\n{text}" if top else f"{text}\n\n{code}\n", encoding="utf-8")


def assert_names(
    check: Check,
    tree: Path,
    untouched: Untouched,
    inject_it: Callable[[], object],
    *expected: str,
) -> str:
    """Break ``tree`` with ``inject_it``: ``check`` must fail, naming each of ``expected``
    (which the untouched tree's output did not contain). Returns its output."""
    before = untouched(check)
    inject_it()
    after = check(tree)
    assert after.returncode != 0, after.stdout + after.stderr
    for text in expected:
        assert text not in before, text
        assert text in after.stdout, after.stdout
    return after.stdout


# --- the configuration agrees with the tree ------------------------------------------------


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_the_core_contracts_cover_every_module_outside_service_and_store() -> None:
    contracts = _contracts()
    layers = contracts["ledger-layers"]["layers"]
    assert isinstance(layers, list)
    placed = {
        f"ledger.{name.strip()}" for layer in layers for name in layer.replace(":", "|").split("|")
    }
    children = {
        f"ledger.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "ledger").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert placed == children
    core = placed - {"ledger.service", "ledger.store"}
    assert set(contracts["core-no-frameworks"]["source_modules"]) == core  # type: ignore[arg-type]
    assert set(contracts["core-no-service"]["source_modules"]) == core  # type: ignore[arg-type]


def test_the_ledger_package_itself_imports_nothing() -> None:
    # The layers contract checks ledger's children, not ledger/__init__.py itself.
    tree = ast.parse((ROOT / "ledger" / "__init__.py").read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


# --- the cycle checker on small graphs ------------------------------------------------------


def test_strongly_connected_finds_only_circles_of_two_or_more() -> None:
    checker = _load(CYCLES)
    graph = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a", "d"}),
        "d": frozenset({"d", "e"}),  # a self-import is no circle between modules
        "e": frozenset({"f"}),
        "f": frozenset({"e"}),
        "g": frozenset({"a"}),
    }
    assert checker.strongly_connected(graph) == [["a", "b", "c"], ["e", "f"]]
    assert checker.shortest_cycle(graph, "b", {"a", "b", "c"}) == ["b", "c", "a", "b"]


def test_strongly_connected_survives_a_chain_deeper_than_the_recursion_limit() -> None:
    checker = _load(CYCLES)
    n = sys.getrecursionlimit() + 100
    graph = {f"m{i}": frozenset({f"m{(i + 1) % n}"}) for i in range(n)}
    [component] = checker.strongly_connected(graph)
    assert len(component) == n


# --- each contract fails when broken --------------------------------------------------------


def test_lint_imports_names_a_driver_imported_by_the_core(tree: Path, untouched: Untouched) -> None:
    out = assert_names(
        lint_imports,
        tree,
        untouched,
        lambda: inject(tree, "ledger/codec.py", "import sqlalchemy"),
        "ledger.codec -> sqlalchemy (l.1)",
    )
    assert "the core imports no framework or driver" in out


def test_lint_imports_names_a_framework_imported_inside_a_function(
    tree: Path, untouched: Untouched
) -> None:
    code = "def _late() -> None:\n    import fastapi  # noqa: F401"
    assert_names(
        lint_imports,
        tree,
        untouched,
        lambda: inject(tree, "ledger/verify/verdict.py", code, top=False),
        "ledger.verify.verdict -> fastapi",
    )


def test_lint_imports_names_the_core_importing_the_service(
    tree: Path, untouched: Untouched
) -> None:
    out = assert_names(
        lint_imports,
        tree,
        untouched,
        lambda: inject(tree, "ledger/merkle.py", "import ledger.service.settings"),
        "ledger.merkle -> ledger.service.settings (l.1)",
    )
    assert "the core imports nothing from the service, the store or the faces" in out


def test_lint_imports_names_a_face_importing_the_store(tree: Path, untouched: Untouched) -> None:
    out = assert_names(
        lint_imports,
        tree,
        untouched,
        lambda: inject(tree, "api/app.py", "from ledger.store import Store"),
        "api.app -> ledger.store (l.1)",
    )
    assert "the faces (api, cli, qr) never import ledger.store" in out
    assert "ledger.store is imported only by ledger.service" in out


def test_lint_imports_names_the_store_imported_by_the_audit(
    tree: Path, untouched: Untouched
) -> None:
    assert_names(
        lint_imports,
        tree,
        untouched,
        lambda: inject(tree, "ledger/audit/replay.py", "import ledger.store.repository"),
        "ledger.audit.replay -> ledger.store.repository (l.1)",
    )


def test_lint_imports_names_a_module_placed_in_no_layer(tree: Path, untouched: Untouched) -> None:
    assert_names(
        lint_imports,
        tree,
        untouched,
        lambda: (tree / "ledger" / "newthing.py").write_text('"""New."""\n', encoding="utf-8"),
        "- ledger.newthing",
    )


def test_cycle_checker_names_a_circle_hidden_in_a_function(
    tree: Path, untouched: Untouched
) -> None:
    # ledger.entry imports ledger.codec; a function-level import back closes the circle.
    code = "def _late() -> None:\n    from ledger import entry  # noqa: F401"
    out = assert_names(
        cycles,
        tree,
        untouched,
        lambda: inject(tree, "ledger/codec.py", code, top=False),
        "ledger.codec:",
    )
    assert any(
        line.strip().startswith("ledger.codec:") and "-> ledger.entry:" in line
        for line in out.splitlines()
    ), out


def test_cycle_checker_names_a_circle_through_a_package_init(
    tree: Path, untouched: Untouched
) -> None:
    # The dodge this package used to make: a rules module importing the rules package,
    # whose __init__ imports it back (import-linter's acyclic_siblings misses this one).
    code = "def _late() -> None:\n    from ledger import rules  # noqa: F401"
    out = assert_names(
        cycles,
        tree,
        untouched,
        lambda: inject(tree, "ledger/rules/context.py", code, top=False),
        "ledger.rules, ledger.rules.check, ledger.rules.context",
    )
    assert "ledger.rules.context:" in out


def test_store_reach_names_a_face_calling_the_store_through_the_service(
    tree: Path, untouched: Untouched
) -> None:
    code = "def _peek(ledger: object) -> object:\n    return ledger.store.head(ledger.log)"
    out = assert_names(
        reach,
        tree,
        untouched,
        lambda: inject(tree, "api/problems.py", code, top=False),
        "return ledger.store.head(ledger.log)",
    )
    assert "api/problems.py:" in out


# --- the whole tree (pytest -k whole_tree) --------------------------------------------------


def test_whole_tree_keeps_the_import_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_whole_tree_has_no_import_circles() -> None:
    result = cycles(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_whole_tree_has_no_face_reaching_the_store() -> None:
    result = reach(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
