"""S-2: the gates are configuration rows at their shipped defaults."""

import pytest

from proofs._substrate import GATES, sqlstate_of


@pytest.mark.claim("S-2")
@pytest.mark.readonly
def test_every_gate_is_at_its_shipped_default(db, evidence):
    """Every iu_core gate is present at its shipped default, and an unknown key is an error."""
    rows = db.execute(
        "SELECT key, value FROM iu_core_config WHERE key = ANY(%s) ORDER BY key", [list(GATES)]
    ).fetchall()
    have = {key: value for key, value in rows}
    wrong = [(k, have.get(k, "<missing>"), v) for k, v in GATES.items() if have.get(k, object()) != v]
    evidence.expect("gates (key, have, want)", have=have, want=GATES, rows=wrong)
    state, message = sqlstate_of(db, "SELECT fn_iu_core_gate('iu_core.no_such_gate')")
    evidence.expect("unknown key SQLSTATE", have=state, want="IU001", note=message)
    evidence.record("unknown key message", message)


@pytest.mark.claim("S-2")
def test_a_gate_toggled_in_a_rolled_back_transaction_leaves_no_trace(rolled_back, evidence):
    """A gate toggled inside a transaction that is rolled back is back at its default afterwards."""
    key = "iu_core.auto_instantiate_enabled"
    with rolled_back() as db:
        before = db.execute("SELECT value, updated_at, updated_by FROM iu_core_config WHERE key = %s", [key]).fetchone()
        db.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-prove')", [key])
        inside = db.execute("SELECT fn_iu_core_gate(%s)", [key]).fetchone()[0]
    with rolled_back() as db:
        after = db.execute("SELECT value, updated_at, updated_by FROM iu_core_config WHERE key = %s", [key]).fetchone()
    evidence.expect("gate inside the transaction", have=inside, want=True)
    evidence.expect("config row after rollback", have=list(after), want=list(before))


@pytest.mark.claim("S-2")
def test_setting_an_unknown_key_is_refused_and_writes_nothing(db, evidence):
    """Setting an unknown config key is refused (IU001, naming the key) and writes nothing."""
    config = "SELECT key, value, updated_at, updated_by FROM iu_core_config ORDER BY key"
    before = db.execute(config).fetchall()
    state, message = sqlstate_of(db, "SELECT fn_iu_core_config_set('iu_core.no_such_gate', 'true'::jsonb, 'iu-prove')")
    evidence.expect("unknown key SQLSTATE", have=state, want="IU001", note=message)
    evidence.expect_true("the message names the key", "iu_core.no_such_gate" in message, rows=[message])
    evidence.expect("config rows", have=db.execute(config).fetchall(), want=before)
