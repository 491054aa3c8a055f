"""D-3: with the auto-refresh gate closed (the shipped default) an instantiation
refreshes nothing: its instance stays dirty, the healthcheck shows the backlog,
and a manual refresh brings the instance's envelope in."""

import pytest

from proofs._substrate import scalar
from proofs.d_envelope_refresh._envelope import (
    ERROR_LOG,
    REFRESH_GATE,
    REFRESH_LOG,
    SURFACE,
    TEMPLATE,
    backlog_count,
    cached_and_computed,
    dirty_ids,
    instantiate_live,
    new_refresh_rows,
    open_gates,
    rows,
    surface,
)


@pytest.mark.claim("D-3")
def test_with_the_gate_closed_an_instantiation_refreshes_nothing_and_its_backlog_shows(db, evidence):
    """Gate closed: refresh log +0, the instance dirty and in the backlog line; a manual refresh surfaces it."""
    evidence.expect(
        "auto-refresh gate as found (shipped)",
        have=scalar(db, "SELECT fn_iu_core_config_get(%s)", [REFRESH_GATE]),
        want=False,
    )
    open_gates(db, refresh=False)
    refresh_before, errors_before = rows(db, REFRESH_LOG), rows(db, ERROR_LOG)
    backlog_before = surface(db, "envelope_backlog")
    dirty_before = dirty_ids(db)

    instance_id, code, *_ = instantiate_live(db, TEMPLATE)
    evidence.record("instance", code)
    evidence.before_after("refresh log rows", refresh_before, rows(db, REFRESH_LOG))
    evidence.expect("refresh log rows written", have=rows(db, REFRESH_LOG) - refresh_before, want=0)
    evidence.expect("trigger error-log rows written", have=rows(db, ERROR_LOG) - errors_before, want=0)
    evidence.expect("dirty set grew by exactly the instance", have=dirty_ids(db) - dirty_before, want={instance_id})
    cached, computed = cached_and_computed(db, instance_id)
    evidence.expect("instance envelope cached before a refresh", have=cached, want=None, note=f"recomputed {computed}")

    backlog = surface(db, "envelope_backlog")
    evidence.record("envelope_backlog before / after", [backlog_before, backlog])
    evidence.expect("backlog dirty count", have=backlog_count(backlog[1]), want=backlog_count(backlog_before[1]) + 1)
    trigger_line = surface(db, SURFACE)
    evidence.expect("trigger line ok with the gate closed", have=trigger_line[0], want=True, note=trigger_line[1])

    refreshed = scalar(db, "SELECT dot_iu_three_axis_envelope_refresh()")
    evidence.expect(
        "manual refresh: collections refreshed (every collection, the instance included)",
        have=refreshed,
        want=scalar(db, "SELECT count(*) FROM information_unit WHERE kind = 'collection'"),
    )
    written = new_refresh_rows(db)
    evidence.expect(
        "refresh rows written by the manual refresh", have=[r[0] for r in written], want=["manual_full_refresh"]
    )
    evidence.expect_true("the manual refresh covers the instance", instance_id in written[0][2])
    cached, computed = cached_and_computed(db, instance_id)
    evidence.expect("instance envelope after the manual refresh (= recomputed)", have=cached, want=computed)
    evidence.expect(
        "backlog dirty count after the manual refresh", have=backlog_count(surface(db, "envelope_backlog")[1]), want=0
    )
