"""F-6: the event_boundary_internal_only healthcheck surface: green on the
fixtures, present in every dot_iu_healthcheck() call, evaluated on each call."""

from __future__ import annotations

import pytest

from proofs.f_event_boundary import _boundary as fb

SURFACE_SQL = "SELECT ok, detail FROM dot_iu_healthcheck() WHERE surface = %s"


@pytest.mark.claim("F-6")
@pytest.mark.readonly
def test_the_surface_is_green_on_the_fixtures_and_present_in_every_call(db, evidence):
    """event_boundary_internal_only is registered at position 100 and is green in each dot_iu_healthcheck() call."""
    reg = db.execute(
        "SELECT check_function, position, registered_in FROM iu_healthcheck_surface WHERE surface = %s", [fb.SURFACE]
    ).fetchone()
    evidence.expect(
        "registry row (check function, position, registered in)",
        have=tuple(reg) if reg else None,
        want=("fn_iu_hc_event_boundary_internal_only", 100, "038"),
    )
    volatility = db.execute(
        "SELECT provolatile FROM pg_proc WHERE oid = to_regprocedure('public.fn_iu_hc_event_boundary_internal_only()')"
    ).fetchone()
    evidence.expect_where(
        "check function volatility (never immutable, so never folded into a constant)",
        volatility[0] if volatility else None,
        lambda v: v in ("s", "v"),
        "s (stable) or v (volatile)",
    )
    surfaces = db.execute("SELECT count(*) FROM iu_healthcheck_surface").fetchone()[0]
    calls = []
    for _ in range(3):
        rows = db.execute("SELECT surface, ok, detail FROM dot_iu_healthcheck()").fetchall()
        mine = [(ok, detail) for surface, ok, detail in rows if surface == fb.SURFACE]
        calls.append({"rows": len(rows), "surface rows": len(mine), "ok": [ok for ok, _ in mine]})
        evidence.record("detail", mine[0][1] if mine else None)
    evidence.expect(
        "per call: healthcheck rows, surface rows, surface ok",
        have=calls,
        want=[{"rows": surfaces, "surface rows": 1, "ok": [True]}] * 3,
    )


@pytest.mark.claim("F-6")
def test_the_surface_is_evaluated_on_every_call(db, evidence):
    """Every dot_iu_healthcheck() call re-reads the boundary: red naming a changed gate or route (even disabled)."""
    steps = [
        ("shipped", None, True, None),
        (
            "delivery_enabled opened",
            "SELECT fn_iu_core_config_set('iu_core.delivery_enabled', 'true', %(actor)s)",
            False,
            "iu_core.delivery_enabled = true",
        ),
        (
            "delivery_live_routes lists the type",
            "SELECT fn_iu_core_config_set('iu_core.delivery_live_routes', to_jsonb(%(type)s::text), %(actor)s)",
            False,
            f'iu_core.delivery_live_routes = "{fb.EVENT_TYPE}"',
        ),
        (
            "route registered",
            "INSERT INTO route_registry (event_type, route) VALUES (%(type)s, 'https://f6.invalid/hook')",
            False,
            "route https://f6.invalid/hook",
        ),
        ("route removed", "DELETE FROM route_registry WHERE route = 'https://f6.invalid/hook'", False, None),
        (
            "gates closed again",
            "SELECT fn_iu_core_config_set('iu_core.delivery_enabled', 'false', %(actor)s),"
            " fn_iu_core_config_set('iu_core.delivery_live_routes', '\"\"', %(actor)s)",
            True,
            None,
        ),
        (
            "a disabled route registered",
            "INSERT INTO route_registry (event_type, route, enabled)"
            " VALUES (%(type)s, 'https://f6.invalid/off', false)",
            False,
            "route https://f6.invalid/off (disabled",
        ),
        ("the disabled route removed", "DELETE FROM route_registry WHERE route = 'https://f6.invalid/off'", True, None),
    ]
    seen, want = [], []
    for label, sql, ok_wanted, named in steps:
        if sql:
            db.execute(sql, {"actor": fb.ACTOR, "type": fb.EVENT_TYPE})
        row = db.execute(SURFACE_SQL, [fb.SURFACE]).fetchone()
        ok, detail = (row[0], row[1]) if row else (None, "")
        seen.append([label, ok, named is None or named in detail])
        want.append([label, ok_wanted, True])
        evidence.record(f"detail: {label}", detail)
    evidence.expect("per step: surface ok, offending gate/route named", have=seen, want=want)
