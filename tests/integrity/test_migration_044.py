"""Migration 044 at both heads: the same envelope behaviour with and without it,
plans re-made per call at 044, and a down script that restores 043 exactly."""

from __future__ import annotations

import pytest

from iu_prove import migrations, paths, seed
from iu_prove.dsn import connect

DOWN = paths.MIGRATIONS / "down" / "044_replan_substrate_functions.down.sql"
REPLACED = (
    "fn_iu_membership_digest(uuid)",
    "fn_iu_pieces_digest(text[])",
    "fn_iu_compose_validate(text,text[])",
    "fn_iu_compose(text,text[],text)",
    "fn_iu_three_axis_envelope_compute(uuid)",
    "fn_iu_three_axis_envelope_store(uuid[])",
    "fn_iu_three_axis_envelope_mark_dirty(uuid[],text)",
    "fn_iu_three_axis_envelope_refresh_if_stale(text)",
    "fn_iu_trg_lifecycle_envelope_dirty()",
    "dot_iu_auto_instantiate_from_event(text,text,boolean,integer,text)",
)


def _definitions(dsn: str) -> dict[str, tuple[str, str | None]]:
    """Each replaced function's full definition and its comment."""
    with connect(dsn) as conn:
        rows = {
            sig: conn.execute(
                "SELECT pg_get_functiondef(%s::regprocedure), obj_description(%s::regprocedure, 'pg_proc')",
                [sig, sig],
            ).fetchone()
            for sig in REPLACED
        }
        conn.rollback()
    return rows


def _dirty_columns(dsn: str) -> list[str]:
    with connect(dsn) as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'iu_three_axis_envelope_dirty'::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
        ]
        conn.rollback()
    return cols


def _refresh_story(dsn: str) -> list[tuple[bool, list[str]]]:
    """Refreshes in one transaction, each after marking different collections dirty:
    (returned, codes of the collections the refresh logged)."""
    story = []
    with connect(dsn) as conn:
        codes = [
            r[0] for r in conn.execute("SELECT code FROM information_unit WHERE kind = 'collection' ORDER BY code")
        ]
        steps = [codes[0:2], [], [codes[2]], [codes[0]], [codes[3], codes[4]], []]
        for step in steps:
            if step:
                conn.execute(
                    "SELECT fn_iu_three_axis_envelope_mark_dirty("
                    "ARRAY(SELECT id FROM information_unit WHERE code = ANY(%s)), 'test-044')",
                    [step],
                )
            done = conn.execute("SELECT fn_iu_three_axis_envelope_refresh_if_stale('test-044')").fetchone()[0]
            logged = conn.execute(
                "SELECT coalesce(array_agg(u.code ORDER BY u.code), '{}') FROM iu_three_axis_envelope_refresh_log l "
                "CROSS JOIN LATERAL unnest(l.refreshed_collections) c(id) JOIN information_unit u ON u.id = c.id "
                "WHERE l.id = (SELECT id FROM iu_three_axis_envelope_refresh_log WHERE reason = 'test-044' "
                "ORDER BY occurred_at DESC, id LIMIT 1) AND %s",
                [done],
            ).fetchone()[0]
            story.append((done, list(logged)))
            conn.execute("DELETE FROM iu_three_axis_envelope_refresh_log WHERE reason = 'test-044'")
        conn.rollback()
    return story


@pytest.mark.claim("S-1")
def test_044_keeps_the_envelope_behaviour_and_its_down_script_restores_043_exactly(scratch_database, psql, evidence):
    """At 043 and 044 refresh-if-stale takes exactly the marks written since; 044's down script restores 043."""
    upto_043 = [m for m in migrations.discover() if m.version <= "043"]
    with connect(scratch_database) as conn:
        migrations.apply(conn, upto_043)
        seed.load(conn)
        conn.commit()
    at_043 = _definitions(scratch_database)
    columns_043 = _dirty_columns(scratch_database)
    story_043 = _refresh_story(scratch_database)
    want_story = [
        (True, story_043[0][1]),
        (False, []),
        (True, story_043[2][1]),
        (True, story_043[3][1]),
        (True, story_043[4][1]),
        (False, []),
    ]
    evidence.expect("refresh story at 043 (returned, collections refreshed)", have=story_043, want=want_story)
    evidence.expect("collections per refresh at 043", have=[len(c) for _, c in story_043], want=[2, 0, 1, 1, 2, 0])

    with connect(scratch_database) as conn:
        applied = [m.version for m in migrations.apply(conn, upto="044")]
    evidence.expect("applied on top of 043", have=applied, want=["044"])
    with connect(scratch_database) as conn:
        configs = dict(
            conn.execute(
                "SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}') FROM pg_proc p "
                "WHERE p.oid = ANY(%s::regprocedure[])",
                [list(REPLACED)],
            ).fetchall()
        )
        conn.rollback()
    compute = "fn_iu_three_axis_envelope_compute(uuid)"
    evidence.expect(
        "replaced functions planned per call at 044",
        have=sorted(sig for sig, cfg in configs.items() if "plan_cache_mode=force_custom_plan" in cfg),
        want=sorted(sig for sig in configs if sig != compute),
    )
    evidence.expect(
        "compute: cached plans of key lookups",
        have=sorted(configs.get(compute, [])),
        want=["enable_bitmapscan=off", "enable_seqscan=off"],
    )
    evidence.expect("functions found", have=len(configs), want=len(REPLACED))
    evidence.expect("refresh story at 044", have=_refresh_story(scratch_database), want=story_043)
    evidence.expect(
        "comments kept at 044",
        have={s: d[1] for s, d in _definitions(scratch_database).items() if s != REPLACED[7]},
        want={s: d[1] for s, d in at_043.items() if s != REPLACED[7]},
    )

    result = psql.run(DOWN, dsn=scratch_database)
    evidence.expect("044 down: exit code", have=result.returncode, want=0, note=result.output)
    after = _definitions(scratch_database)
    evidence.expect(
        "functions that differ from 043 after the down script",
        have=sorted(sig for sig in REPLACED if after[sig] != at_043[sig]),
        want=[],
    )
    evidence.expect("dirty-mark columns after the down script", have=_dirty_columns(scratch_database), want=columns_043)
    with connect(scratch_database) as conn:
        evidence.expect("ledger head after the down script", have=migrations.head(conn), want="043")
        evidence.expect(
            "sequences (none at 043 or 044: rolled-back runs leave no trace)",
            have=conn.execute("SELECT count(*) FROM pg_class WHERE relkind = 'S'").fetchone()[0],
            want=0,
        )
        conn.rollback()
        reapplied = [m.version for m in migrations.apply(conn, upto="044")]
    evidence.expect("re-applied by the runner", have=reapplied[:1], want=["044"])
    evidence.expect("refresh story after re-applying", have=_refresh_story(scratch_database), want=story_043)
