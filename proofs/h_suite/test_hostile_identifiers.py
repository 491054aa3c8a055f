"""H-3: hostile identifiers through every dynamic-SQL entry point of the migrations.

Entry points (every ``format(… %I …)`` that builds SQL, ``EXECUTE`` and
``to_regprocedure``/``to_regclass`` over a built name in ``sql/migrations``):

1. 002 ``fn_iu_healthcheck_register``: ``to_regprocedure(format('public.%I()', p_check_function))``.
2. 002 ``dot_iu_healthcheck``: ``EXECUTE format('… FROM public.%I() AS c', check_function)`` over
   every registered row (a row written past the register function included).
3. 035 ``trg_iu_core_retention_policy_validate`` (``fn_iu_retention_policy_problem``): the policy's
   table and timestamp column, looked up by name in the catalog.
4. 035 ``fn_iu_core_retention_cleanup(boolean, timestamptz)``: ``EXECUTE format('SELECT count(*) /
   DELETE FROM public.%I WHERE %I < $1', table, timestamp column)``.
5. 039 ``trg_iu_core_retention_policy_validate_actor_column``: the policy's actor column.
6. 039 ``fn_iu_core_retention_cleanup(boolean, timestamptz, text)``: ``EXECUTE format('… public.%I
   WHERE %I < $1 AND %I = $2', table, timestamp column, actor column)``, the actor bound as ``$2``.

Not reachable from input, listed for completeness: 024 ``fn_iu_hc_envelope_lifecycle_trigger`` and
037 ``fn_iu_hc_envelope_refresh_trigger`` (``to_regclass(format('public.%I', …))`` over constant
table names); 042 ``fn_iu_bounded_scaleout_replan`` (``EXECUTE format('ANALYZE public.%I', …)`` over
names from ``pg_class`` filtered to a constant list). Every other ``format`` builds a message.

Oracle: a canary table that each hostile name tries to drop, and a table named by
the hostile identifier whose rows are counted in Python (expired: older than the
horizon). Conditions: registration refuses a name that is not an existing table
or column (IU007, IU050) and writes nothing; an existing oddly named one is
accepted and quoted, so the cleanup counts and deletes exactly its expired rows.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import sql

from proofs._substrate import count, healthcheck, sqlstate_of

CANARY = "iu_h3_canary"
HOSTILE = {
    "quote and semicolon": f'h3"; DROP TABLE {CANARY}; --',
    "single quote": "h3'; DROP TABLE iu_h3_canary; --",
    "mixed case and space": "H3 Mixed Case",
    "unicode": "h3_ünïcödé_表",
    "statement separator": "h3;x",
}


def canary_alive(db: psycopg.Connection) -> bool:
    return db.execute("SELECT to_regclass(%s) IS NOT NULL", [f"public.{CANARY}"]).fetchone()[0]


def make_canary(db: psycopg.Connection) -> None:
    db.execute(f"CREATE TABLE {CANARY} (id int)")
    db.execute(f"INSERT INTO {CANARY} VALUES (1)")


@pytest.mark.claim("H-3")
@pytest.mark.intrusive
@pytest.mark.parametrize("case", list(HOSTILE), ids=lambda c: c.replace(" ", "-"))
def test_a_hostile_retention_table_and_column_are_refused_or_quoted_never_run(db, evidence, case):
    """A hostile policy table or column is refused when it does not exist, quoted when it does; no injected SQL runs."""
    name = HOSTILE[case]
    make_canary(db)
    policies = count(db, "iu_core_retention_policy")
    refusals = {
        "missing table": (name, "occurred_at", None),
        "missing timestamp column": ("event_outbox_delivery_log", name, None),
        "missing actor column": ("iu_auto_instantiate_event_log", "occurred_at", name),
    }
    states = {}
    for label, (table, column, actor_column) in refusals.items():
        states[label] = sqlstate_of(
            db,
            "INSERT INTO iu_core_retention_policy (table_name, timestamp_column, retain, actor_column, registered_in)"
            " VALUES (%s, %s, '1 day', %s, 'H-3') ON CONFLICT (table_name) DO UPDATE"
            " SET timestamp_column = EXCLUDED.timestamp_column, actor_column = EXCLUDED.actor_column",
            [table, column, actor_column],
        )[0]
    evidence.expect(
        "registration refusals (missing table, missing column, missing actor column)",
        have=states,
        want={"missing table": "IU007", "missing timestamp column": "IU007", "missing actor column": "IU050"},
    )
    evidence.expect("policies after the refusals", have=count(db, "iu_core_retention_policy"), want=policies)

    ts, who = f"{name} at", f"{name} who"
    db.execute(
        sql.SQL("CREATE TABLE public.{} (id int, {} timestamptz NOT NULL, {} text)").format(
            sql.Identifier(name), sql.Identifier(ts), sql.Identifier(who)
        )
    )
    db.execute(
        sql.SQL("INSERT INTO public.{} VALUES (1, now() - interval '10 days', 'a'), (2, now() - interval '10 days', "
                "'b'), (3, now() - interval '1 day' + interval '1 second', 'a'), (4, now(), 'a')").format(
            sql.Identifier(name)
        )
    )  # fmt: skip
    db.execute(
        "INSERT INTO iu_core_retention_policy (table_name, timestamp_column, retain, actor_column, registered_in)"
        " VALUES (%s, %s, '1 day', %s, 'H-3')",
        [name, ts, who],
    )
    dry = {
        r[0]: r[1] for r in db.execute("SELECT table_name, expired_rows FROM fn_iu_core_retention_cleanup()").fetchall()
    }
    evidence.expect("dry run: expired rows of the hostile table (rows 1, 2)", have=dry.get(name), want=2)
    actor_dry = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT table_name, expired_rows FROM fn_iu_core_retention_cleanup(true, now(), 'a')"
        ).fetchall()
    }
    evidence.expect("actor-scoped dry run: expired rows of actor a (row 1)", have=actor_dry.get(name), want=1)
    db.execute("SELECT fn_iu_core_config_set('iu_core.retention_enabled', 'true'::jsonb, 'iu-prove-h3')")
    deleted = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT table_name, deleted_rows FROM fn_iu_core_retention_cleanup(false, now(), 'a')"
        ).fetchall()
    }
    evidence.expect("actor-scoped live: rows deleted for actor a", have=deleted.get(name), want=1)
    deleted = {
        r[0]: r[1]
        for r in db.execute("SELECT table_name, deleted_rows FROM fn_iu_core_retention_cleanup(false)").fetchall()
    }
    evidence.expect("live: rows deleted", have=deleted.get(name), want=1)
    left = [r[0] for r in db.execute(sql.SQL("SELECT id FROM public.{} ORDER BY id").format(sql.Identifier(name)))]
    evidence.expect("rows left in the hostile table", have=left, want=[3, 4])
    evidence.expect("canary table still there", have=canary_alive(db), want=True)


@pytest.mark.claim("H-3")
@pytest.mark.intrusive
@pytest.mark.parametrize("case", list(HOSTILE), ids=lambda c: c.replace(" ", "-"))
def test_a_hostile_healthcheck_function_name_is_refused_or_quoted_never_run(db, evidence, case):
    """A hostile check-function name is refused when absent, called quoted when present; a forged row only goes red."""
    name = HOSTILE[case]
    make_canary(db)
    before = healthcheck(db)
    surfaces = count(db, "iu_healthcheck_surface")
    state, _ = sqlstate_of(
        db, "SELECT fn_iu_healthcheck_register('h3_missing', %s, 901, 'H-3', 'proof')", [name + " absent"]
    )
    evidence.expect("registering an absent hostile function", have=state, want="IU006")
    evidence.expect("surfaces after the refusal", have=count(db, "iu_healthcheck_surface"), want=surfaces)

    db.execute(
        sql.SQL("CREATE FUNCTION public.{}() RETURNS TABLE(ok boolean, detail text) LANGUAGE sql AS "
                "$$ SELECT true, 'hostile-named check ran' $$").format(sql.Identifier(name))
    )  # fmt: skip
    db.execute("SELECT fn_iu_healthcheck_register('h3_hostile', %s, 902, 'H-3', 'proof')", [name])
    forged = f"fn_iu_hc_retention_policies() AS c; DROP TABLE {CANARY}; SELECT true, 'x' FROM pg_class"
    db.execute(
        "INSERT INTO iu_healthcheck_surface (surface, check_function, position, registered_in, description) "
        "VALUES ('h3_forged', %s, 903, 'H-3', 'a row written past the register function')",
        [forged],
    )
    after = healthcheck(db)
    rows = {s: (ok, detail) for s, ok, detail in after}
    evidence.expect(
        "the hostile-named check, called", have=rows.get("h3_hostile"), want=(True, "hostile-named check ran")
    )
    evidence.expect(
        "the forged row: red, its name not found as one identifier",
        have=[rows.get("h3_forged", (None, ""))[0], "raised 42883" in rows.get("h3_forged", (None, ""))[1]],
        want=[False, True],
        rows=[rows.get("h3_forged")],
    )
    evidence.expect("every other surface as before", have=after[: len(before)], want=before)
    evidence.expect("canary table still there", have=canary_alive(db), want=True)


# Policy targets built in the proof's transaction: a table with odd names (its first column a
# timestamp, a text and a varchar actor column, an integer column, a dropped timestamp column), a
# view over it, a partitioned table, and a table of another schema with a public-looking name.
ODD_TABLE = 'H3 Policy "T"'
ODD_VIEW = "H3 View"
ODD_PARTED = "H3 Parted"
ELSEWHERE = "H3 Elsewhere"
MISSING = 'H3 "Missing"'
NO_COLUMN = 'H3 "No" At'


def quoted(name: str) -> str:
    """quote_ident for names that need quoting (every odd name here has a capital or a space)."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def make_policy_targets(db: psycopg.Connection) -> str:
    """Create the targets; return the dropped column's catalog name."""
    t = sql.Identifier(ODD_TABLE)
    db.execute(
        sql.SQL(
            'CREATE TABLE public.{} ("H3 First At" timestamptz, "H3 Who" text, "H3 Count" int,'
            ' "H3 Gone" timestamptz, "H3 Varchar" varchar(20))'
        ).format(t)
    )
    db.execute(sql.SQL('ALTER TABLE public.{} DROP COLUMN "H3 Gone"').format(t))
    db.execute(sql.SQL("CREATE VIEW public.{} AS SELECT * FROM public.{}").format(sql.Identifier(ODD_VIEW), t))
    db.execute(
        sql.SQL("CREATE TABLE public.{} (at timestamptz, who text) PARTITION BY RANGE (at)").format(
            sql.Identifier(ODD_PARTED)
        )
    )
    db.execute("CREATE SCHEMA iu_h3_elsewhere")
    db.execute(sql.SQL("CREATE TABLE iu_h3_elsewhere.{} (at timestamptz, who text)").format(sql.Identifier(ELSEWHERE)))
    return db.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attisdropped",
        [f"public.{quoted(ODD_TABLE)}"],
    ).fetchone()[0]


def timestamp_problems(dropped: str) -> dict[str, tuple[tuple, str | None]]:
    """case -> ((table, timestamp column), the refusal text; None: a valid target)."""
    t, c = quoted(ODD_TABLE), quoted
    return {
        "table NULL": ((None, "at"), "table_name and timestamp_column are required"),
        "column NULL": ((ODD_TABLE, None), "table_name and timestamp_column are required"),
        "table missing": ((MISSING, "at"), f"table public.{c(MISSING)} does not exist"),
        "table in another schema": ((ELSEWHERE, "at"), f"table public.{c(ELSEWHERE)} does not exist"),
        "a view": ((ODD_VIEW, "H3 First At"), f"table public.{c(ODD_VIEW)} does not exist"),
        "column missing": ((ODD_TABLE, NO_COLUMN), f"column {c(NO_COLUMN)} does not exist on public.{t}"),
        "system column": ((ODD_TABLE, "xmin"), f"column xmin does not exist on public.{t}"),
        "dropped column": ((ODD_TABLE, dropped), f"column {c(dropped)} does not exist on public.{t}"),
        "integer column": ((ODD_TABLE, "H3 Count"), f"column public.{t}.{c('H3 Count')} is integer, not a timestamp"),
        "first column, a timestamp": ((ODD_TABLE, "H3 First At"), None),
        "partitioned table": ((ODD_PARTED, "at"), None),
    }


def actor_problems() -> dict[str, tuple[tuple, str | None]]:
    """case -> ((table, actor column), the refusal text; None: a valid or absent actor column)."""
    t, c = quoted(ODD_TABLE), quoted
    return {
        "actor column NULL": ((ODD_TABLE, None), None),
        "actor column blank": (
            (ODD_TABLE, "  "),
            f"actor column of public.{t} is empty (use NULL for a table without one)",
        ),
        "table missing": ((MISSING, "who"), f"table public.{c(MISSING)} does not exist"),
        "table in another schema": ((ELSEWHERE, "who"), f"table public.{c(ELSEWHERE)} does not exist"),
        "actor column missing": (
            (ODD_TABLE, "H3 No Who"),
            f"actor column {c('H3 No Who')} does not exist on public.{t}",
        ),
        "integer actor column": (
            (ODD_TABLE, "H3 Count"),
            f"actor column public.{t}.{c('H3 Count')} is integer, not text",
        ),
        "text actor column": ((ODD_TABLE, "H3 Who"), None),
        "varchar actor column": ((ODD_TABLE, "H3 Varchar"), None),
        "partitioned table": ((ODD_PARTED, "who"), None),
    }


@pytest.mark.claim("H-3")
@pytest.mark.intrusive
def test_each_policy_target_refusal_reason_alone_names_the_identifiers_quoted(db, evidence):
    """Each reason a policy table, timestamp or actor column is refused holds alone and names them quoted."""
    dropped = make_policy_targets(db)
    for function, cases in (
        ("fn_iu_retention_policy_problem", timestamp_problems(dropped)),
        ("fn_iu_retention_policy_actor_column_problem", actor_problems()),
    ):
        have, want = {}, {}
        for case, (args, problem) in cases.items():
            have[case] = db.execute(f"SELECT {function}(%s, %s)", list(args)).fetchone()[0]
            want[case] = problem
        evidence.expect(f"{function}: the problem per case", have=have, want=want)
