"""G-11: gate rows are locked in one fixed order (migration 045): two sessions
toggling two gates in opposite orders both finish, no deadlock."""

from __future__ import annotations

import threading
import time

import pytest

from iu_prove.dsn import connect

GATE_1 = "iu_core.delivery_enabled"
GATE_2 = "iu_core.retention_enabled"


def _blocked_on_a_lock(watcher, pid: int) -> bool:
    row = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return bool(row) and row[0] == "Lock"


@pytest.mark.claim("G-11")
@pytest.mark.durable
def test_two_sessions_toggling_two_gates_in_opposite_orders_both_finish(fresh_database, evidence):
    """Two sessions toggling two gates in opposite orders both commit: no deadlock, the second waits for the first."""
    outcome: dict[str, object] = {}

    def session_b(conn) -> None:
        try:
            conn.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-core-lock-b')", [GATE_2])
            conn.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-core-lock-b')", [GATE_1])
            conn.commit()
            outcome["b"] = "committed"
        except Exception as exc:
            conn.rollback()
            outcome["b"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

    with (
        connect(fresh_database) as a,
        connect(fresh_database) as b,
        connect(fresh_database, autocommit=True) as watcher,
    ):
        for conn in (a, b):
            conn.execute("SET lock_timeout = '20s'")
            # A short deadlock_timeout makes a deadlock show at once; only a superuser may set it,
            # and without it the server's (1 s) still detects one well inside the lock_timeout.
            if conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
                conn.execute("SET deadlock_timeout = '200ms'")
            conn.commit()
        b_pid = b.execute("SELECT pg_backend_pid()").fetchone()[0]
        b.commit()
        a.execute("SELECT fn_iu_core_config_set(%s, 'false'::jsonb, 'iu-core-lock-a')", [GATE_1])
        thread = threading.Thread(target=session_b, args=(b,))
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _blocked_on_a_lock(watcher, b_pid) and thread.is_alive():
            time.sleep(0.05)
        outcome["b waited for a lock while a held gate 1"] = _blocked_on_a_lock(watcher, b_pid)
        try:
            a.execute("SELECT fn_iu_core_config_set(%s, 'false'::jsonb, 'iu-core-lock-a')", [GATE_2])
            a.commit()
            outcome["a"] = "committed"
        except Exception as exc:
            a.rollback()
            outcome["a"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        thread.join(30)
        rows = watcher.execute(
            "SELECT key, value, updated_by FROM iu_core_config WHERE key IN (%s, %s) ORDER BY key", [GATE_1, GATE_2]
        ).fetchall()
    evidence.record("outcomes", outcome)
    evidence.expect("session a (gate 1 then gate 2)", have=outcome.get("a"), want="committed")
    evidence.expect("session b (gate 2 then gate 1)", have=outcome.get("b"), want="committed")
    evidence.expect(
        "both gates after both commits (b committed last)",
        have=[list(r) for r in rows],
        want=[[GATE_1, True, "iu-core-lock-b"], [GATE_2, True, "iu-core-lock-b"]],
    )
