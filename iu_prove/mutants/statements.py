"""Statement coverage of PL/pgSQL bodies: which statements a proof reaches.

Each PL/pgSQL function's statements are numbered in the order of its parse
tree (``parse_plpgsql``, pre-order, so a statement's number is stable for the
same body). For the coverage run, a copy of the body gets a probe before each
statement it can place one::

    RAISE LOG 'iu-cov <oid>:<statement> %', current_database(); <the statement>

A probe is written to the server log by whichever session runs it (the
proof's, a psql script's, a durable proof's clone), whether its transaction
commits, rolls back or raises afterwards, with the database it ran in (the
run's clones are named after its process). ``RAISE`` changes neither ``FOUND``
nor ``ROW_COUNT`` (``current_database()`` is a simple expression, evaluated
without a query), and adds no line, so line numbers
in error contexts stay as they were. ``LOG`` is below the client's default
``client_min_messages`` (no proof sees it) and above the server's
``log_min_messages``.

A probe goes only where a statement starts after a boundary (``;``, ``THEN``,
``ELSE``, ``LOOP``, ``BEGIN``) with the token its kind begins with; a statement
without one is represented by its nearest probed ancestor. A mutant is then
reached by a proof when the probe of its statement (or that ancestor) fired;
one in a declaration, or in a function whose probes do not compile, falls back
to the function's call count.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pglast import parser as pgparser

LOG_RE = re.compile(rb"iu-cov (\d+):(\d+) (\S+)")  # oid:statement database

# The token (upper-cased text) each kind of statement begins with; None: any word.
_START = {
    "block": {"BEGIN", "DECLARE"},
    "if": {"IF"},
    "case": {"CASE"},
    "loop": {"LOOP"},
    "while": {"WHILE"},
    "fori": {"FOR"},
    "fors": {"FOR"},
    "forc": {"FOR"},
    "dynfors": {"FOR"},
    "foreach_a": {"FOREACH"},
    "exit": {"EXIT", "CONTINUE"},
    "return": {"RETURN"},
    "return_next": {"RETURN"},
    "return_query": {"RETURN"},
    "raise": {"RAISE"},
    "assert": {"ASSERT"},
    "dynexecute": {"EXECUTE"},
    "getdiag": {"GET"},
    "open": {"OPEN"},
    "fetch": {"FETCH", "MOVE"},
    "close": {"CLOSE"},
    "perform": {"PERFORM"},
    "call": {"CALL", "DO"},
    "commit": {"COMMIT"},
    "rollback": {"ROLLBACK"},
    "assign": None,
    "execsql": None,
}
_NOT_A_START = {"END", "ELSE", "ELSIF", "ELSEIF", "WHEN", "THEN", "LOOP", "EXCEPTION", "BEGIN", "DECLARE"}
_NOT_WORDS = ("CONST", "PARAM", "IDENT")  # literals and parameters never start a statement


def _is_word(name: str) -> bool:
    return name.isupper() and not name.startswith("ASCII") and not name.endswith(_NOT_WORDS)


_BOUNDARY = {";", "THEN", "ELSE", "LOOP", "BEGIN"}  # the upper-cased token a statement may follow


@dataclass
class Statement:
    index: int  # pre-order number in the function
    kind: str  # "if", "assign", …
    lineno: int  # line in the body, from 1
    parent: int | None  # the enclosing statement
    label: bool = False
    probe_at: int | None = None  # body offset of its probe, when it has one


@dataclass
class Shape:
    """A PL/pgSQL body's statements and which statement each SQL expression belongs to."""

    statements: list[Statement] = field(default_factory=list)
    spans: list[tuple[int, int, int | None]] = field(default_factory=list)  # (start, end, statement)

    def statement_at(self, offset: int) -> int | None:
        """The statement of the innermost expression holding ``offset`` (None: a declaration, or none)."""
        best: tuple[int, int | None] | None = None
        for start, end, stmt in self.spans:
            if start <= offset < end and (best is None or end - start < best[0]):
                best = (end - start, stmt)
        return best[1] if best else None

    def probed(self, index: int | None) -> int | None:
        """The statement whose probe stands for ``index``: itself, or its nearest probed ancestor."""
        while index is not None:
            stmt = self.statements[index]
            if stmt.probe_at is not None:
                return index
            index = stmt.parent
        return None


def _walk(node, parent: int | None, out: list[Statement], exprs: list[tuple[int, str, int | None]], line: int):
    """Statements in pre-order; expressions with the line and statement they belong to."""
    if isinstance(node, list):
        for value in node:
            _walk(value, parent, out, exprs, line)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key.startswith("PLpgSQL_stmt_") and isinstance(value, dict):
            stmt = Statement(len(out), key.removeprefix("PLpgSQL_stmt_"), value.get("lineno", line), parent)
            stmt.label = bool(value.get("label"))
            out.append(stmt)
            _walk(value, stmt.index, out, exprs, stmt.lineno)
        elif key == "PLpgSQL_expr" and isinstance(value, dict) and "query" in value:
            exprs.append((line, value["query"], parent))
        elif isinstance(value, dict | list):
            _walk(value, parent, out, exprs, node.get("lineno", line) if isinstance(node.get("lineno"), int) else line)


def shape(definition: str, source: str) -> Shape:
    """The statements of a PL/pgSQL function (its ``pg_get_functiondef``) and where probes can go."""
    tree = json.loads(pgparser.parse_plpgsql_json(definition))
    found = Shape()
    exprs: list[tuple[int, str, int | None]] = []
    for fn in tree:
        _walk(fn.get("PLpgSQL_function", {}).get("action"), None, found.statements, exprs, 1)
        datums = fn.get("PLpgSQL_function", {}).get("datums", [])
        _walk(datums, None, [], exprs, 1)  # declarations' defaults: no statement
    line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
    for lineno, query, stmt in exprs:
        hint = line_starts[max(0, min(len(line_starts) - 1, (lineno or 1) - 1))]
        at = source.find(query, hint)
        if at < 0:
            at = source.find(query)
        if at >= 0 and query.strip():
            found.spans.append((at, at + len(query), stmt))
    _place_probes(found, source)
    return found


def _place_probes(found: Shape, source: str) -> None:
    try:
        raw = pgparser.scan(source)
    except pgparser.ParseError:
        return
    toks = [(t.start, t.end + 1, t.name, source[t.start : t.end + 1].upper()) for t in raw if "COMMENT" not in t.name]
    line_of = [source.count("\n", 0, t[0]) + 1 for t in toks]
    taken: set[int] = set()
    for stmt in found.statements:
        if stmt.parent is None and stmt.kind == "block":
            continue  # the body itself: its first statement's probe says it ran
        wanted = _START.get(stmt.kind, set())
        for i, (_, _, name, text) in enumerate(toks):
            if line_of[i] != stmt.lineno or i in taken or i == 0:
                continue
            if wanted is None:
                if text in _NOT_A_START or not (name == "IDENT" or _is_word(name)):
                    continue
            elif text not in wanted:
                continue
            j = i
            if stmt.label and j >= 3 and toks[j - 1][3] == ">>" and toks[j - 3][3] == "<<":
                j -= 3  # <<label>> before a loop or block
            if toks[j - 1][3] not in _BOUNDARY:
                continue
            taken.add(i)
            stmt.probe_at = toks[j][0]
            break


def instrument(oid: int, source: str, found: Shape) -> str:
    """The body with a probe before every statement that has a place for one."""
    body = source
    for stmt in sorted((s for s in found.statements if s.probe_at is not None), key=lambda s: -s.probe_at):
        body = (
            body[: stmt.probe_at]
            + f"RAISE LOG 'iu-cov {oid}:{stmt.index} %', current_database(); "
            + body[stmt.probe_at :]
        )
    return body


def without(oid: int, source: str, found: Shape, dropped: set[int]) -> str:
    """The instrumented body with the probes of ``dropped`` statements left out."""
    for index in dropped:
        found.statements[index].probe_at = None
    return instrument(oid, source, found)
