"""S-1: the substrate's migrations are applied in order with matching checksums."""

import pytest

from iu_prove import migrations


@pytest.mark.claim("S-1")
@pytest.mark.readonly
def test_every_migration_is_applied_in_order_with_its_checksum(db, evidence):
    """Migrations are applied in order, each recorded with the sha256 of its file."""
    shipped = migrations.discover()
    rows = db.execute(f"SELECT version, name, sha256 FROM {migrations.LEDGER} ORDER BY applied_at, version").fetchall()
    ledger = [(v, n, s) for v, n, s in rows]
    evidence.record("migrations applied", len(ledger))
    evidence.record("head", ledger[-1][0] if ledger else None)
    evidence.expect("ledger order", have=[v for v, _, _ in ledger], want=sorted(v for v, _, _ in ledger))
    files = {m.version: (m.name, m.sha256) for m in shipped}
    mismatched = [
        (v, n, s[:12], (files.get(v) or ("missing", ""))[1][:12]) for v, n, s in ledger if files.get(v) != (n, s)
    ]
    evidence.expect_no_rows("applied migrations whose file differs (version, name, ledger sha, file sha)", mismatched)
    applied_versions = {v for v, _, _ in ledger}
    upto_head = [m.version for m in shipped if ledger and m.version <= ledger[-1][0]]
    evidence.expect(
        "files up to the head that are not applied", have=sorted(set(upto_head) - applied_versions), want=[]
    )
