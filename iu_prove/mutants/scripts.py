"""Mutants of the operators' scripts (``sql/ops``), made with the operators of
:mod:`iu_prove.mutants.generate` and run as ``script``-mode sabotages.

Where a script is mutated: its SQL, as PostgreSQL's scanner reads it, and the
bodies of its dollar-quoted blocks (``DO $$ … $$``); psql's meta-commands
(a line starting with a backslash, and a trailing ``\\gset`` or ``\\g``) are
left alone. Each mutant is the whole script with one edit, applied to a copy of
``sql/ops`` the proofs, their psql runs and shell blocks read
(:meth:`iu_prove.sabotage.Sabotage.ops_copy`).

Which proofs reach a script: those whose module, or a helper module of their
package (``_*.py``), names the script's file, or names a script that includes
it (``\\i``, ``\\ir``); the run tries their claims in turn and a mutant is
killed by the first claim that fails (:mod:`iu_prove.mutants.registry`).
"""

from __future__ import annotations

import re
from pathlib import Path

from pglast import parser as pgparser

from iu_prove import paths
from iu_prove.mutants import generate
from iu_prove.sabotage import Sabotage

PREFIX = "ops:"  # a generated script mutant's id starts with this
SOURCE = "generated-script"
_META_LINE = re.compile(r"(?m)^[ \t]*\\.*$")
_TRAILING_META = re.compile(r"\\g\w*[^\n]*")
_INCLUDE = re.compile(r"(?m)^[ \t]*\\ir?\s+(\S+)")


def _blank(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda m: " " * len(m[0]), text)


def _sql_of(text: str) -> str:
    """The script with psql's meta-commands blanked out (offsets kept)."""
    return _blank(_blank(text, _META_LINE), _TRAILING_META)


def _spans(sql: str) -> list[tuple[int, int]]:
    """The script as one region, and the inside of each dollar-quoted string."""
    spans = [(0, len(sql))]
    for tok in generate._tokens(sql, (0, len(sql))):
        if tok.name == "SCONST" and tok.text.startswith("$"):
            tag = tok.text[: tok.text.index("$", 1) + 1]
            inner = (tok.start + len(tag), tok.end - len(tag))
            if inner[0] < inner[1]:
                spans.append(inner)
    return spans


def _plpgsql_parses(body: str) -> bool:
    """Does a dollar-quoted body parse as PL/pgSQL (a DO block's language)?"""
    try:
        pgparser.parse_plpgsql_json(
            f"CREATE FUNCTION iu_ops_do() RETURNS void LANGUAGE plpgsql AS $iu_ops$ {body} $iu_ops$"
        )
    except Exception:  # pglast's ParseError, and errors from the plpgsql compiler
        return False
    return True


def mutants_of(rel: str, text: str) -> list[Sabotage]:
    """Every mutant of one script (``rel``: its path under ``sql/ops``). In a dollar-quoted body
    that parses as PL/pgSQL, a mutant that does not (``ERRCODE <> 'IU010'``) is not made."""
    sql = _sql_of(text)
    seen: set[str] = set()
    out: list[Sabotage] = []
    for k, span in enumerate(_spans(sql)):
        check = k > 0 and _plpgsql_parses(text[span[0] : span[1]])  # span 0 is the script; then dollar bodies
        for edit in generate.edits(text, span, seen, scanned=sql):
            grown = len(edit.replacement) - (edit.end - edit.start)
            if check and not _plpgsql_parses(edit.mutated[span[0] : span[1] + grown]):
                continue
            out.append(
                Sabotage(
                    id=f"{PREFIX}{rel}/{edit.operator}/L{edit.line}-{edit.digest}",
                    kills=(),
                    mode="script",
                    description=edit.diff,
                    sql="",
                    source=SOURCE,
                    script=rel,
                    replace=(text, edit.mutated),
                )
            )
    return out


def generate_all(ops: Path | None = None) -> list[Sabotage]:
    ops = ops or paths.OPS
    found: list[Sabotage] = []
    for path in sorted(ops.rglob("*.sql")):
        found += mutants_of(path.relative_to(ops).as_posix(), path.read_text())
    return found


def by_id(ops: Path | None = None) -> dict[str, Sabotage]:
    return {m.id: m for m in generate_all(ops)}


def includers(ops: Path | None = None) -> dict[str, set[str]]:
    """Script → itself and every script that includes it, directly or not."""
    ops = ops or paths.OPS
    scripts = {p.relative_to(ops).as_posix(): p for p in sorted(ops.rglob("*.sql"))}
    direct: dict[str, set[str]] = {rel: set() for rel in scripts}
    for rel, path in scripts.items():
        for name in _INCLUDE.findall(path.read_text()):
            target = (path.parent / name).resolve()
            for other, other_path in scripts.items():
                if other_path.resolve() == target:
                    direct[other].add(rel)
    closure: dict[str, set[str]] = {}
    for rel in scripts:
        todo, seen = [rel], {rel}
        while todo:
            for parent in direct.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        closure[rel] = seen
    return closure


def names_a_script(text: str, scripts: set[str]) -> bool:
    """Does a module's text name one of ``scripts`` (by its path under sql/ops or its file name, as a
    whole name: ``probe.sql`` is not named by ``outbox_probe.sql``)?"""
    return any(re.search(rf"(?<![\w.-]){re.escape(Path(rel).name)}\b", text) for rel in scripts)
