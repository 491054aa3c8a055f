"""D-1: migration 036 adds exactly one trigger, AFTER INSERT FOR EACH ROW on the
lineage table, bound to its refresh function; its down script reverts it."""

import pytest

from iu_prove import migrations, paths, pins
from iu_prove.dsn import connect
from proofs.d_envelope_refresh._envelope import (
    LINEAGE,
    TG_BEFORE,
    TG_DELETE,
    TG_INSERT,
    TG_INSTEAD,
    TG_ROW,
    TG_TRUNCATE,
    TG_UPDATE,
    TRIGGER,
    TRIGGER_FUNCTION,
    TRIGGER_LINE,
)

DOWN = paths.MIGRATIONS / "down"
EVENTS = ((TG_INSERT, "INSERT"), (TG_DELETE, "DELETE"), (TG_UPDATE, "UPDATE"), (TG_TRUNCATE, "TRUNCATE"))


def shape(tgtype: int) -> str:
    """A pg_trigger.tgtype as words, e.g. 'AFTER INSERT FOR EACH ROW'."""
    timing = "INSTEAD OF" if tgtype & TG_INSTEAD else "BEFORE" if tgtype & TG_BEFORE else "AFTER"
    events = [name for bit, name in EVENTS if tgtype & bit]
    return f"{timing} {' OR '.join(events)} FOR EACH {'ROW' if tgtype & TG_ROW else 'STATEMENT'}"


@pytest.mark.claim("D-1")
@pytest.mark.readonly
def test_036_adds_exactly_one_after_insert_row_trigger_on_the_lineage_table(db, evidence, iu_target):
    """036 adds one trigger (pin(035) + 1): AFTER INSERT FOR EACH ROW on the lineage table, bound to its function."""
    found = db.execute(
        """
        SELECT t.tgname, t.tgtype::int, t.tgenabled::text, p.proname, t.tgqual IS NULL, t.tgnargs
          FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal
         ORDER BY t.tgname""",
        [LINEAGE],
    ).fetchall()
    described = [
        {"trigger": n, "shape": shape(tt), "enabled": en, "function": fn, "no_when_clause": nq, "arguments": na}
        for n, tt, en, fn, nq, na in found
    ]
    want = {"trigger": TRIGGER, "shape": "AFTER INSERT FOR EACH ROW", "enabled": "O", "function": TRIGGER_FUNCTION}
    evidence.expect(
        f"triggers on {LINEAGE}",
        have=described,
        want=[want | {"no_when_clause": True, "arguments": 0}],
        rows=found,
    )
    callers = db.execute(
        """
        SELECT t.tgname || ' on ' || t.tgrelid::regclass::text FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE p.proname = %s AND p.pronamespace = 'public'::regnamespace AND NOT t.tgisinternal ORDER BY 1""",
        [TRIGGER_FUNCTION],
    ).fetchall()
    evidence.expect(
        f"triggers calling {TRIGGER_FUNCTION}", have=[r[0] for r in callers], want=[f"{TRIGGER} on {LINEAGE}"]
    )

    pinned = pins.load()
    for head in ("035", "036"):
        evidence.expect_true(f"head {head} is pinned", head in pinned, note="regenerate: iu-pins --all")
    at_035, at_036 = pinned["035"]["triggers"], pinned["036"]["triggers"]
    bump = pins.diff(pinned["035"], pinned["036"])
    evidence.record("pins diff 035 -> 036", bump)
    evidence.expect(
        "trigger lines in the pins diff 035 -> 036", have=[ln for ln in bump if " trigger " in ln], want=[TRIGGER_LINE]
    )
    evidence.expect("triggers pinned at 036", have=len(at_036), want=len(at_035) + 1)
    live = set(pins.inventory(db)["triggers"])
    head_pins = set(pinned.get(iu_target.head, {}).get("triggers", []))
    evidence.record("triggers live / pinned at 035", {"live": len(live), "pinned_035": len(at_035)})
    evidence.expect(
        f"live triggers beyond pin(035) (head {iu_target.head})",
        have=sorted(live - set(at_035)),
        want=sorted(head_pins - set(at_035)),
    )
    evidence.expect_true("the 036 trigger is live", f"{TRIGGER} on {LINEAGE}" in live)


def _ledger(dsn: str) -> list[str]:
    with connect(dsn) as conn:
        return [r[0] for r in conn.execute(f"SELECT version FROM {migrations.LEDGER} ORDER BY version").fetchall()]


def _inventory(dsn: str) -> pins.Inventory:
    with connect(dsn) as conn:
        return pins.inventory(conn)


@pytest.mark.claim("D-1")
@pytest.mark.durable
def test_the_down_scripts_revert_036_and_037_exactly_and_the_runner_reapplies_them(scratch_database, psql, evidence):
    """Reverting 037 then 036 with their down scripts restores the pinned 035 inventory; the runner re-applies both."""
    on_037 = [m for m in migrations.discover() if m.version <= "037"]
    with connect(scratch_database) as conn:
        migrations.apply(conn, on_037)
    before = _inventory(scratch_database)
    pinned = pins.load()
    evidence.expect("inventory at 037 vs pins", have=pins.diff(pinned["037"], before), want=[])

    refused = psql.run(DOWN / "036_create_trg_iu_lineage_envelope_refresh.down.sql", dsn=scratch_database)
    evidence.expect("036 down while 037 is applied: exit code", have=refused.returncode, want=3, note=refused.output)
    evidence.expect_true("036 down refusal names 037", "later migration(s) 037" in refused.stderr, note=refused.stderr)
    evidence.expect("inventory after the refusal", have=pins.diff(before, _inventory(scratch_database)), want=[])

    for name in (
        "037_register_envelope_refresh_trigger_healthcheck.down.sql",
        "036_create_trg_iu_lineage_envelope_refresh.down.sql",
    ):
        result = psql.run(DOWN / name, dsn=scratch_database)
        evidence.expect(f"{name}: exit code", have=result.returncode, want=0, note=result.output)
    reverted = _inventory(scratch_database)
    evidence.expect(
        "difference from pin(035) after both down scripts", have=pins.diff(pinned["035"], reverted), want=[]
    )
    evidence.expect("ledger head after both down scripts", have=_ledger(scratch_database)[-1], want="035")

    with connect(scratch_database) as conn:
        reapplied = [m.version for m in migrations.apply(conn, on_037)]
    evidence.expect("re-applied by the runner", have=reapplied, want=["036", "037"])
    evidence.expect(
        "difference from pin(037) after re-applying",
        have=pins.diff(pinned["037"], _inventory(scratch_database)),
        want=[],
    )
