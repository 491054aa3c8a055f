"""No residue: a target's fingerprint (schema objects, per-table row counts and
content digests) taken before a run must equal the one taken after it."""

from __future__ import annotations

from dataclasses import dataclass

from iu_prove import fingerprint, pins
from iu_prove.dsn import connect


@dataclass
class Snapshot:
    inventory: pins.Inventory
    tables: fingerprint.Fingerprints


def snapshot(dsn: str) -> Snapshot:
    with connect(dsn) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snap = Snapshot(pins.inventory(conn), fingerprint.of_schema(conn))
        conn.rollback()
    return snap


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """Readable lines: schema objects that appeared/vanished, tables whose content changed."""
    lines = pins.diff(before.inventory, after.inventory)
    lines += fingerprint.describe(fingerprint.diff(before.tables, after.tables))
    return lines
