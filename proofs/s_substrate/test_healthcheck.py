"""S-11: the healthcheck's eight surfaces of head 035 are present and green,
and each line says what its check found.

Oracle: the config_gates rule written out in Python (``config_gates_detail``):
the five shipped gate keys with their JSON type and the function each governs
(a hand-written table, from migration 003's design), the raw
``iu_core_config`` rows and ``pg_proc`` (which governed functions exist in
schema public). A gate is checked only when its governed function exists in
public; an open gate is a boolean true or a non-empty string; the detail
counts the checked gates and lists the open ones, or says ``none``.
The aggregate line of a check that returns no row, ok NULL or raises is red
with a detail naming the check (hand-written expectations).
Conditions, each alone: a boolean gate open, the string gate non-empty, each
governed function absent from public (renamed, or moved to another schema);
a check returning no row, ok NULL, raising; each argument of the register
function NULL.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import sql

from iu_prove import pins
from proofs._substrate import GATE_STATES, check_with_gate, count, healthcheck, set_gate, sqlstate_of

SURFACES_035 = [
    "config_gates",
    "vector_ledger",
    "dieu_envelope_invariant",
    "envelope_backlog",
    "envelope_lifecycle_trigger",
    "lineage_orphans",
    "digest_drift",
    "retention_policies",
]


@pytest.mark.claim("S-11")
@pytest.mark.readonly
def test_the_healthcheck_has_its_eight_surfaces_all_green(db, evidence, iu_target):
    """dot_iu_healthcheck() reports the 8 surfaces of head 035, every one green on the fixtures."""
    rows = healthcheck(db)
    evidence.record("surfaces", {s: ok for s, ok, _ in rows})
    registered_035 = [
        r[0]
        for r in db.execute(
            "SELECT surface FROM iu_healthcheck_surface WHERE registered_in <= '035' ORDER BY position"
        ).fetchall()
    ]
    evidence.expect("surfaces registered up to 035", have=registered_035, want=SURFACES_035)
    pinned = pins.pinned(iu_target.head)["healthcheck_surfaces"]
    evidence.expect("surfaces reported (pinned for this head)", have=[s for s, _, _ in rows], want=list(pinned))
    evidence.expect_no_rows("red surfaces (surface, ok, detail)", [r for r in rows if not r[1]])


# key -> (JSON type, the function it governs), in key order
GATE_TABLE = {
    "iu_core.auto_instantiate_enabled": ("boolean", "dot_iu_auto_instantiate_from_event"),
    "iu_core.delivery_enabled": ("boolean", "fn_event_outbox_deliver"),
    "iu_core.delivery_live_routes": ("string", "fn_event_outbox_deliver"),
    "iu_core.retention_enabled": ("boolean", "fn_iu_core_retention_cleanup"),
    "iu_core.three_axis_auto_refresh_enabled": ("boolean", "fn_iu_three_axis_envelope_refresh_if_stale"),
}
GOVERNED = sorted({fn for _, fn in GATE_TABLE.values()})
ALL_OPEN = {
    "iu_core.auto_instantiate_enabled": True,
    "iu_core.delivery_enabled": True,
    "iu_core.delivery_live_routes": "iu.proof.s11_listed",
    "iu_core.retention_enabled": True,
    "iu_core.three_axis_auto_refresh_enabled": True,
}


def config_gates_detail(db: psycopg.Connection) -> str:
    """The config_gates detail the rule gives for the raw config rows and catalog (every checked key well typed)."""
    config = dict(db.execute("SELECT key, value FROM iu_core_config").fetchall())
    public = {
        r[0]
        for r in db.execute(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname = ANY(%s)",
            [GOVERNED],
        ).fetchall()
    }
    checked = [key for key, (_, fn) in GATE_TABLE.items() if fn in public]
    is_open = [k for k in checked if config[k] is True or (isinstance(config[k], str) and config[k] != "")]
    listed = ", ".join(f"{k}={json.dumps(config[k])}" for k in is_open) or "none"
    return f"{len(checked)} gate keys present with expected JSON types; open: {listed}"


def config_gates_line(db: psycopg.Connection) -> tuple[bool, str] | None:
    row = db.execute("SELECT ok, detail FROM dot_iu_healthcheck() WHERE surface = 'config_gates'").fetchone()
    return (row[0], row[1]) if row else None


OPEN_WORLDS = {
    "shipped defaults (nothing open)": {},
    "one boolean gate open": {"iu_core.delivery_enabled": True},
    "another boolean gate open": {"iu_core.three_axis_auto_refresh_enabled": True},
    "the string gate non-empty": {"iu_core.delivery_live_routes": "iu.proof.s11_listed"},
    "every gate open": ALL_OPEN,
}


@pytest.mark.claim("S-11")
@pytest.mark.parametrize("world", list(OPEN_WORLDS), ids=lambda w: w.replace(" ", "-"))
def test_config_gates_counts_the_checked_gates_and_lists_exactly_the_open_ones(db, evidence, world):
    """config_gates counts the checked gate keys and lists exactly the open ones (boolean true, non-empty string)."""
    for key, value in OPEN_WORLDS[world].items():
        set_gate(db, key, value)
    want = config_gates_detail(db)
    evidence.record("gates set", OPEN_WORLDS[world])
    evidence.expect("config_gates line (ok, detail)", have=config_gates_line(db), want=(True, want))


def move_away(db: psycopg.Connection, function: str, how: str) -> None:
    """Take every public function named ``function`` out of schema public: renamed, or moved to another schema."""
    if how == "moved":
        db.execute("CREATE SCHEMA iu_s11_elsewhere")
    oids = db.execute(
        "SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname = %s",
        [function],
    ).fetchall()
    for (signature,) in oids:
        target = sql.SQL("SET SCHEMA iu_s11_elsewhere" if how == "moved" else "RENAME TO {}").format(
            sql.Identifier(function + "_s11_away")
        )
        db.execute(sql.SQL("ALTER FUNCTION {} ").format(sql.SQL(signature)) + target)


@pytest.mark.claim("S-11")
@pytest.mark.intrusive
@pytest.mark.parametrize("how", ["renamed", "moved"])
@pytest.mark.parametrize("function", GOVERNED)
def test_config_gates_checks_only_the_gates_whose_governed_function_is_in_public(db, evidence, function, how):
    """A gate whose governed function is not in schema public (renamed, or only in another schema) is not checked."""
    for key, value in ALL_OPEN.items():
        set_gate(db, key, value)
    move_away(db, function, how)
    still = db.execute(
        "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname = %s", [function]
    ).fetchone()[0]
    evidence.expect(f"public functions named {function} after it is {how}", have=still, want=0)
    unchecked = [k for k, (_, fn) in GATE_TABLE.items() if fn == function]
    want = config_gates_detail(db)
    evidence.record("gates no longer checked", unchecked)
    evidence.expect("config_gates line (ok, detail)", have=config_gates_line(db), want=(True, want))
    evidence.expect_no_rows("unchecked gates named in the detail", [k for k in unchecked if k in want])


CHECKS = {
    "returns no row": (
        "SELECT NULL::boolean, NULL::text WHERE false",
        "check {fn} returned no row",
    ),
    "returns ok NULL": (
        "SELECT NULL::boolean, 'half a verdict'::text",
        "check {fn} returned ok = NULL: half a verdict",
    ),
    "returns ok NULL and no detail": (
        "SELECT NULL::boolean, NULL::text",
        "check {fn} returned ok = NULL: ",
    ),
    "raises": (
        "SELECT CASE WHEN 1 / (SELECT 0) = 0 THEN true END, 'never'::text",
        "check {fn} raised 22012: division by zero",
    ),
    "returns ok true (control)": (
        "SELECT true, 'fine'::text",
        "fine",
    ),
}


@pytest.mark.claim("S-11")
@pytest.mark.intrusive
@pytest.mark.parametrize("case", list(CHECKS), ids=lambda c: c.replace(" ", "-"))
def test_a_check_that_returns_no_row_ok_null_or_raises_makes_its_line_red(db, evidence, case):
    """A check that returns no row, returns ok NULL or raises gives a red line naming it; other lines unchanged."""
    body, detail = CHECKS[case]
    fn = "fn_iu_hc_s11_probe"
    before = healthcheck(db)
    db.execute(
        sql.SQL("CREATE FUNCTION public.{}() RETURNS TABLE(ok boolean, detail text) LANGUAGE sql AS {}").format(
            sql.Identifier(fn), sql.Literal(body)
        )
    )
    db.execute("SELECT fn_iu_healthcheck_register('s11_probe', %s, 911, 'S-11', 'proof')", [fn])
    after = healthcheck(db)
    green = case.endswith("(control)")
    evidence.expect(
        "the probe's line (surface, ok, detail)",
        have=[r for r in after if r[0] == "s11_probe"],
        want=[("s11_probe", green, detail.format(fn=fn))],
    )
    evidence.expect("every other line as before", have=[r for r in after if r[0] != "s11_probe"], want=before)


REGISTER_ARGS = {
    "p_surface": "s11_register",
    "p_check_function": "fn_iu_hc_config_gates",
    "p_position": 912,
    "p_registered_in": "S-11",
    "p_description": "proof",
}
SURFACE_ROWS = "SELECT surface, check_function, position, registered_in, description FROM iu_healthcheck_surface"


@pytest.mark.claim("S-11")
@pytest.mark.parametrize("null", [None, *REGISTER_ARGS], ids=lambda a: f"{a}-NULL" if a else "control")
def test_registering_a_surface_with_any_one_argument_null_is_refused(db, evidence, null):
    """Registering a surface with any one argument NULL is refused (IU006), writing nothing; none NULL registers it."""
    args = {name: (None if name == null else value) for name, value in REGISTER_ARGS.items()}
    before = db.execute(SURFACE_ROWS + " ORDER BY position").fetchall()
    state, message = sqlstate_of(db, "SELECT fn_iu_healthcheck_register(%s, %s, %s, %s, %s)", list(args.values()))
    after = db.execute(SURFACE_ROWS + " ORDER BY position").fetchall()
    if null is None:
        evidence.expect("SQLSTATE with every argument given", have=state, want=None, note=message)
        evidence.expect("rows added", have=[r for r in after if r not in before], want=[tuple(args.values())])
    else:
        evidence.expect(f"SQLSTATE with {null} NULL", have=state, want="IU006", note=message)
        evidence.expect("surface rows after the refusal", have=after, want=before)


@pytest.mark.claim("S-11")
@pytest.mark.parametrize("name", ["fn_iu_hc_s11_absent", "Fn S11 Absent", 'fn"s11'])
def test_registering_an_absent_check_function_is_refused_naming_it_as_an_identifier(db, evidence, name):
    """Registering an absent check function is refused (IU006), naming public.<the name as a quoted identifier>()."""
    surfaces = count(db, "iu_healthcheck_surface")
    state, message = sqlstate_of(
        db, "SELECT fn_iu_healthcheck_register('s11_absent', %s, 913, 'S-11', 'proof')", [name]
    )
    plain = name.islower() and name.replace("_", "").isalnum()
    ident = name if plain else '"' + name.replace('"', '""') + '"'
    evidence.expect("SQLSTATE", have=state, want="IU006", note=message)
    evidence.expect(
        "message",
        have=message,
        want=f"healthcheck register refused: function public.{ident}() does not exist",
    )
    evidence.expect("surface rows after the refusal", have=count(db, "iu_healthcheck_surface"), want=surfaces)


DIEU_ID = "(SELECT id FROM information_unit WHERE code = 'DIEU')"
# one breakage each, at the edge where its surface must turn red (or stay green): surface → ok
SURFACE_EDGES = {
    "one dirty mark 24 hours and a second old": (
        f"INSERT INTO iu_three_axis_envelope_dirty (collection_id, marked_at, reason) VALUES ({DIEU_ID}, "
        "now() - interval '24 hours 1 second', 'proof') ON CONFLICT (collection_id) DO UPDATE SET marked_at = "
        "EXCLUDED.marked_at",
        {"envelope_backlog": False},
    ),
    "one dirty mark a minute short of 24 hours": (
        f"INSERT INTO iu_three_axis_envelope_dirty (collection_id, marked_at, reason) VALUES ({DIEU_ID}, "
        "now() - interval '23 hours 59 minutes', 'proof') ON CONFLICT (collection_id) DO UPDATE SET marked_at = "
        "EXCLUDED.marked_at",
        {"envelope_backlog": True},
    ),
    "DIEU without its cached envelope row": (
        f"DELETE FROM iu_three_axis_envelope WHERE collection_id = {DIEU_ID}",
        {"dieu_envelope_invariant": False},
    ),
    "no collection coded DIEU": (
        "UPDATE information_unit SET code = 'DIEU-RENAMED' WHERE code = 'DIEU'",
        {"dieu_envelope_invariant": False},
    ),
    "one vector point of a unit that does not exist": (
        "ALTER TABLE iu_vector_point DROP CONSTRAINT iu_vector_point_unit_id_fkey;"  # undone with the proof
        "INSERT INTO iu_vector_point (unit_id, qdrant_collection, point_id) "
        "VALUES (gen_random_uuid(), 'iu_proof_s11', 'orphan-point')",
        {"vector_ledger": False},
    ),
}


@pytest.mark.claim("S-11")
@pytest.mark.intrusive
@pytest.mark.parametrize("case", list(SURFACE_EDGES), ids=lambda c: c.replace(" ", "-"))
def test_each_surface_turns_red_at_its_edge_and_no_other_moves(db, evidence, case):
    """One dirty mark older than 24 hours, DIEU without its envelope or missing, one orphan vector point: red."""
    breakage, want = SURFACE_EDGES[case]
    before = {r[0]: r[1] for r in healthcheck(db)}
    db.execute(breakage)
    after = {r[0]: r[1] for r in healthcheck(db)}
    evidence.expect("the surface under test", have={k: after.get(k) for k in want}, want=want)
    evidence.expect(
        "every other surface as before",
        have={k: v for k, v in after.items() if k not in want},
        want={k: v for k, v in before.items() if k not in want},
    )


GATED_SURFACES = {
    "fn_iu_hc_envelope_lifecycle_trigger": ("iu_core.three_axis_auto_refresh_enabled", "auto-refresh gate"),
    "fn_iu_hc_retention_policies": ("iu_core.retention_enabled", "retention gate"),
}


@pytest.mark.claim("S-11")
@pytest.mark.parametrize("state", list(GATE_STATES))
@pytest.mark.parametrize("check", list(GATED_SURFACES))
def test_a_gated_surface_names_its_gate_open_closed_invalid_or_missing(db, evidence, check, state):
    """The lifecycle-trigger and retention lines stay green and name their gate: open, closed, invalid or missing."""
    key, label = GATED_SURFACES[check]
    ok, detail = check_with_gate(db, check, key, state)
    evidence.expect("ok", have=ok, want=True, note=detail)
    evidence.expect("detail ends with", have=detail[-len(f"{label} {state}") :], want=f"{label} {state}", note=detail)
