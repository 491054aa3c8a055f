"""S-2: the gates are configuration rows at their shipped defaults."""

import psycopg
import pytest

from proofs._substrate import GATES, LOCK_CONFIG_ROWS, sqlstate_of


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


def refusal(db, query: str, params: list) -> tuple[str | None, str, str]:
    """Run in a savepoint: (SQLSTATE, message, hint) of the error raised, or (None, '', '')."""
    try:
        with db.transaction():
            db.execute(query, params)
    except psycopg.Error as exc:
        return exc.sqlstate, exc.diag.message_primary or "", exc.diag.message_hint or ""
    return None, "", ""


CONFIG_CALLS = {
    "get": "SELECT fn_iu_core_config_get(%s)",
    "set": "SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-prove')",
}


@pytest.mark.claim("S-2")
@pytest.mark.parametrize("emptied", [False, True], ids=["shipped-keys", "no-keys-at-all"])
@pytest.mark.parametrize("key", ["iu_core.no_such_gate", None], ids=["unknown-key", "NULL-key"])
@pytest.mark.parametrize("call", list(CONFIG_CALLS))
def test_reading_or_setting_an_unknown_key_is_refused_naming_it_and_every_known_key(db, evidence, call, key, emptied):
    """Reading or setting an unknown or NULL key is refused (IU001) naming it and every known key, or none."""
    if emptied:
        db.execute(LOCK_CONFIG_ROWS)  # 045's order: a concurrent setter waits instead of deadlocking
        db.execute("DELETE FROM iu_core_config")
    keys = {r[0] for r in db.execute("SELECT key FROM iu_core_config").fetchall()}
    state, message, hint = refusal(db, CONFIG_CALLS[call], [key])
    evidence.expect("SQLSTATE", have=state, want="IU001", note=message)
    named = "NULL" if key is None else "'" + key.replace("'", "''") + "'"
    evidence.expect("message", have=message, want=f"config refused: unknown config key {named}")
    prefix = "known keys: "
    listed = hint[len(prefix) :].split(", ") if hint.startswith(prefix) else [hint]
    evidence.expect("hint: the known keys", have=sorted(listed), want=sorted(keys) if keys else ["none"], rows=[hint])


@pytest.mark.claim("S-2")
@pytest.mark.parametrize("value", [None, "null"], ids=["SQL-NULL", "JSON-null"])
def test_setting_a_key_to_null_is_refused_and_writes_nothing(db, evidence, value):
    """Setting a known key to SQL NULL or to JSON null is refused (IU006, naming the key) and writes nothing."""
    key = "iu_core.auto_instantiate_enabled"
    config = "SELECT key, value, updated_at, updated_by FROM iu_core_config ORDER BY key"
    before = db.execute(config).fetchall()
    state, message, _hint = refusal(db, "SELECT fn_iu_core_config_set(%s, %s::jsonb, 'iu-prove')", [key, value])
    evidence.expect("SQLSTATE", have=state, want="IU006", note=message)
    evidence.expect("message", have=message, want=f"config refused: value for {key} is NULL")
    evidence.expect("config rows", have=db.execute(config).fetchall(), want=before)
