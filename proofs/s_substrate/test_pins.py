"""S-12: the live inventory equals the pins for the database's migration head.

Oracle: fixtures/pins.toml, a reviewed file written by ``iu-pins --all`` and
read by eye, never the live catalog it is compared with.
Conditions: every word of a pinned shape counts alone — a trigger's timing,
events, level, function and enabled state; a function's argument defaults,
volatility, strictness and security; a column's type, nullability and
default; a foreign key's action; a CHECK; an index; a grant. Each change,
made alone, is reported as exactly one readable line.
"""

import pytest

from iu_prove import pins
from proofs._substrate import LINEAGE

TRIGGER = "trg_iu_lineage_envelope_refresh"
FUNCTION = "fn_iu_trg_lineage_envelope_refresh"
RECREATE = f"DROP TRIGGER {TRIGGER} ON {LINEAGE}; CREATE TRIGGER {TRIGGER} "
SHIPPED_TRIGGER = f"AFTER INSERT ROW EXECUTE {FUNCTION}() ENABLED"
ORCHESTRATOR = "dot_iu_auto_instantiate_from_event(text,text,boolean,integer,text)"

# each change, made alone: (SQL, the one diff line it must produce — a prefix for long shapes)
RESHAPES = {
    "trigger timing BEFORE": (
        RECREATE + f"BEFORE INSERT ON {LINEAGE} FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
        f"~ trigger {TRIGGER} on {LINEAGE}: {SHIPPED_TRIGGER} → BEFORE INSERT ROW EXECUTE {FUNCTION}() ENABLED",
    ),
    "trigger events INSERT OR UPDATE": (
        RECREATE + f"AFTER INSERT OR UPDATE ON {LINEAGE} FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
        f"~ trigger {TRIGGER} on {LINEAGE}: {SHIPPED_TRIGGER} → AFTER INSERT OR UPDATE ROW "
        f"EXECUTE {FUNCTION}() ENABLED",
    ),
    "trigger level STATEMENT": (
        RECREATE + f"AFTER INSERT ON {LINEAGE} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
        f"~ trigger {TRIGGER} on {LINEAGE}: {SHIPPED_TRIGGER} → AFTER INSERT STATEMENT EXECUTE {FUNCTION}() ENABLED",
    ),
    "trigger function": (
        RECREATE + f"AFTER INSERT ON {LINEAGE} FOR EACH ROW EXECUTE FUNCTION fn_iu_trg_set_updated_at()",
        f"~ trigger {TRIGGER} on {LINEAGE}: {SHIPPED_TRIGGER} → AFTER INSERT ROW EXECUTE fn_iu_trg_set_updated_at() "
        "ENABLED",
    ),
    "trigger disabled": (
        f"ALTER TABLE {LINEAGE} DISABLE TRIGGER {TRIGGER}",
        f"~ trigger {TRIGGER} on {LINEAGE}: {SHIPPED_TRIGGER} → AFTER INSERT ROW EXECUTE {FUNCTION}() DISABLED",
    ),
    "function volatility": (f"ALTER FUNCTION {ORCHESTRATOR} STABLE", f"~ function {ORCHESTRATOR}: "),
    "function strictness": (f"ALTER FUNCTION {ORCHESTRATOR} STRICT", f"~ function {ORCHESTRATOR}: "),
    "function security definer": (f"ALTER FUNCTION {ORCHESTRATOR} SECURITY DEFINER", f"~ function {ORCHESTRATOR}: "),
    "column default": (
        "ALTER TABLE route_registry ALTER COLUMN enabled SET DEFAULT false",
        "~ column route_registry.enabled: boolean NOT NULL DEFAULT true → boolean NOT NULL DEFAULT false",
    ),
    "column nullability": (
        "ALTER TABLE route_registry ALTER COLUMN enabled DROP NOT NULL",
        "~ column route_registry.enabled: boolean NOT NULL DEFAULT true → boolean DEFAULT true",
    ),
    "column type": (
        "ALTER TABLE event_outbox ALTER COLUMN aggregate_id TYPE text",
        "~ column event_outbox.aggregate_id: uuid → text",
    ),
    "foreign key action": (
        "ALTER TABLE iu_piece_membership DROP CONSTRAINT iu_piece_membership_piece_id_fkey, "
        "ADD CONSTRAINT iu_piece_membership_piece_id_fkey FOREIGN KEY (piece_id) REFERENCES information_unit(id) "
        "ON DELETE CASCADE",
        "~ constraint iu_piece_membership.iu_piece_membership_piece_id_fkey: FOREIGN KEY (piece_id) REFERENCES "
        "information_unit(id) → FOREIGN KEY (piece_id) REFERENCES information_unit(id) ON DELETE CASCADE",
    ),
    "CHECK dropped": (
        "ALTER TABLE information_unit DROP CONSTRAINT information_unit_lifecycle_state_check",
        "- constraint information_unit.information_unit_lifecycle_state_check",
    ),
    "index dropped": (
        "DROP INDEX iu_piece_membership_piece_id_idx",
        "- index iu_piece_membership_piece_id_idx on iu_piece_membership",
    ),
    "grant": ("GRANT DELETE ON iu_core_config TO PUBLIC", "+ grant table iu_core_config"),
}


@pytest.mark.claim("S-12")
@pytest.mark.readonly
def test_the_inventory_matches_the_pins_for_this_head(db, evidence, iu_target):
    """Tables, columns, constraints, indexes, views, functions, triggers, grants and surfaces equal the pins."""
    live = pins.inventory(db)
    want = pins.pinned(iu_target.head)
    evidence.record("head", iu_target.head)
    evidence.record("counts", pins.counts(live))
    evidence.expect(
        "difference from the pins",
        have=pins.diff(want, live),
        want=[],
        note="`make pins` prints the live inventory; bump fixtures/pins.toml in the same change",
    )
    unshaped = [f"{kind} {name}" for kind in pins.KINDS for name, shape in want[kind].items() if not shape]
    evidence.expect_no_rows("pinned names without a shape (a names-only pin pins no shape)", unshaped)
    if "035" in pins.load():
        evidence.record("counts at 035 (pinned)", pins.counts(pins.pinned("035")))


@pytest.mark.claim("S-12")
@pytest.mark.intrusive
@pytest.mark.head("036")
def test_each_reshaping_alone_shows_as_exactly_one_readable_line(db, evidence, iu_target):
    """Each single change of a pinned shape (trigger, function, column, key, CHECK, index, grant) is one diff line."""
    want = pins.pinned(iu_target.head)
    evidence.expect("difference before any change", have=pins.diff(want, pins.inventory(db)), want=[])
    seen = {}
    for name, (statement, line) in RESHAPES.items():
        with db.transaction(force_rollback=True):
            db.execute(statement)
            have = pins.diff(want, pins.inventory(db))
        seen[name] = have
        evidence.expect(f"{name}: one difference line", have=len(have), want=1, rows=have)
        evidence.expect_true(f"{name}: the line reads {line!r}", have and have[0].startswith(line), rows=have)
    evidence.record("difference lines", seen)
    evidence.expect("difference after every change is undone", have=pins.diff(want, pins.inventory(db)), want=[])
