"""E-1: a bounded batch of N writes N digest-matched instances, workflow and file mixed."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import psycopg
import pytest
from hypothesis import example, given
from psycopg import sql

from iu_prove import notrun
from iu_prove.profiles import scaleout_sizes
from proofs.e_scaleout import _scaleout as sc

AUDIT_SQL = """
SELECT instance_code, template_code, template_version, template_kind, digest_matches_template,
       lineage_actor, template_digest, instance_digest
  FROM v_iu_auto_instantiate_event_log
 WHERE triggered_by = %s AND NOT dry_run
 ORDER BY instance_code
"""


@pytest.mark.claim("E-1")
@given(n=scaleout_sizes())
@example(n=1)
@example(n=3)
@example(n=12)
@example(n=20)
@example(n=30)
@example(n=40)
def test_a_batch_of_n_writes_n_lineage_and_audit_rows_all_digest_matched(rolled_back, evidence, n):
    """A batch of N writes N lineage and N audit rows for actor iu-core-<N>x-bulk, all digest-matched, 2:1 mixed."""
    evidence.add("N", n)
    with rolled_back() as db:
        actor = sc.default_actor(n)
        if sc.has_rows(db, actor):
            # iu-core-12x-bulk is the fixtures' background actor: one actor addresses one batch
            err = sc.refusal(db, lambda: sc.scaleout(db, n, bound=sc.bound_for(n)))
            evidence.expect(
                "SQLSTATE when the default actor already has rows", have=sc.sqlstate(err), want="IU022", note=actor
            )
            actor = sc.fresh_actor(db, f"{actor}-e1")
            rows = sc.scaleout(db, n, actor, bound=sc.bound_for(n))
        else:
            rows = sc.scaleout(db, n, bound=sc.bound_for(n))
        evidence.expect("rows returned by the batch", have=len(rows), want=n, note=f"N={n}")

        lineage = sc.scalar(db, f"SELECT count(*) FROM {sc.LINEAGE} WHERE actor = %s", [actor])
        audit = db.execute(AUDIT_SQL, [actor]).fetchall()
        unmatched = [r for r in audit if not r[4] or r[5] != actor or r[6] != r[7]]
        kinds = Counter(r[3] for r in audit)
        want_wf = sc.expected_workflow_count(n)
        evidence.add(
            "N, lineage, audit, digest-matched, workflow, file",
            [n, lineage, len(audit), len(audit) - len(unmatched), kinds["workflow"], kinds["file"]],
        )
        evidence.expect("lineage rows of the actor", have=lineage, want=n, note=f"N={n}, actor {actor}")
        evidence.expect("live audit rows of the actor", have=len(audit), want=n, note=f"N={n}, actor {actor}")
        evidence.expect_no_rows("audit rows not digest-matched or without their lineage row", unmatched)
        evidence.expect(
            "instances per kind (workflow, file)",
            have=(kinds["workflow"], kinds["file"]),
            want=(want_wf, n - want_wf),
            note=f"N={n}: round(N * 2/3) workflow instances",
        )
        if n >= 3:
            evidence.expect_true(
                "both template kinds present (N >= 3)", kinds["workflow"] and kinds["file"], note=f"N={n}"
            )
        # the templates of a kind are used in turn: their counts differ by at most one
        for kind in ("workflow", "file"):
            used = Counter((r[1], r[2]) for r in audit if r[3] == kind)
            if used:
                evidence.expect_true(
                    f"{kind} templates used in turn (counts differ by at most one)",
                    max(used.values()) - min(used.values()) <= 1,
                    rows=sorted(used.items()),
                )


PLAN_SQL = (
    "SELECT ordinal, template_code, template_version, template_kind, piece_count "
    "FROM fn_iu_bounded_scaleout_plan(%s, %s)"
)
TEMPLATES_SQL = "SELECT code, version, kind, piece_codes FROM iu_collection_template"
# the units the templates name, read raw (through the code index: a large database costs the same)
UNITS_SQL = """
SELECT u.code, u.kind, u.lifecycle_state FROM information_unit u
 WHERE u.code IN (SELECT unnest(t.piece_codes) FROM iu_collection_template t)
"""


def instantiable_templates(db) -> dict[str, list[tuple[str, int, int]]]:
    """Per kind, templates whose every piece exists, is a piece and is active, in (code, version) order."""
    units = {code: (kind, state) for code, kind, state in db.execute(UNITS_SQL).fetchall()}
    pools: dict[str, list[tuple[str, int, int]]] = {"workflow": [], "file": []}
    for code, version, kind, pieces in sorted(db.execute(TEMPLATES_SQL).fetchall(), key=lambda r: (r[0], r[1])):
        if all(units.get(p) == ("piece", "active") for p in pieces):
            pools[kind].append((code, version, len(pieces)))
    return pools


def workflow_slots(n: int, share: Decimal) -> int:
    """round(N * share), halves away from zero (numeric round); both kinds kept once N >= 2 for a mixed share."""
    wf = int((n * share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if 0 < share < 1 and n >= 2:
        wf = max(1, min(n - 1, wf))
    return wf


def expected_plan(pools, n: int, share: Decimal) -> list[tuple]:
    """Slot k is a workflow slot when ceil(k * wf / N) steps up; each kind takes its templates in turn."""
    wf = workflow_slots(n, share)
    cycles = {kind: itertools.cycle(pool) for kind, pool in pools.items() if pool}
    plan = []
    for k in range(1, n + 1):
        kind = "workflow" if math.ceil(Fraction(k * wf, n)) > math.ceil(Fraction((k - 1) * wf, n)) else "file"
        code, version, pieces = next(cycles[kind])
        plan.append((k, code, version, kind, pieces))
    return plan


PLAN_CASES = [
    (n, share)
    for n in (1, 2, 3, 4, 7, 12, 40, 41)
    for share in (Decimal(0), Decimal("0.1"), Decimal("0.4"), Decimal("0.5"), Decimal("0.9"), Decimal(1))
] + [(n, Decimal(2) / Decimal(3)) for n in (1, 2, 3, 5, 20, 40)]


@pytest.mark.claim("E-1")
def test_the_plan_interleaves_the_kinds_and_takes_each_kinds_templates_in_turn(db, evidence):
    """The plan has N slots, round(N*share) workflow (both kinds once N >= 2), interleaved, templates in turn."""
    pools = instantiable_templates(db)
    evidence.record("instantiable templates per kind", {k: len(v) for k, v in pools.items()})
    wrong = []
    for n, share in PLAN_CASES:
        have = [tuple(r) for r in db.execute(PLAN_SQL, [n, share]).fetchall()]
        want = expected_plan(pools, n, share)
        if have != want:
            wrong.append([n, str(share), have[:6], want[:6]])
    evidence.expect_no_rows("plans (N, share, first slots) that differ from the rule", wrong)


def _break_templates(db, kind: str, keep: int) -> None:
    """All but the first ``keep`` templates of ``kind`` get a bad piece code: missing, a collection or draft."""
    db.execute(
        "INSERT INTO information_unit (code, kind, lifecycle_state, created_by) "
        "VALUES ('E1-DRAFT-PIECE', 'piece', 'draft', 'iu-prove-e1'), "
        "('E1-A-COLLECTION', 'collection', 'active', 'iu-prove-e1')"
    )
    bad = ["E1-NO-SUCH-PIECE", "E1-A-COLLECTION", "E1-DRAFT-PIECE"]
    for i, (code, version, _) in enumerate(instantiable_templates(db)[kind][keep:]):
        db.execute(
            "UPDATE iu_collection_template SET piece_codes = piece_codes || %s::text WHERE code = %s AND version = %s",
            [bad[i % len(bad)], code, version],
        )


def _plan_outcome(db, n, share) -> tuple:
    """(SQLSTATE, message) of a refused plan, or (None, the planned kinds in slot order)."""
    try:
        with db.transaction():
            rows = db.execute(PLAN_SQL, [n, share]).fetchall()
    except psycopg.Error as exc:
        return exc.sqlstate, exc.diag.message_primary
    return None, "".join(r[3][0] for r in rows)


@pytest.mark.claim("E-1")
def test_the_plan_refuses_a_bad_n_or_share_and_a_kind_it_cannot_fill(db, evidence):
    """The plan refuses N < 1 (IU020), a share outside 0..1 (IU021), a kind it needs but cannot fill (IU024)."""
    have = {f"N={n}, share={s}": _plan_outcome(db, n, s) for n, s in BAD_PLAN_ARGS}
    evidence.expect(
        "refused plans", have=have, want={f"N={n}, share={s}": want for (n, s), want in BAD_PLAN_ARGS.items()}
    )
    edges = {
        f"N={n}, share={s}": _plan_outcome(db, n, s)
        for n, s in ((1, Decimal(0)), (1, Decimal(1)), (2, Decimal(0)), (2, Decimal(1)))
    }
    evidence.expect(
        "share 0 and 1 at N=1, 2 are accepted",
        have=edges,
        want={
            "N=1, share=0": (None, "f"),
            "N=1, share=1": (None, "w"),
            "N=2, share=0": (None, "ff"),
            "N=2, share=1": (None, "ww"),
        },
    )

    for kind, other in (("workflow", "file"), ("file", "workflow")):
        with db.transaction(force_rollback=True):
            _break_templates(db, kind, keep=0)
            evidence.expect(
                f"instantiable {kind} templates once broken", have=len(instantiable_templates(db)[kind]), want=0
            )
            only_other = Decimal(0) if kind == "workflow" else Decimal(1)
            needs = Decimal(1) if kind == "workflow" else Decimal(0)
            evidence.expect(
                f"no {kind} template: a plan needing one is refused, one of {other} alone is made",
                have=[
                    _plan_outcome(db, 1, needs),
                    _plan_outcome(db, 3, Decimal(2) / 3),
                    _plan_outcome(db, 3, only_other),
                ],
                want=[
                    ("IU024", f"scaleout refused: 1 {kind} instance(s) planned but no {kind} template is instantiable"),
                    # N = 3 at 2/3: 2 workflow and 1 file instance planned; the message counts the missing kind
                    (
                        "IU024",
                        f"scaleout refused: {2 if kind == 'workflow' else 1} {kind} instance(s) planned "
                        f"but no {kind} template is instantiable",
                    ),
                    (None, other[0] * 3),
                ],
            )

    for kind in ("workflow", "file"):
        with db.transaction(force_rollback=True):
            _break_templates(db, kind, keep=1)
            pools = instantiable_templates(db)
            evidence.expect(f"instantiable {kind} templates", have=len(pools[kind]), want=1)
            have = [tuple(r) for r in db.execute(PLAN_SQL, [5, Decimal("0.5")]).fetchall()]
            evidence.expect(
                f"plan of 5 with one {kind} template", have=have, want=expected_plan(pools, 5, Decimal("0.5"))
            )


BAD_PLAN_ARGS = {
    (0, Decimal("0.5")): ("IU020", "scaleout plan refused: N must be at least 1 (got 0)"),
    (-1, Decimal("0.5")): ("IU020", "scaleout plan refused: N must be at least 1 (got -1)"),
    (None, Decimal("0.5")): ("IU020", "scaleout plan refused: N must be at least 1 (got NULL)"),
    (3, Decimal("-0.01")): ("IU021", "scaleout plan refused: workflow share must be in 0..1 (got -0.01)"),
    (3, Decimal("1.01")): ("IU021", "scaleout plan refused: workflow share must be in 0..1 (got 1.01)"),
    (3, Decimal("1.5")): ("IU021", "scaleout plan refused: workflow share must be in 0..1 (got 1.5)"),
    (3, None): ("IU021", "scaleout plan refused: workflow share must be in 0..1 (got NULL)"),
}


@pytest.mark.claim("E-1")
def test_instance_codes_name_the_actor_hash_the_slot_and_the_template(db, evidence):
    """Instance code = SCALE-<first 12 hex of md5(actor)>-<slot, 4 digits>-<template code>-v<version>."""
    actor = sc.fresh_actor(db, "iu-prove-e1-codes")
    rows = sc.scaleout(db, 3, actor)
    prefix = "SCALE-" + hashlib.md5(actor.encode()).hexdigest()[:12]
    evidence.expect(
        "instance codes",
        have=[r["instance_code"] for r in rows],
        want=[f"{prefix}-{r['ordinal']:04d}-{r['template_code']}-v{r['template_version']}" for r in rows],
    )


# 042: the tables a large batch grows, re-analyzed at 256, 512, 1024, … instances
GROWN_TABLES = (
    "event_outbox",
    "information_unit",
    "iu_auto_instantiate_event_log",
    "iu_collection_template_instance_lineage",
    "iu_piece_membership",
    "iu_three_axis_envelope_dirty",
)
# read with stats_fetch_consistency = none: ANALYZE reports to the shared statistics at once
ANALYZE_COUNTS = "SELECT schemaname || '.' || relname, analyze_count FROM pg_stat_user_tables ORDER BY 1"


def _analyzed_by(db: psycopg.Connection, call: str) -> tuple[int, list[str]]:
    """(what ``call`` returns, the tables whose manual-analyze count it raised)."""
    before = dict(db.execute(ANALYZE_COUNTS).fetchall())
    returned = db.execute(call).fetchone()[0]
    after = dict(db.execute(ANALYZE_COUNTS).fetchall())
    return returned, sorted(t for t, n in after.items() if n > before.get(t, 0))


# the connected role may analyze a table it owns, one whose owner it is a member of, or any as a superuser
MAY_ANALYZE = """
SELECT c.relname
  FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)
   AND ((SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
        OR c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
        OR c.relowner IN (SELECT m.roleid FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
                           WHERE r.rolname = current_user))
 ORDER BY 1
"""


@pytest.mark.claim("E-1")
@pytest.mark.intrusive
def test_a_batch_re_plans_by_analyzing_exactly_the_six_public_tables_it_grows_and_no_look_alike(db, evidence):
    """The re-plan analyzes the six public tables a batch grows that the role may, none elsewhere, and counts them."""
    db.execute("SELECT set_config('stats_fetch_consistency', 'none', true)")
    # a look-alike outside public: same name as a grown table, must not be analyzed
    db.execute("CREATE SCHEMA iu_e1_lookalike")
    db.execute("CREATE TABLE iu_e1_lookalike.event_outbox (id int)")
    db.execute("INSERT INTO iu_e1_lookalike.event_outbox VALUES (1)")
    may = [f"public.{r[0]}" for r in db.execute(MAY_ANALYZE, [list(GROWN_TABLES)]).fetchall()]
    evidence.record("grown tables the connected role may analyze", may)
    returned, analyzed = _analyzed_by(db, "SELECT fn_iu_bounded_scaleout_replan()")
    evidence.expect("tables analyzed", have=analyzed, want=may)
    evidence.expect("returned", have=returned, want=len(may))


@pytest.mark.claim("E-1")
@pytest.mark.intrusive
def test_a_batch_re_plans_as_a_member_of_the_owner_and_not_as_a_role_owning_no_table(db, evidence):
    """The re-plan as a member of the tables' owner (no superuser) analyzes the six; as a role owning none, none."""
    if not db.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
        notrun.skip("target", "switching roles (CREATE ROLE, SET ROLE) needs a superuser; the embedded target has one")
    db.execute("SELECT set_config('stats_fetch_consistency', 'none', true)")
    want = [f"public.{t}" for t in GROWN_TABLES]
    # pg_read_all_stats: a predefined role that is no superuser and owns no table
    db.execute("SET LOCAL ROLE pg_read_all_stats")
    returned, analyzed = _analyzed_by(db, "SELECT fn_iu_bounded_scaleout_replan()")
    db.execute("RESET ROLE")
    evidence.expect("tables analyzed (a role owning none)", have=analyzed, want=[])
    evidence.expect("returned (a role owning none)", have=returned, want=0)
    # a role that is no superuser but a member of the tables' owner may analyze them
    owner = db.execute(
        "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'information_unit'::regclass"
    ).fetchone()[0]
    db.execute("CREATE ROLE iu_e1_owner_member NOLOGIN NOSUPERUSER")
    db.execute(sql.SQL("GRANT {} TO iu_e1_owner_member").format(sql.Identifier(owner)))
    db.execute("SET LOCAL ROLE iu_e1_owner_member")
    returned, analyzed = _analyzed_by(db, "SELECT fn_iu_bounded_scaleout_replan()")
    db.execute("RESET ROLE")
    evidence.expect("tables analyzed (a member of the owner, no superuser)", have=analyzed, want=want)
    evidence.expect("returned (a member of the owner, no superuser)", have=returned, want=len(want))
