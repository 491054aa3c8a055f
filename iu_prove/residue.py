"""No residue: a target's fingerprint (schema objects, per-table row counts and
content digests) taken before a run must equal the one taken after it.

On a large database the table part costs one scan per large table and no sort
of its rows (see :mod:`iu_prove.fingerprint`: large tables are compared by row
count and the rows written since a horizon fixed at the first snapshot), so the
check stays exact; each snapshot records what it cost in ``seconds``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from iu_prove import fingerprint, pins
from iu_prove.dsn import connect


@dataclass
class Snapshot:
    inventory: pins.Inventory
    tables: fingerprint.Fingerprints
    seconds: float = 0.0


def snapshot(dsn: str) -> Snapshot:
    started = time.perf_counter()
    with connect(dsn) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snap = Snapshot(pins.inventory(conn), fingerprint.of_schema(conn))
        conn.rollback()
    snap.seconds = round(time.perf_counter() - started, 3)
    return snap


def cost_s(before: Snapshot, after: Snapshot) -> float:
    """Seconds the residue check cost (both snapshots), for the run header (``residue_cost_s``)."""
    return round(before.seconds + after.seconds, 3)


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """Readable lines: schema objects that appeared/vanished, tables whose content changed."""
    lines = pins.diff(before.inventory, after.inventory)
    lines += fingerprint.describe(fingerprint.diff(before.tables, after.tables))
    return lines
