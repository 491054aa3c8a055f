"""D-7: the healthcheck surface envelope_lineage_trigger (migration 037): green on
the shipped state, red when the trigger is missing, disabled, rebound, reshaped,
doubled, or has logged a refresh fault in the last 24 hours.

Oracle: the trigger's shape as the seed states it (AFTER INSERT, FOR EACH ROW,
on the lineage table, calling its function, enabled), written out here.
Conditions, each broken alone: presence; enabled state (disabled, replica-only;
ENABLE ALWAYS stays green); function; timing (BEFORE); events (INSERT OR UPDATE,
UPDATE only); level (FOR EACH STATEMENT); a second trigger calling the function;
a logged fault.
Boundaries: a fault 24 hours old exactly (outside the window), one microsecond
younger (inside), 23 and 25 hours.
"""

import pytest

from iu_prove import pins
from proofs._substrate import GATE_STATES, check_with_gate
from proofs.d_envelope_refresh._envelope import (
    AUDIT,
    ERROR_LOG,
    LINEAGE,
    SURFACE,
    SURFACE_FUNCTION,
    SURFACE_POSITION,
    TEMPLATE,
    TRIGGER,
    TRIGGER_FUNCTION,
    instantiate_live,
    open_gates,
    surface,
)

FAULT = (
    "CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_refresh_if_stale(p_reason text) RETURNS boolean "
    "LANGUAGE plpgsql AS $f$ BEGIN RAISE EXCEPTION 'injected envelope fault for the healthcheck'; END $f$"
)
RECREATE = f"DROP TRIGGER {TRIGGER} ON {LINEAGE}; CREATE TRIGGER {TRIGGER} "

# Each breakage (SQL run in a savepoint) and the words the red detail must contain.
BREAKAGES = {
    "trigger dropped": ([f"DROP TRIGGER {TRIGGER} ON {LINEAGE}"], "missing"),
    "trigger disabled": ([f"ALTER TABLE {LINEAGE} DISABLE TRIGGER {TRIGGER}"], "not enabled"),
    "trigger rebound": (
        [RECREATE + f"AFTER INSERT ON {LINEAGE} FOR EACH ROW EXECUTE FUNCTION fn_iu_trg_set_updated_at()"],
        f"expected {TRIGGER_FUNCTION}",
    ),
    "trigger replica-only": ([f"ALTER TABLE {LINEAGE} ENABLE REPLICA TRIGGER {TRIGGER}"], "not enabled"),
    "trigger BEFORE INSERT": (
        [RECREATE + f"BEFORE INSERT ON {LINEAGE} FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}()"],
        "AFTER INSERT FOR EACH ROW",
    ),
    "trigger AFTER INSERT OR UPDATE": (
        [RECREATE + f"AFTER INSERT OR UPDATE ON {LINEAGE} FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}()"],
        "AFTER INSERT FOR EACH ROW",
    ),
    "trigger AFTER UPDATE": (
        [RECREATE + f"AFTER UPDATE ON {LINEAGE} FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}()"],
        "AFTER INSERT FOR EACH ROW",
    ),
    "trigger per statement": (
        [RECREATE + f"AFTER INSERT ON {LINEAGE} FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER_FUNCTION}()"],
        "AFTER INSERT FOR EACH ROW",
    ),
    "second trigger on the audit log": (
        [f"CREATE TRIGGER trg_proof_second AFTER INSERT ON {AUDIT} FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}()"],
        "other trigger(s) call",
    ),
    "refresh fault logged": ([FAULT], "refresh fault(s) in the last 24 hours"),
}


@pytest.mark.claim("D-7")
@pytest.mark.readonly
def test_the_trigger_line_is_registered_and_green_on_the_shipped_state(db, evidence):
    """Surface envelope_lineage_trigger is registered at position 90 (surfaces 8 -> 9 at 037) and green."""
    registry = db.execute(
        "SELECT check_function, position, registered_in FROM iu_healthcheck_surface WHERE surface = %s", [SURFACE]
    ).fetchone()
    evidence.expect("registry row", have=registry, want=(SURFACE_FUNCTION, SURFACE_POSITION, "037"))
    line = surface(db)
    evidence.expect("healthcheck line ok", have=line[0], want=True, note=line[1])
    evidence.record("detail", line[1])
    evidence.expect_true("detail names the trigger", TRIGGER in line[1])
    pinned = pins.load()
    surfaces = {head: pinned[head]["healthcheck_surfaces"] for head in ("035", "036", "037")}
    evidence.record("surfaces pinned (035, 036, 037)", {h: len(s) for h, s in surfaces.items()})
    evidence.expect(
        "surfaces added 035 -> 037", have=[s for s in surfaces["037"] if s not in surfaces["035"]], want=[SURFACE]
    )
    evidence.expect("surfaces pinned at 037", have=len(surfaces["037"]), want=9)


@pytest.mark.claim("D-7")
@pytest.mark.intrusive
def test_the_trigger_line_turns_red_under_each_breakage_and_green_again(db, evidence):
    """Each breakage of the trigger (or a fault it logged) turns the line red, naming it; undone, the line is green."""
    open_gates(db, refresh=True)
    seen = {}
    for name, (statements, words) in BREAKAGES.items():
        with db.transaction(force_rollback=True):
            for statement in statements:
                db.execute(statement)
            if name == "refresh fault logged":
                instantiate_live(db, TEMPLATE)
            ok, detail = surface(db)
            seen[name] = {"ok": ok, "detail": detail}
            evidence.expect(f"{name}: ok", have=ok, want=False, note=detail)
            evidence.expect_true(f"{name}: detail says {words!r}", words in detail, note=detail)
    evidence.record("red lines", seen)
    evidence.expect("line after every breakage is undone", have=surface(db)[0], want=True)
    with db.transaction(force_rollback=True):
        db.execute(f"ALTER TABLE {LINEAGE} ENABLE ALWAYS TRIGGER {TRIGGER}")
        always = surface(db)
    evidence.expect("line with the trigger ENABLE ALWAYS (fires everywhere)", have=always[0], want=True, note=always[1])


@pytest.mark.claim("D-7")
@pytest.mark.intrusive
def test_a_fault_older_than_24_hours_no_longer_turns_the_line_red(db, evidence):
    """A logged fault of the trigger older than 24 hours leaves the line green (the window is 24 hours)."""
    db.execute(
        f"INSERT INTO {ERROR_LOG} (occurred_at, source, sqlstate, message) "
        "VALUES (now() - interval '25 hours', %s, 'P0001', 'old fault'), "
        "(now() - interval '23 hours', %s, 'P0001', 'recent')",
        [TRIGGER, TRIGGER],
    )
    with db.transaction(force_rollback=True):
        db.execute(f"DELETE FROM {ERROR_LOG} WHERE message = 'recent' AND source = %s", [TRIGGER])
        old_only = surface(db)
    evidence.expect("line with a 25-hour-old fault only", have=old_only[0], want=True, note=old_only[1])
    both = surface(db)
    evidence.expect("line with a 23-hour-old fault too", have=both[0], want=False, note=both[1])
    evidence.expect_true("detail counts one recent fault", both[1].startswith("1 refresh fault(s)"), note=both[1])
    db.execute(f"DELETE FROM {ERROR_LOG} WHERE source = %s AND message IN ('old fault', 'recent')", [TRIGGER])
    at = {}
    for label, age in (("exactly 24 hours", "24 hours"), ("24 hours less 1 microsecond", "24 hours - 1 microsecond")):
        with db.transaction(force_rollback=True):
            db.execute(
                f"INSERT INTO {ERROR_LOG} (occurred_at, source, sqlstate, message) "
                "VALUES (now() - %s::interval, %s, 'P0001', 'edge')",
                [age, TRIGGER],
            )
            at[label] = surface(db)[0]
    evidence.expect(
        "line with a fault at the window's edge",
        have=at,
        want={"exactly 24 hours": True, "24 hours less 1 microsecond": False},
    )


@pytest.mark.claim("D-7")
@pytest.mark.parametrize("state", list(GATE_STATES))
def test_the_trigger_line_names_the_auto_refresh_gate_open_closed_invalid_or_missing(db, evidence, state):
    """The green trigger line ends naming the auto-refresh gate: open, closed, invalid or missing."""
    ok, detail = check_with_gate(db, SURFACE_FUNCTION, "iu_core.three_axis_auto_refresh_enabled", state)
    evidence.expect("ok", have=ok, want=True, note=detail)
    want = f"auto-refresh gate {state}"
    evidence.expect("detail ends with", have=detail[-len(want) :], want=want, note=detail)


@pytest.mark.claim("D-7")
@pytest.mark.parametrize("sqlstate", ["P0001", None], ids=["with-sqlstate", "NULL-sqlstate"])
def test_a_fault_line_quotes_the_latest_message_cut_at_200_characters(db, evidence, sqlstate):
    """A red fault line names the latest fault's SQLSTATE ('?' if none) and its message's first 200 characters."""
    message = "".join(chr(ord("a") + i % 26) for i in range(250))
    db.execute(
        f"INSERT INTO {ERROR_LOG} (occurred_at, source, sqlstate, message) VALUES (now(), %s, %s, %s)",
        [TRIGGER, sqlstate, message],
    )
    ok, detail = surface(db)
    evidence.expect("ok", have=ok, want=False, note=detail)
    quoted = detail.split(f" {sqlstate or '?'}: ", 1)
    evidence.expect("SQLSTATE shown", have=len(quoted), want=2, note=detail)
    evidence.expect(
        "message quoted (its first 200 characters, nothing more)", have=quoted[-1][:201], want=message[:200]
    )
