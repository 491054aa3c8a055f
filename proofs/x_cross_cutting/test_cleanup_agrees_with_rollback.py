"""X-2: the actor-scoped central cleanup and rollback-by-actor agree on which audit rows are the actor's.

The central cleanup prunes by age, rollback-by-actor does not; so the central
cleanup is run with ``p_now`` = clock_timestamp() + the audit policy's retain +
1 day, which puts every audit row written so far past the horizon. Under that
horizon the two must pick the very same rows: compared as counts (dry runs)
and as row ids (each live run inside its own savepoint, rolled back after).
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from iu_prove.profiles import scaleout_sizes
from proofs.x_cross_cutting._support import (
    AUDIT,
    BACKGROUND_ACTOR,
    GATE_RETENTION,
    LOOK_ALIKES,
    RETENTION_FIXTURE_ACTOR,
    actors,
    ids_of,
    instantiate_batch,
    look_alike,
    scalar,
    set_gate,
)

FUTURE_NOW = f"""
SELECT clock_timestamp() + p.retain + interval '1 day' FROM iu_core_retention_policy p WHERE p.table_name = '{AUDIT}'
"""
CENTRAL_DRY = "SELECT expired_rows FROM fn_iu_core_retention_cleanup(true, %s::timestamptz, %s) WHERE table_name = %s"
ROLLBACK_DRY = "SELECT affected_rows FROM fn_iu_auto_instantiate_rollback_by_actor(%s, true) WHERE table_name = %s"


def _deleted_by(db: psycopg.Connection, query: str, params: list) -> set[uuid.UUID]:
    """Audit row ids a live call deletes, observed inside a savepoint that is rolled back afterwards."""
    before = ids_of(db, AUDIT)
    with db.transaction(force_rollback=True):
        db.execute(query, params).fetchall()
        after = ids_of(db, AUDIT)
    return before - after


def _agreement(db: psycopg.Connection, actor: str) -> dict[str, object]:
    future = scalar(db, FUTURE_NOW)
    central = scalar(db, CENTRAL_DRY, [future, actor, AUDIT])
    rollback = scalar(db, ROLLBACK_DRY, [actor, AUDIT])
    set_gate(db, GATE_RETENTION, True)
    central_ids = _deleted_by(
        db, "SELECT * FROM fn_iu_core_retention_cleanup(false, %s::timestamptz, %s)", [future, actor]
    )
    rollback_ids = _deleted_by(db, "SELECT * FROM fn_iu_auto_instantiate_rollback_by_actor(%s, false)", [actor])
    set_gate(db, GATE_RETENTION, False)
    return {
        "central": central,
        "rollback": rollback,
        "central_ids": central_ids,
        "rollback_ids": rollback_ids,
        "actor_ids": ids_of(db, AUDIT, "triggered_by = %s", [actor]),
    }


@pytest.mark.claim("X-2")
@given(
    n=scaleout_sizes(),
    actor=actors("iu-x2-"),
    dry_runs=st.integers(min_value=0, max_value=3),
    other_kind=st.sampled_from(LOOK_ALIKES),
    other_n=st.integers(min_value=0, max_value=3),
)
@example(n=20, actor="iu-core-20x-bulk", dry_runs=1, other_kind="suffix", other_n=2)
@example(n=40, actor="iu-core-40x-bulk", dry_runs=2, other_kind="prefix", other_n=3)
def test_central_cleanup_and_rollback_by_actor_pick_the_same_audit_rows_of_a_batch(
    rolled_back, evidence, n, actor, dry_runs, other_kind, other_n
):
    """On one batch, actor-scoped cleanup and rollback-by-actor pick the same audit rows: counts and row ids."""
    evidence.add("N", n)
    other = look_alike(actor, other_kind)
    with rolled_back() as db:
        pre = scalar(db, f"SELECT count(*) FROM {AUDIT} WHERE triggered_by = %s", [actor])
        instantiate_batch(db, actor, n, dry_runs=dry_runs)
        instantiate_batch(db, other, other_n)
        seen = _agreement(db, actor)
        evidence.add("central / rollback / batch", [seen["central"], seen["rollback"], pre + n + dry_runs])
        evidence.expect(
            "dry-run audit count: central vs rollback-by-actor", have=seen["central"], want=seen["rollback"]
        )
        evidence.expect("dry-run audit count vs the batch", have=seen["rollback"], want=pre + n + dry_runs)
        evidence.expect_no_rows(
            "audit rows only one of the two live runs deletes",
            sorted(map(str, seen["central_ids"] ^ seen["rollback_ids"])),
        )
        evidence.expect_no_rows(
            "deleted audit rows that are not the actor's (or the actor's left out)",
            sorted(map(str, seen["central_ids"] ^ seen["actor_ids"])),
        )


@pytest.mark.claim("X-2")
def test_central_cleanup_and_rollback_by_actor_agree_on_the_fixture_actors(db, evidence):
    """For the fixture actors, both paths name the same audit rows: 12 background and 5 retention-fixture rows."""
    seen = {actor: _agreement(db, actor) for actor in (BACKGROUND_ACTOR, RETENTION_FIXTURE_ACTOR)}
    evidence.expect(
        "dry-run audit counts (central, rollback-by-actor)",
        have={a: [s["central"], s["rollback"]] for a, s in seen.items()},
        want={BACKGROUND_ACTOR: [12, 12], RETENTION_FIXTURE_ACTOR: [5, 5]},
    )
    evidence.expect(
        "live: same audit row ids deleted",
        have={a: s["central_ids"] == s["rollback_ids"] == s["actor_ids"] for a, s in seen.items()},
        want={BACKGROUND_ACTOR: True, RETENTION_FIXTURE_ACTOR: True},
        rows=[(a, sorted(map(str, s["central_ids"] ^ s["rollback_ids"]))) for a, s in seen.items()],
    )
    # why p_now is moved: at now() the central cleanup sees only the expired part of the actor's rows
    evidence.record(
        "at p_now = now(): central vs rollback-by-actor (retention fixture actor)",
        [scalar(db, CENTRAL_DRY, ["now", RETENTION_FIXTURE_ACTOR, AUDIT]), seen[RETENTION_FIXTURE_ACTOR]["rollback"]],
    )
