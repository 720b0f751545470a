"""One error registry: every error ``code`` is declared once, and documented.

A code is the suffix of the API's problem type (``urn:provenance-ledger:problem:<code>``)
and the CLI's one-line error, so two classes declaring one code would make two refusals
indistinguishable to a client. A class may inherit its parent's code (it is then the
same refusal, said more precisely); declaring a code again is what this test forbids.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections import Counter
from pathlib import Path

import pytest

from ledger.errors import LedgerError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "api", "cli", "qr")
#: faces whose errors never reach the HTTP API (the CLI, the label renderer)
OFFLINE = ("cli", "qr")
#: classes whose HTTP status is set per instance (the class attribute is a fallback)
STATUS_PER_INSTANCE = {"epcis-refused"}
_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _import_everything() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            # Alembic scripts declare no errors; ``__main__`` runs the CLI when imported
            if ".migrations" not in module.name and not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def _subclasses(cls: type[LedgerError]) -> list[type[LedgerError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _subclasses(sub)
    return out


def _declaring() -> list[type[LedgerError]]:
    """Every imported LedgerError class that declares a ``code`` itself."""
    _import_everything()
    return [c for c in _subclasses(LedgerError) if "code" in vars(c)]


def _code_literals() -> list[tuple[str, str, str]]:
    """(file, class, code) of every ``code = "..."`` in a class body of the project."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef):
                    continue
                for stmt in node.body:
                    target = stmt.target if isinstance(stmt, ast.AnnAssign) else None
                    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                        target = stmt.targets[0]
                    value = getattr(stmt, "value", None)
                    if (
                        isinstance(target, ast.Name)
                        and target.id == "code"
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                    ):
                        found.append((str(path.relative_to(ROOT)), node.name, value.value))
    return found


def _http_codes() -> dict[str, int]:
    """The codes the HTTP layer answers without an error class of its own."""
    from api import problems

    return {
        code: status
        for status, code in {**problems.HTTP_CODES, 500: problems.INTERNAL}.items()
        if code not in {c.code for c in _declaring()}
    } | {problems.HTTP_ERROR: 0, problems.MALFORMED_REQUEST: 400}


def test_every_declared_code_is_unique() -> None:
    declared = Counter(c.code for c in _declaring())
    twice = {
        code: [f"{c.__module__}.{c.__qualname__}" for c in _declaring() if c.code == code]
        for code, n in declared.items()
        if n > 1
    }
    assert not twice, f"codes declared by more than one class: {twice}"


def test_every_code_literal_is_unique_and_a_ledger_error() -> None:
    """The source agrees: no ``code = "..."`` hides in a module the import walk missed."""
    literals = _code_literals()
    counts = Counter(code for _, _, code in literals)
    assert not [x for x in literals if counts[x[2]] > 1], "a code is declared twice"
    declared = {(c.__qualname__, c.code) for c in _declaring()}
    assert {(cls, code) for _, cls, code in literals} == declared


def test_codes_are_stable_kebab_case_and_statuses_are_http() -> None:
    for cls in _declaring():
        assert _KEBAB.fullmatch(cls.code), cls
        assert 400 <= cls.status <= 599, cls


def test_http_level_codes_do_not_reuse_a_class_code_for_another_meaning() -> None:
    from api import problems

    codes = {c.code: c for c in _declaring()}
    for status, code in problems.HTTP_CODES.items():
        if code in codes:  # the same refusal as the class (404 not-found)
            assert codes[code].status == status
    assert problems.INTERNAL not in codes
    assert problems.HTTP_ERROR not in codes


def _documented() -> dict[str, str]:
    """docs/API.md's table of problem types: code -> its status cell."""
    text = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    section = text.split("### Problem types", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ([^|]+) \|", section, re.MULTILINE)
    assert rows, "docs/API.md has no table of problem types"
    assert len(rows) == len(dict(rows)), "a code is listed twice"
    return {code: cell.strip() for code, cell in rows}


def test_every_api_code_has_its_problem_type_documented() -> None:
    documented = _documented()
    api = {c.code: c for c in _declaring() if not c.__module__.startswith(OFFLINE)}
    expected = set(api) | set(_http_codes())
    assert set(documented) == expected, (
        f"undocumented: {sorted(expected - set(documented))}; "
        f"no such code: {sorted(set(documented) - expected)}"
    )
    for code, cls in api.items():
        statuses = re.findall(r"\d{3}", documented[code])
        if code in STATUS_PER_INSTANCE:
            assert statuses, code
        else:
            assert statuses == [str(cls.status)], (code, documented[code], cls.status)


@pytest.mark.parametrize("module", ["ledger.epcis.errors", "cli.backends.base"])
def test_epcis_refused_is_one_refusal(module: str) -> None:
    """The capture's and the CLI import's refusals share ``epcis-refused`` by inheritance."""
    from ledger.epcis.errors import EpcisRefusedError

    importlib.import_module(module)
    refusals = [c for c in _subclasses(LedgerError) if c.code == "epcis-refused"]
    assert all(issubclass(c, EpcisRefusedError) for c in refusals)
    assert [c for c in refusals if "code" in vars(c)] == [EpcisRefusedError]
