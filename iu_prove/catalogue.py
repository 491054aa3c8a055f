"""The catalogue of claims: every ``@pytest.mark.claim`` in the proof files,
read from their source without importing them.

The verdict needs to know which claims a run *should* have proven, not only the
ones whose tests happened to report: a filter, a shard, a skipped proof class or
an interruption must show up as claims that did not run. The catalogue is read
with :mod:`ast` (milliseconds for the whole ``proofs/`` folder), so the
controlling process of an xdist run, which collects nothing itself, knows it too.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from iu_prove import packages, paths
from iu_prove.claims import CLAIM_ID

# Folders whose claims form one whole: naming any file inside selects the folder's catalogue.
ROOT_FOLDERS = ("proofs", "tests")


@dataclass
class CatalogueClaim:
    id: str
    statement: str = ""
    head: str | None = None  # the migration head its proofs need (module ``head`` marker)
    tests: list[str] = field(default_factory=list)  # "path::function" (or path::Class::function)


def _marker(node: ast.expr, name: str) -> str | None:
    """The first string argument of ``pytest.mark.<name>(…)``, else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == name
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _module_marker(tree: ast.Module, name: str) -> str | None:
    """The argument of ``pytest.mark.<name>(…)`` in the module's ``pytestmark``."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets):
            values = stmt.value.elts if isinstance(stmt.value, (ast.List, ast.Tuple)) else [stmt.value]
            for value in values:
                found = _marker(value, name)
                if found:
                    return found
    return None


def _functions(body: list[ast.stmt], prefix: str, inherited: str | None):
    for stmt in body:
        # Tests defined under a module-level condition (opt-in checks) are not part of the catalogue.
        if isinstance(stmt, ast.ClassDef):
            claim = next((c for d in stmt.decorator_list if (c := _marker(d, "claim"))), inherited)
            yield from _functions(stmt.body, f"{prefix}{stmt.name}::", claim)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name.startswith("test"):
            claim = next((c for d in stmt.decorator_list if (c := _marker(d, "claim"))), inherited)
            yield f"{prefix}{stmt.name}", claim, ast.get_docstring(stmt) or "", stmt.lineno


@functools.lru_cache(maxsize=512)
def _scan_file(path: Path, mtime: float) -> tuple[tuple[str, str, str, str | None], ...]:
    """(test name, claim, first docstring line, head) for each test function of one file."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ()
    head = _module_marker(tree, "head")
    found = []
    for name, claim, doc, _line in _functions(tree.body, "", _module_marker(tree, "claim")):
        if claim:
            found.append((name, claim, doc.strip().splitlines()[0].strip() if doc.strip() else "", head))
    return tuple(found)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def scan(files: list[Path]) -> dict[str, CatalogueClaim]:
    claims: dict[str, CatalogueClaim] = {}
    for path in sorted(set(files)):
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        for name, claim_id, statement, head in _scan_file(path, mtime):
            entry = claims.setdefault(claim_id, CatalogueClaim(claim_id))
            entry.tests.append(f"{_relative(path)}::{name}")
            if statement and not entry.statement:
                entry.statement = statement
            for needed in (head, packages.head_of(claim_id)):
                if needed and (entry.head is None or needed > entry.head):
                    entry.head = needed
    return claims


def _test_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("test_*.py") if ".venv" not in p.parts)


def for_args(args: list[str], rootdir: Path | None = None) -> dict[str, CatalogueClaim]:
    """The claims a run over these command-line paths is meant to prove.

    A path inside ``proofs/`` or ``tests/`` stands for the whole folder (a run of
    one file is a filtered run of that folder); any other path stands for itself.
    """
    base = rootdir or Path.cwd()
    files: list[Path] = []
    for arg in args:
        text = arg.split("::", 1)[0]
        if not text or text.startswith("-"):
            continue
        path = (base / text).resolve() if not Path(text).is_absolute() else Path(text)
        if not path.exists():
            continue
        root = next(
            (paths.ROOT / f for f in ROOT_FOLDERS if (paths.ROOT / f) == path or (paths.ROOT / f) in path.parents),
            None,
        )
        if root is not None:
            files += _test_files(root)
        elif path.is_dir():
            files += _test_files(path)
        else:
            files.append(path)
    return scan(files)


def test_key(nodeid: str) -> str:
    """``path::Class::test[param]`` → ``path::Class::test`` (the catalogue's key)."""
    return re.sub(r"\[.*\]$", "", nodeid)


def normalise_ids(text: str) -> tuple[list[str], list[str]]:
    """Split a ``--iu-claims`` value into (well-formed ids upper-cased, malformed pieces)."""
    good, bad = [], []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if CLAIM_ID.match(piece.upper()):
            good.append(piece.upper())
        else:
            bad.append(piece)
    return good, bad
