"""X-5: Qdrant onboarding of instances is out of scope, and no auto-instantiate path writes the vector ledger.

The guard is read two ways. Statically: every function reachable from the
auto-instantiate commands and from any function that calls the orchestrator,
through the functions their bodies name and the triggers of the tables their
bodies name (string literals included, so dynamic SQL is followed too), is
scanned for a write to the ledger table: an INSERT/UPDATE/DELETE/TRUNCATE/MERGE
naming it, or any mention of it in a function that runs dynamic SQL; and the
ledger's foreign keys carry no cascading action. Dynamically: batches through
the orchestrator (gate opened in the transaction), retire and rollback-by-actor
leave the ledger's row count and content digest unchanged.
"""

from __future__ import annotations

import re
from collections import defaultdict

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from iu_prove import decisions
from iu_prove.profiles import scaleout_sizes
from proofs.x_cross_cutting._support import (
    GATE_REFRESH,
    LINEAGE,
    VECTOR,
    actors,
    fingerprint,
    instantiate_batch,
    set_gate,
)

ROOTS = re.compile(r"auto_instantiate")
ORCHESTRATOR = "dot_iu_auto_instantiate_from_event"
WORD = re.compile(r"[a-z_][a-z0-9_$]*")
LITERAL = re.compile(r"'(?:[^']|'')*'")
LEDGER_WRITE = re.compile(
    rf"\b(insert\s+into|update|delete\s+from|truncate(\s+table)?|merge\s+into)\s+(only\s+)?(public\.)?\"?{VECTOR}\b",
    re.IGNORECASE,
)


def _call_graph(db: psycopg.Connection) -> dict[str, object]:
    """Functions reachable from the auto-instantiate functions, and what the walk went through."""
    bodies: dict[str, set[str]] = defaultdict(set)
    callers: set[str] = set()
    dynamic: set[str] = set()
    writes: set[str] = set()
    for name, body in db.execute(
        "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
        "WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')"
    ).fetchall():
        bodies[name] |= set(WORD.findall(body.lower()))
        if ORCHESTRATOR in WORD.findall(LITERAL.sub("''", body.lower())):
            callers.add(name)
        if re.search(r"\bexecute\b", body, re.IGNORECASE) and "LANGUAGE plpgsql" in body:
            dynamic.add(name)
        if LEDGER_WRITE.search(body):
            writes.add(name)
    relations = {
        r[0]
        for r in db.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v')"
        ).fetchall()
    }
    triggers: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for rel, trigger, fn in db.execute(
        "SELECT c.relname, t.tgname, p.proname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace"
    ).fetchall():
        triggers[rel].append((trigger, fn))
    # the auto-instantiate functions, and every function that calls the orchestrator (a batch driver, say)
    roots = sorted({n for n in bodies if ROOTS.search(n)} | callers)
    seen, todo, touched, fired = set(roots), list(roots), set(), set()
    while todo:
        fn = todo.pop()
        words = bodies.get(fn, set())
        nxt = {w for w in words if w in bodies}
        for rel in words & relations:
            touched.add(rel)
            for trigger, tfn in triggers.get(rel, []):
                fired.add(f"{trigger} on {rel}")
                nxt.add(tfn)
        for callee in nxt - seen:
            seen.add(callee)
            todo.append(callee)
    return {
        "roots": roots,
        "reachable": sorted(seen),
        "tables": sorted(touched),
        "triggers": sorted(fired),
        "readers": sorted(f for f in seen if VECTOR in bodies.get(f, set())),
        "writers": sorted(f for f in seen if f in writes or (f in dynamic and VECTOR in bodies.get(f, set()))),
        "dynamic_sql": sorted(seen & dynamic),
    }


@pytest.mark.claim("X-5")
@pytest.mark.readonly
def test_no_function_reachable_from_the_auto_instantiate_commands_writes_the_vector_ledger(db, evidence):
    """No auto-instantiate path writes the vector ledger: no function it reaches (calls, triggers) writes it."""
    graph = _call_graph(db)
    evidence.record("roots", graph["roots"])
    evidence.record("reachable functions", len(graph["reachable"]))
    evidence.record("tables named on the way", graph["tables"])
    evidence.record("triggers followed", graph["triggers"])
    evidence.record("reachable functions with dynamic SQL (covered by the dynamic proof)", graph["dynamic_sql"])
    evidence.expect_true("the walk starts at the orchestrator", ORCHESTRATOR in graph["roots"])
    evidence.record("reachable functions naming the ledger", graph["readers"])
    evidence.expect_no_rows("reachable functions writing iu_vector_point", graph["writers"])
    actions = db.execute(
        "SELECT conname, confrelid::regclass::text, confdeltype, confupdtype FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [VECTOR],
    ).fetchall()
    evidence.record("ledger foreign keys (name, references, on delete, on update)", actions)
    evidence.expect_no_rows(
        "ledger foreign keys that cascade or set values when a unit changes",
        [a for a in actions if a[2] not in ("a", "r") or a[3] not in ("a", "r")],
    )
    evidence.expect(
        "vector points on instance collections",
        have=db.execute(
            f"SELECT count(*) FROM {VECTOR} v JOIN {LINEAGE} l ON l.instance_collection_id = v.unit_id"
        ).fetchone()[0],
        want=0,
    )


@pytest.mark.claim("X-5")
@given(n=scaleout_sizes(), actor=actors("iu-x5-"), auto_refresh=st.booleans())
@example(n=20, actor="iu-core-20x-bulk", auto_refresh=False)
@example(n=40, actor="iu-core-40x-bulk", auto_refresh=True)
def test_instantiating_retiring_and_rolling_back_a_batch_leaves_the_vector_ledger_unchanged(
    rolled_back, evidence, n, actor, auto_refresh
):
    """A live batch, its retire and its rollback-by-actor leave the vector ledger's rows and digest unchanged."""
    evidence.add("N", n)
    with rolled_back() as db:
        before = fingerprint(db, VECTOR)
        set_gate(db, GATE_REFRESH, auto_refresh)
        evidence.record("ledger before (rows, digest)", before)
        instantiate_batch(db, actor, n, dry_runs=2)
        evidence.expect("ledger after the batch", have=fingerprint(db, VECTOR), want=before)
        db.execute("SELECT * FROM dot_iu_collection_retire(%s, false)", [actor]).fetchall()
        evidence.expect("ledger after retire", have=fingerprint(db, VECTOR), want=before)
        db.execute("SELECT * FROM fn_iu_auto_instantiate_rollback_by_actor(%s, false)", [actor]).fetchall()
        evidence.expect("ledger after rollback-by-actor", have=fingerprint(db, VECTOR), want=before)


@pytest.mark.claim("X-5")
@pytest.mark.readonly
def test_qdrant_onboarding_of_instances_is_registered_out_of_scope_with_its_reason(evidence):
    """The decision register lists Qdrant onboarding of instances (X-QDRANT) as out of scope, with its reason."""
    entry = next((d for d in decisions.load() if d["id"] == "X-QDRANT"), None)
    evidence.expect_true("X-QDRANT is in the decision register", entry is not None)
    evidence.expect("status", have=entry["status"], want="out_of_scope")
    evidence.expect_true("a reason is given", bool(entry.get("reason", "").strip()), rows=[entry])
    evidence.record("reason", entry["reason"])
