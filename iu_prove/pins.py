"""Pinned inventory: the substrate's tables, views, functions, triggers and
healthcheck surfaces by name, keyed by migration head, in one reviewed file."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import psycopg

from iu_prove import paths
from iu_prove.errors import SetupError

KINDS = ("tables", "views", "functions", "triggers", "healthcheck_surfaces")
SINGULAR = {
    "tables": "table",
    "views": "view",
    "functions": "function",
    "triggers": "trigger",
    "healthcheck_surfaces": "healthcheck surface",
}

_NOT_FROM_EXTENSION = """
NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')
"""

INVENTORY_SQL = {
    "tables": f"""
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND {_NOT_FROM_EXTENSION.format(oid="c.oid")}
        ORDER BY 1""",
    "views": f"""
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
          AND {_NOT_FROM_EXTENSION.format(oid="c.oid")}
        ORDER BY 1""",
    "functions": f"""
        SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND {_NOT_FROM_EXTENSION.format(oid="p.oid")}
        ORDER BY 1""",
    "triggers": """
        SELECT t.tgname || ' on ' || c.relname FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal
        ORDER BY 1""",
}

Inventory = dict[str, list[str]]


class PinsError(SetupError):
    pass


def inventory(conn: psycopg.Connection) -> Inventory:
    """The live inventory of the connected database, in the pins' format."""
    inv: Inventory = {kind: [r[0] for r in conn.execute(sql).fetchall()] for kind, sql in INVENTORY_SQL.items()}
    has_registry = conn.execute("SELECT to_regclass('iu_healthcheck_surface') IS NOT NULL").fetchone()[0]
    inv["healthcheck_surfaces"] = (
        [r[0] for r in conn.execute("SELECT surface FROM iu_healthcheck_surface ORDER BY position").fetchall()]
        if has_registry
        else []
    )
    return inv


def load(path: Path = paths.PINS) -> dict[str, Inventory]:
    """head -> pinned inventory."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text())
    return {head: {k: list(v.get(k, [])) for k in KINDS} for head, v in data.items()}


def pinned(head: str, path: Path = paths.PINS) -> Inventory:
    pins = load(path)
    if head not in pins:
        known = ", ".join(sorted(pins)) or "none"
        raise PinsError(
            f"no pins for migration head {head} in {path.name} (pinned heads: {known}); "
            "run `make pins` and add its output for this head"
        )
    return pins[head]


def counts(inv: Inventory) -> dict[str, int]:
    return {kind: len(inv.get(kind, [])) for kind in KINDS}


def diff(want: Inventory, have: Inventory) -> list[str]:
    """Lines like ``+ trigger trg_x on t`` (in have, not pinned) and ``- …`` (pinned, missing)."""
    lines: list[str] = []
    for kind in KINDS:
        w, h = set(want.get(kind, [])), set(have.get(kind, []))
        lines += [f"+ {SINGULAR[kind]} {name}" for name in sorted(h - w)]
        lines += [f"- {SINGULAR[kind]} {name}" for name in sorted(w - h)]
    return lines


def render(head: str, inv: Inventory) -> str:
    """One head's inventory as a TOML table, the format of fixtures/pins.toml."""
    out = [f'["{head}"]']
    for kind in KINDS:
        names = inv.get(kind, [])
        out.append(f"# {len(names)} {kind.replace('_', ' ')}")
        out.append(f"{kind} = [")
        out += [f"    {json.dumps(n)}," for n in names]
        out.append("]")
    return "\n".join(out) + "\n"
