"""Mutants of the substrate's functions and views, made at token offsets of their bodies.

The bodies come from ``pg_proc`` (and, for views, ``pg_get_viewdef``) of a
migrated database; each function or view is attributed to the last migration
that creates it. A view is mutated as one SQL region of its query and applied
with ``CREATE OR REPLACE VIEW`` (a mutant that changes its columns does not
compile). pglast (the server's own
scanner and parsers) finds what to mutate and checks that a mutant still
parses; the database then has the last word (``compiles``).

Where a PL/pgSQL body is mutated: only inside its SQL expressions and
statements (the ``query`` texts of ``parse_plpgsql``), so declarations and
block structure are left alone. An SQL-language body is one region.

Integer mutants not made, because they cannot change behaviour:

* a literal that is an item of the select list of an ``EXISTS (SELECT 1 …)``
  subquery: EXISTS tests whether rows exist and never reads its select list,
  so ``SELECT 0`` and ``SELECT 2`` test the same rows as ``SELECT 1``;
* the length argument of ``left(x, 60)`` or ``substr(x, 1, 60)`` inside the
  MESSAGE, DETAIL or HINT of a PL/pgSQL ``RAISE`` (or a parameter of its
  message): that expression's value is the text of the error and nothing
  else, and ``left``/``substr`` accept any length, so ±1 there changes how
  much of a value the message quotes, never whether or with what SQLSTATE
  the statement raises, nor any row. The same call anywhere else (an
  assignment, a query, a message built into a variable first) keeps its
  mutants.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
from pglast import parser as pgparser

from iu_prove import paths
from iu_prove.mutants import statements

OPERATORS = (
    "comparison",  # < ↔ <=, > ↔ >=, = ↔ <>
    "and-or",  # AND ↔ OR
    "drop-conjunct",  # one side of an AND removed
    "boolean",  # true ↔ false
    "is-null",  # IS NULL ↔ IS NOT NULL, IS DISTINCT FROM ↔ IS NOT DISTINCT FROM
    "format-ident",  # %I → %s in a format() string
    "quote-ident",  # quote_ident(x) → x
    "integer",  # integer literal ± 1
    "coalesce-default",  # coalesce(a, …, d) → coalesce(a, …, NULL)
    "not",  # NOT removed
    "arithmetic",  # + ↔ -, * ↔ /
    "min-max",  # min ↔ max, greatest ↔ least
    "outer-join",  # LEFT [OUTER] JOIN → JOIN
    "distinct",  # DISTINCT removed (SELECT DISTINCT, an aggregate's DISTINCT; not DISTINCT ON)
    "order",  # ASC ↔ DESC
    "interval",  # the first number of an interval literal ± 1 ('90 days' → '91 days')
)
_ARITHMETIC = {"ASCII_43": "-", "ASCII_45": "+", "ASCII_42": "/", "ASCII_47": "*"}
_MIN_MAX = {"min": "max", "max": "min", "greatest": "least", "least": "greatest"}

_SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "=": "<>", "<>": "=", "!=": "="}
_COMPARISON_TOKENS = {"ASCII_60", "ASCII_62", "ASCII_61", "LESS_EQUALS", "GREATER_EQUALS", "NOT_EQUALS"}
# Where a conjunct ends when walking away from its AND at the same depth.
_BOUNDARY = {
    "WHERE", "WHEN", "THEN", "ELSE", "ON", "HAVING", "AND", "OR", "SELECT", "ASCII_59", "ASCII_44", "LOOP",
    "ORDER", "GROUP", "LIMIT", "OFFSET", "RETURNING", "INTO", "UNION", "EXCEPT", "INTERSECT", "END_P", "FROM",
    "SET", "IF_P", "CASE", "USING", "FOR", "DO", "COLON_EQUALS", "EQUALS_GREATER", "WINDOW", "RETURN",
}  # fmt: skip
_DEF_RE = re.compile(
    r"create\s+(?:or\s+replace\s+)?(?:function\s+(?:(?:\"?[a-z_][a-z0-9_]*\"?)\.)?\"?([a-z_][a-z0-9_]*)\"?\s*\("
    r"|view\s+(?:(?:\"?[a-z_][a-z0-9_]*\"?)\.)?\"?([a-z_][a-z0-9_]*)\"?\s+as\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Function:
    oid: int
    signature: str  # name(argtypes); a view's name
    name: str
    language: str  # plpgsql or sql (a view: sql)
    source: str  # prosrc: the body; a view's query
    definition: str  # pg_get_functiondef
    migration: str  # the last migration that creates it, e.g. "042"

    def replace_sql(self, body: str) -> str:
        """``CREATE OR REPLACE FUNCTION`` with ``body`` in place of the original."""
        if self.definition.count(self.source) != 1:
            raise ValueError(f"{self.signature}: body not found exactly once in its definition")
        return self.definition.replace(self.source, body, 1)


@dataclass
class Mutant:
    id: str
    function: str  # signature
    migration: str
    operator: str
    line: int  # in the body, from 1
    diff: str  # one line: "L12: old → new"
    body: str
    sql: str = ""  # CREATE OR REPLACE with the mutated body
    statement: int | None = None  # the PL/pgSQL statement it is in (iu_prove.mutants.statements)
    compiles: bool | None = None
    compile_error: str = ""
    extra: dict = field(default_factory=dict)


def migration_of_functions(directory=paths.MIGRATIONS) -> dict[str, str]:
    """Function or view name → number of the last migration that creates it."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob("[0-9][0-9][0-9]_*.sql")):
        for match in _DEF_RE.finditer(path.read_text()):
            found[(match[1] or match[2]).lower()] = path.name[:3]
    return found


def load_functions(conn: psycopg.Connection) -> list[Function]:
    """Every PL/pgSQL and SQL function of the migrations in the connected database."""
    owners = migration_of_functions()
    rows = conn.execute(
        """
        SELECT p.oid, p.oid::regprocedure::text, p.proname, l.lanname, p.prosrc, pg_get_functiondef(p.oid)
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_language l ON l.oid = p.prolang
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
          AND l.lanname IN ('plpgsql', 'sql') AND p.prokind = 'f'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
        ORDER BY p.oid::regprocedure::text
        """
    ).fetchall()
    functions = [
        Function(oid, sig, name, lang, src, definition, owners[name.lower()])
        for oid, sig, name, lang, src, definition in rows
        if name.lower() in owners
    ]
    return functions + load_views(conn, owners)


def load_views(conn: psycopg.Connection, owners: dict[str, str]) -> list[Function]:
    """Every view of the migrations, as an SQL body: its query, replaced with CREATE OR REPLACE VIEW."""
    rows = conn.execute(
        """
        SELECT c.oid, c.relname, pg_get_viewdef(c.oid), c.reloptions
        FROM pg_class c
        WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY c.relname
        """
    ).fetchall()
    views = []
    for oid, name, query, options in rows:
        if name.lower() not in owners:
            continue
        with_options = f" WITH ({', '.join(options)})" if options else ""
        definition = f"CREATE OR REPLACE VIEW public.{name}{with_options} AS\n{query}"
        views.append(Function(oid, name, name, "sql", query, definition, owners[name.lower()]))
    return views


# -- regions ------------------------------------------------------------------


# PLpgSQL_raise_option.opt_type of MESSAGE, DETAIL and HINT (PLpgSQL_raise_option_type)
_RAISE_TEXT_OPTIONS = {1, 2, 3}


def _queries(node, message: bool = False) -> Iterator[tuple[int, str, bool]]:
    """(lineno, query text, is it only the text of a RAISE) of every SQL expression in a
    parse_plpgsql tree: a RAISE's MESSAGE, DETAIL and HINT options and its message's
    parameters make the error's text and nothing else."""
    if isinstance(node, dict):
        lineno = node.get("lineno")
        for key, value in node.items():
            if key == "PLpgSQL_expr" and isinstance(value, dict) and "query" in value:
                yield (-1, value["query"], message)
            elif isinstance(value, dict | list):
                inner = message
                if key == "PLpgSQL_raise_option" and isinstance(value, dict):
                    inner = value.get("opt_type", 0) in _RAISE_TEXT_OPTIONS
                elif key == "params" and "elog_level" in node:
                    inner = True
                for line, query, text_only in _queries(value, inner):
                    yield (lineno if line == -1 and lineno else line, query, text_only)
    elif isinstance(node, list):
        for value in node:
            yield from _queries(value, message)


def regions(fn: Function) -> list[tuple[int, int]]:
    """(start, end) character spans of the body that hold SQL."""
    return _regions(fn)[0]


def _regions(fn: Function) -> tuple[list[tuple[int, int]], set[tuple[int, int]]]:
    """The spans of :func:`regions`, and those of them that are only the text of a RAISE."""
    if fn.language == "sql":
        return [(0, len(fn.source))], set()
    import json

    tree = json.loads(pgparser.parse_plpgsql_json(fn.definition))
    line_starts = [0] + [m.end() for m in re.finditer("\n", fn.source)]
    spans: set[tuple[int, int]] = set()
    messages: set[tuple[int, int]] = set()
    other: set[tuple[int, int]] = set()
    for lineno, query, text_only in _queries(tree):
        # plpgsql line numbers count from the line of the body's opening quote
        hint = line_starts[max(0, min(len(line_starts) - 1, (lineno or 1) - 1))]
        at = fn.source.find(query, hint)
        if at < 0:
            at = fn.source.find(query)
        if at >= 0 and query.strip():
            spans.add((at, at + len(query)))
            (messages if text_only else other).add((at, at + len(query)))
    messages -= other  # a span found for any other expression too is not only a message
    # nested spans (a query inside another) add nothing
    ordered = sorted(spans, key=lambda s: (s[0], -s[1]))
    kept: list[tuple[int, int]] = []
    for span in ordered:
        if kept and span[0] >= kept[-1][0] and span[1] <= kept[-1][1]:
            continue
        kept.append(span)
    return kept, messages


# -- mutation -----------------------------------------------------------------


@dataclass
class _Tok:
    start: int  # absolute offset in the body
    end: int  # exclusive
    name: str
    text: str
    depth: int


def _tokens(body: str, span: tuple[int, int]) -> list[_Tok]:
    text = body[span[0] : span[1]]
    try:
        raw = pgparser.scan(text)
    except pgparser.ParseError:
        return []
    out, depth = [], 0
    for t in raw:
        s, e = span[0] + t.start, span[0] + t.end + 1
        if t.name == "ASCII_41":
            depth -= 1
        out.append(_Tok(s, e, t.name, body[s:e], depth))
        if t.name == "ASCII_40":
            depth += 1
    return out


def _walk(toks: list[_Tok], i: int, step: int) -> int:
    """Index of the far token of the operand beside toks[i] (an AND), walking by ``step``."""
    depth = toks[i].depth
    j, last = i + step, i
    while 0 <= j < len(toks):
        t = toks[j]
        if t.depth < depth or (t.depth == depth and t.name in _BOUNDARY):
            break
        last = j
        j += step
    return last


def _between_and(toks: list[_Tok], i: int) -> bool:
    """Is toks[i] the AND of a BETWEEN … AND …?"""
    depth = toks[i].depth
    j = i - 1
    while j >= 0 and toks[j].depth >= depth:
        t = toks[j]
        if t.depth == depth:
            if t.name == "BETWEEN":
                return True
            if t.name in _BOUNDARY:
                return False
        j -= 1
    return False


def _in_set_clause(toks: list[_Tok], i: int) -> bool:
    """Is the ``=`` at toks[i] an assignment (UPDATE … SET a = …, a plpgsql ``x = …``)?"""
    if i == 1:
        return True  # "x = expr" as the whole assignment
    depth = toks[i].depth
    j = i - 1
    while j >= 0:
        t = toks[j]
        if t.depth < depth:
            return False
        if t.depth == depth:
            if t.name == "SET":
                return True
            if t.name in _BOUNDARY and t.name != "ASCII_44":
                return False
        j -= 1
    return False


def _matching_close(toks: list[_Tok], open_index: int) -> int | None:
    depth = toks[open_index].depth
    for j in range(open_index + 1, len(toks)):
        if toks[j].name == "ASCII_41" and toks[j].depth == depth:
            return j
    return None


def _in_exists_select_list(toks: list[_Tok], i: int) -> bool:
    """Is toks[i] a whole item of the select list of ``EXISTS (SELECT …)``?"""
    return (
        i >= 3
        and toks[i - 1].name in ("SELECT", "ASCII_44")
        and i + 1 < len(toks)
        and toks[i + 1].name in ("FROM", "WHERE", "ASCII_41", "ASCII_44")
        and _opens_exists_select(toks, i)
    )


def _opens_exists_select(toks: list[_Tok], i: int) -> bool:
    """Walking back from toks[i] over its select list: is it ``EXISTS ( SELECT``?"""
    depth = toks[i].depth
    j = i - 1
    while j >= 0 and toks[j].depth == depth and toks[j].name in ("ICONST", "ASCII_44"):
        j -= 1
    return j >= 2 and toks[j].name == "SELECT" and toks[j - 1].name == "ASCII_40" and toks[j - 2].name == "EXISTS"


def _is_length_argument(toks: list[_Tok], i: int) -> bool:
    """Is toks[i] the last (length) argument of ``left(x, n)`` or ``substr(x, start, n)``?"""
    if i < 2 or i + 1 >= len(toks) or toks[i - 1].name != "ASCII_44" or toks[i + 1].name != "ASCII_41":
        return False
    depth = toks[i].depth
    j = i - 1
    while j >= 0 and toks[j].depth >= depth:
        j -= 1
    if j < 1 or toks[j].name != "ASCII_40":
        return False
    name = toks[j - 1].text.lower()
    args = 1 + sum(1 for t in toks[j + 1 : i] if t.depth == depth and t.name == "ASCII_44")
    return (name == "left" and args == 2) or (name in ("substr", "substring") and args == 3)


def _edits(toks: list[_Tok], message: bool = False) -> Iterator[tuple[str, int, int, str]]:
    """(operator, start, end, replacement) for one region's tokens (``message``: the region is
    only the text of a RAISE; see the module's docstring for the integers left alone)."""
    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        prev = toks[i - 1] if i > 0 else None
        if t.name in _COMPARISON_TOKENS and t.text in _SWAP:
            if t.text == "=" and _in_set_clause(toks, i):
                continue
            yield ("comparison", t.start, t.end, _SWAP[t.text])
        elif t.name in ("AND", "OR"):
            if t.name == "AND" and _between_and(toks, i):
                continue
            yield ("and-or", t.start, t.end, "OR" if t.name == "AND" else "AND")
            if t.name == "AND":
                left, right = _walk(toks, i, -1), _walk(toks, i, +1)
                if left < i and right > i:
                    yield ("drop-conjunct", toks[left].start, toks[i + 1].start, "")
                    yield ("drop-conjunct", toks[i - 1].end, toks[right].end, "")
        elif t.name in ("TRUE_P", "FALSE_P"):
            yield ("boolean", t.start, t.end, "false" if t.name == "TRUE_P" else "true")
        elif t.name == "IS" and nxt is not None:
            if nxt.name in ("NULL_P", "DISTINCT"):
                yield ("is-null", t.end, t.end, " NOT")
            elif nxt.name == "NOT" and i + 2 < len(toks) and toks[i + 2].name in ("NULL_P", "DISTINCT"):
                yield ("is-null", t.end, nxt.end, "")
        elif t.name == "NOT" and (prev is None or prev.name != "IS"):
            if nxt is not None and nxt.name in ("NULL_P",) and prev is not None and prev.name not in _BOUNDARY:
                yield ("not", t.start, nxt.start, "")  # x NOT NULL (rare) → x NULL: left to compile
                continue
            yield ("not", t.start, nxt.start if nxt is not None else t.end, "")
        elif t.name == "ICONST":
            if _in_exists_select_list(toks, i) or (message and _is_length_argument(toks, i)):
                continue
            value = int(t.text)
            yield ("integer", t.start, t.end, str(value + 1))
            if value > 0:
                yield ("integer", t.start, t.end, str(value - 1))
        elif t.text.lower() in ("format", "quote_ident") and nxt is not None and nxt.name == "ASCII_40":
            name = t.text.lower()
            close = _matching_close(toks, i + 1)
            if close is None:
                continue
            if name == "format" and i + 2 < len(toks) and toks[i + 2].name == "SCONST":
                lit = toks[i + 2]
                for m in re.finditer(r"%(\d+\$)?I", lit.text):
                    yield ("format-ident", lit.start + m.end() - 1, lit.start + m.end(), "s")
            elif name == "quote_ident":
                yield ("quote-ident", t.start, nxt.end, "(")
        elif t.name in _ARITHMETIC and not (t.name == "ASCII_42" and _is_star(prev, nxt)):
            yield ("arithmetic", t.start, t.end, _ARITHMETIC[t.name])
        elif t.text.lower() in _MIN_MAX and nxt is not None and nxt.name == "ASCII_40":
            yield ("min-max", t.start, t.end, _MIN_MAX[t.text.lower()])
        elif t.name == "LEFT" and nxt is not None and nxt.name in ("JOIN", "OUTER_P"):
            yield ("outer-join", t.start, nxt.start if nxt.name == "JOIN" else toks[i + 2].start, "")
        elif t.name == "DISTINCT" and (prev is None or prev.name not in ("IS", "NOT")):
            if nxt is not None and nxt.name != "ON":
                yield ("distinct", t.start, nxt.start, "")
        elif t.name in ("ASC", "DESC"):
            yield ("order", t.start, t.end, "DESC" if t.name == "ASC" else "ASC")
        elif t.name == "SCONST" and _is_interval_literal(toks, i):
            number = re.search(r"\d+", t.text)
            if number is not None:
                value = int(number[0])
                for bumped in (value + 1, value - 1) if value > 0 else (value + 1,):
                    yield ("interval", t.start + number.start(), t.start + number.end(), str(bumped))
        if t.name == "COALESCE" and nxt is not None and nxt.name == "ASCII_40":
            close = _matching_close(toks, i + 1)
            if close is None:
                continue
            commas = [j for j in range(i + 2, close) if toks[j].name == "ASCII_44" and toks[j].depth == nxt.depth + 1]
            if commas:
                last = commas[-1]
                default = toks[last + 1 : close]
                if not (len(default) == 1 and default[0].name == "NULL_P"):
                    yield ("coalesce-default", toks[last + 1].start, toks[close - 1].end, "NULL")


def _is_star(prev: _Tok | None, nxt: _Tok | None) -> bool:
    """Is this ``*`` a star (``SELECT *``, ``count(*)``, ``t.*``), not a product?"""
    return (
        prev is None
        or prev.name in ("SELECT", "ASCII_40", "ASCII_44", "ASCII_46")
        or nxt is None
        or (nxt.name in ("FROM", "ASCII_41", "ASCII_44"))
    )


def _is_interval_literal(toks: list[_Tok], i: int) -> bool:
    """Is toks[i] (a string constant) an interval: ``interval '…'`` or ``'…'::interval``?"""
    before = toks[i - 1].name if i > 0 else ""
    after = [t.name for t in toks[i + 1 : i + 3]]
    return before == "INTERVAL" or after == ["TYPECAST", "INTERVAL"]


def _diff_line(body: str, start: int, end: int, replacement: str) -> tuple[int, str]:
    line_no = body.count("\n", 0, start) + 1
    line_start = body.rfind("\n", 0, start) + 1
    line_end = body.find("\n", end)
    line_end = len(body) if line_end < 0 else line_end
    old = body[line_start:line_end]
    new = body[line_start:start] + replacement + body[end:line_end]
    squash = lambda s: " ".join(s.split())  # noqa: E731
    return line_no, f"L{line_no}: {squash(old)} → {squash(new)}"


def _parses(fn: Function, body: str) -> str:
    """'' when the mutated function parses, else pglast's message."""
    try:
        if fn.language == "plpgsql":
            pgparser.parse_plpgsql_json(fn.replace_sql(body))
        else:
            pgparser.parse_sql(body)
    except Exception as exc:  # pglast raises ParseError, and other errors from the plpgsql compiler
        return f"{type(exc).__name__}: {exc}"
    return ""


@dataclass(frozen=True)
class Edit:
    """One operator applied at one place: the whole text after it, where, and how it reads."""

    operator: str
    start: int
    end: int
    replacement: str
    mutated: str
    line: int
    diff: str  # one line: "L12: old → new"
    digest: str  # of (start, end, replacement): the id's suffix


def edits(text: str, span: tuple[int, int], seen: set[str], *, scanned: str | None = None, message: bool = False):
    """The edits of one region of ``text`` whose result is new (not ``text``, not in ``seen``,
    which it extends). ``scanned``: the text the scanner reads, where it differs (same offsets)."""
    for operator, start, end, replacement in _edits(_tokens(scanned or text, span), message):
        mutated = text[:start] + replacement + text[end:]
        if mutated == text or mutated in seen:
            continue
        seen.add(mutated)
        line, diff = _diff_line(text, start, end, replacement)
        digest = hashlib.sha1(f"{start}:{end}:{replacement}".encode()).hexdigest()[:6]
        yield Edit(operator, start, end, replacement, mutated, line, diff, digest)


def mutants_of(fn: Function) -> list[Mutant]:
    seen: set[str] = set()
    out: list[Mutant] = []
    body = fn.source
    shape = None
    if fn.language == "plpgsql":
        try:
            shape = statements.shape(fn.definition, fn.source)
        except Exception:  # pglast's errors: the mutant then has no statement (function-level coverage)
            shape = None
    spans, messages = _regions(fn)
    for span in spans:
        for edit in edits(body, span, seen, message=span in messages):
            mutant = Mutant(
                id=f"{fn.name}/{edit.operator}/L{edit.line}-{edit.digest}",
                function=fn.signature,
                migration=fn.migration,
                operator=edit.operator,
                line=edit.line,
                diff=edit.diff,
                body=edit.mutated,
                statement=shape.statement_at(edit.start) if shape is not None else None,
            )
            error = _parses(fn, edit.mutated)
            if error:
                mutant.compiles, mutant.compile_error = False, error.splitlines()[0][:200]
            else:
                mutant.sql = fn.replace_sql(edit.mutated)
            out.append(mutant)
    return out


def generate(conn: psycopg.Connection) -> tuple[list[Function], list[Mutant]]:
    functions = load_functions(conn)
    mutants = [m for fn in functions for m in mutants_of(fn)]
    return functions, mutants


def check_compiles(conn: psycopg.Connection, mutants: list[Mutant]) -> None:
    """``CREATE OR REPLACE`` each parsed mutant in a rolled-back transaction: the database decides."""
    for m in mutants:
        if m.compiles is False:
            continue
        try:
            with conn.transaction(force_rollback=True):
                conn.execute("SET LOCAL check_function_bodies = on")
                conn.execute(m.sql)
            m.compiles = True
        except psycopg.Error as exc:
            m.compiles, m.compile_error = False, str(exc).splitlines()[0][:200]
