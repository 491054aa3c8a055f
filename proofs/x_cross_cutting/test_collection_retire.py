"""X-3: dot_iu_collection_retire retires exactly one actor's instances; envelopes follow the auto-refresh gate."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from psycopg.rows import dict_row

from iu_prove import changes
from iu_prove.profiles import scaleout_sizes
from proofs.x_cross_cutting._support import (
    AUDIT,
    BACKGROUND_ACTOR,
    GATE_REFRESH,
    LINEAGE,
    LOOK_ALIKES,
    VECTOR,
    actors,
    fingerprints,
    instance_ids,
    instantiate_batch,
    look_alike,
    set_gate,
    sqlstate_of,
)

RETIRE = "SELECT * FROM dot_iu_collection_retire(%s, %s)"
UNTOUCHED = ["iu_piece_membership", LINEAGE, AUDIT, "event_outbox", VECTOR, "iu_collection_template"]
ENVELOPE_TABLES = ["iu_three_axis_envelope", "iu_three_axis_envelope_dirty", "iu_three_axis_envelope_refresh_log"]


def _retire(db: psycopg.Connection, actor: str, dry_run: bool) -> dict[str, Any]:
    return db.cursor(row_factory=dict_row).execute(RETIRE, [actor, dry_run]).fetchone()


def _units(db: psycopg.Connection) -> changes.Watch:
    """Units whose kind, lifecycle state or updated_at change from here on (change capture)."""
    return changes.Watch(db, "information_unit", "id", ["kind", "lifecycle_state", "updated_at"])


def _dirty(db: psycopg.Connection) -> set[uuid.UUID]:
    return {r[0] for r in db.execute("SELECT collection_id FROM iu_three_axis_envelope_dirty").fetchall()}


def _envelopes(db: psycopg.Connection) -> changes.Watch:
    """Envelope rows whose counts or refreshed_at change from here on (change capture)."""
    return changes.Watch(
        db, "iu_three_axis_envelope", "collection_id", ["axis_a_count", "axis_b_count", "axis_c_count", "refreshed_at"]
    )


def _refresh_rows(db: psycopg.Connection) -> dict[uuid.UUID, tuple]:
    rows = db.execute("SELECT id, reason, refreshed_collections FROM iu_three_axis_envelope_refresh_log").fetchall()
    return {r[0]: (r[1], frozenset(r[2])) for r in rows}


def _mismatched_envelopes(db: psycopg.Connection, ids: set[uuid.UUID]) -> list[tuple]:
    return db.execute(
        """SELECT e.collection_id, e.axis_a_count, e.axis_b_count, e.axis_c_count, c.*
             FROM iu_three_axis_envelope e CROSS JOIN LATERAL fn_iu_three_axis_envelope_compute(e.collection_id) c
            WHERE e.collection_id = ANY (%s)
              AND (e.axis_a_count, e.axis_b_count, e.axis_c_count)
                  IS DISTINCT FROM (c.axis_a_count, c.axis_b_count, c.axis_c_count)""",
        [list(ids)],
    ).fetchall()


@pytest.mark.claim("X-3")
@given(
    n=scaleout_sizes(),
    actor=actors("iu-x3-"),
    other_kind=st.sampled_from(LOOK_ALIKES),
    other_n=st.integers(min_value=0, max_value=4),
    auto_refresh=st.booleans(),
)
@example(n=20, actor="iu-core-20x-bulk", other_kind="suffix", other_n=2, auto_refresh=False)
@example(n=40, actor="iu-core-40x-bulk", other_kind="prefix", other_n=3, auto_refresh=True)
def test_retire_dry_run_changes_nothing_and_live_retires_exactly_the_actors_instances(
    rolled_back, evidence, n, actor, other_kind, other_n, auto_refresh
):
    """Retire: dry run changes nothing; live retires exactly the actor's instances; envelopes follow the gate."""
    evidence.add("N", n)
    other = look_alike(actor, other_kind)
    with rolled_back() as db:
        instantiate_batch(db, actor, n)
        instantiate_batch(db, other, other_n)
        db.execute("SELECT fn_iu_three_axis_envelope_refresh_if_stale('iu-prove')")  # no dirty mark left
        set_gate(db, GATE_REFRESH, auto_refresh)
        mine = instance_ids(db, actor)
        units, dirty, envelopes, refreshes = _units(db), _dirty(db), _envelopes(db), _refresh_rows(db)
        untouched = fingerprints(db, UNTOUCHED)
        envelope_prints = fingerprints(db, ENVELOPE_TABLES)

        dry = _retire(db, actor, True)
        evidence.expect(
            "dry run counts (instances, to_retire, retired)",
            have=[dry["instances"], dry["to_retire"], dry["retired"]],
            want=[len(mine), len(mine), 0],
        )
        evidence.expect(
            "dry run reports no envelope effect (dirty, refreshes)",
            have=[dry["envelopes_dirty"], dry["envelope_refreshes"]],
            want=[0, 0],
        )
        evidence.expect(
            "dry run changes nothing",
            have=[units.changed() == {}, fingerprints(db, ENVELOPE_TABLES) == envelope_prints],
            want=[True, True],
        )

        live = _retire(db, actor, False)
        spans = {uuid.UUID(i): span for i, span in units.changed().items()}
        changed = set(spans)
        evidence.add("retired / instances", [live["retired"], len(mine)])
        evidence.expect_no_rows(
            "units changed that are not the actor's instances, or instances left unchanged",
            sorted((str(i), *spans.get(i, ("unchanged", "unchanged"))) for i in changed ^ mine),
        )
        evidence.expect_no_rows(
            "changed units not now a retired collection",
            sorted((str(i), spans[i][1]) for i in changed if (spans[i][1] or ())[:2] != ("collection", "retired")),
        )
        evidence.expect("reported retired", have=live["retired"], want=len(mine))
        evidence.expect(
            "memberships, lineage, audit, outbox, vector ledger, templates",
            have=fingerprints(db, UNTOUCHED),
            want=untouched,
        )

        new_dirty = _dirty(db) - dirty
        new_refreshes = {k: v for k, v in _refresh_rows(db).items() if k not in refreshes}
        refreshed = frozenset().union(*(v[1] for v in new_refreshes.values()))
        evidence.record("auto-refresh gate", auto_refresh)
        if auto_refresh:
            evidence.expect(
                "gate open: one lifecycle refresh per instance, covering exactly the instances, none left dirty",
                have=[
                    len(new_refreshes),
                    sorted({v[0] for v in new_refreshes.values()}),
                    refreshed == mine,
                    len(_dirty(db) & mine),
                ],
                want=[len(mine), ["iu_lifecycle_trigger"] if mine else [], True, 0],
            )
            evidence.expect_no_rows("instance envelopes differing from recomputation", _mismatched_envelopes(db, mine))
        else:
            evidence.expect(
                "gate closed: every instance marked dirty, no refresh, cached envelopes unchanged",
                have=[new_dirty == mine, len(new_refreshes), envelopes.changed() == {}],
                want=[True, 0, True],
            )
        evidence.expect(
            "reported envelope effect (dirty, refreshes)",
            have=[live["envelopes_dirty"], live["envelope_refreshes"]],
            want=[0, len(mine)] if auto_refresh else [len(mine), 0],
        )
        again = _retire(db, actor, False)
        evidence.expect(
            "a second live run retires nothing more (already_retired, to_retire, retired, envelopes_dirty)",
            have=[again["already_retired"], again["to_retire"], again["retired"], again["envelopes_dirty"]],
            want=[len(mine), 0, 0, 0],
        )


@pytest.mark.claim("X-3")
def test_retire_of_the_background_actor_retires_its_twelve_instances_and_spares_dieu(db, evidence):
    """Retiring iu-core-12x-bulk retires its 12 BULK12-* instances; DIEU and every piece stay as they were."""
    want = sorted(
        f"BULK12-{code}-v{version}" for code, version in db.execute("SELECT code, version FROM iu_collection_template")
    )
    units = _units(db)
    dry = _retire(db, BACKGROUND_ACTOR, True)
    evidence.expect("dry run (instances, to_retire)", have=[dry["instances"], dry["to_retire"]], want=[12, 12])
    live = _retire(db, BACKGROUND_ACTOR, False)
    spans = units.changed()
    changed = sorted(
        r[0] for r in db.execute("SELECT code FROM information_unit WHERE id = ANY (%s::uuid[])", [list(spans)])
    )
    evidence.expect("retired collections", have=changed, want=want)
    evidence.expect(
        "reported (retired, envelopes_dirty)", have=[live["retired"], live["envelopes_dirty"]], want=[12, 12]
    )
    dieu = db.execute(
        "SELECT u.lifecycle_state, e.axis_a_count, e.axis_b_count, e.axis_c_count FROM information_unit u "
        "JOIN iu_three_axis_envelope e ON e.collection_id = u.id WHERE u.code = 'DIEU'"
    ).fetchone()
    evidence.expect("DIEU (state, envelope)", have=list(dieu), want=["active", 27, 23, 36])
    evidence.expect(
        "pieces whose state changed",
        have=sum(1 for before, after in spans.values() if (before or after)[0] == "piece"),
        want=0,
    )


@pytest.mark.claim("X-3")
def test_retire_refuses_a_pattern_or_empty_actor_and_writes_nothing(db, evidence):
    """Retire refuses a pattern, empty or NULL actor (IU003) and a NULL dry_run (IU006), writing nothing."""
    units = _units(db)
    cases = {
        "pattern %": ["iu-core-%", True],
        "pattern *": ["iu-core-*", False],
        "empty": ["", False],
        "NULL actor": [None, False],
        "NULL dry_run": [BACKGROUND_ACTOR, None],
    }
    have = {name: sqlstate_of(db, RETIRE, params)[0] for name, params in cases.items()}
    evidence.expect(
        "SQLSTATE per refusal",
        have=have,
        want={
            "pattern %": "IU003",
            "pattern *": "IU003",
            "empty": "IU003",
            "NULL actor": "IU003",
            "NULL dry_run": "IU006",
        },
    )
    evidence.expect("units unchanged", have=units.changed(), want={})
