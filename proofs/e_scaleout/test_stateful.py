"""E-11: a stateful model of scaleouts, rollbacks, retires, refreshes and gate toggles keeps every invariant.

Oracle: the Python model of per-actor counts (instances, retired,
memberships by the batch rule) and of every envelope (``proofs/_model.py``:
a collection not marked dirty caches exactly the model's envelope — checked in
full at the start, then after each step at the cost of what the transaction
wrote, read by change capture: ``model.CleanEnvelopes``), DIEU's
literal 27/23/36, the vector ledger's fingerprint.
Branches: after Hypothesis' runs, one fixed run fires every rule in turn, so
no rule goes unexercised; the rules that never fired must be none.
Actors: look-alikes (a prefix of another, ``_`` for ``-``).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from iu_prove import fingerprint
from proofs import _model as model
from proofs.e_scaleout import _scaleout as sc

# look-alike actors: the first is a prefix of the second, and "_" is a LIKE wildcard for "-"
BATCH_ACTORS = ("iu-core-sm-a", "iu-core-sm-a-2", "iu-core-sm_a")
MANUAL_ACTOR = "iu-core-sm-manual"
GATED_ACTOR = "iu-core-sm-gated"
MANUAL_TEMPLATE = ("WF-REVIEW", 1)
RULES = {
    "scaleout",
    "rollback",
    "retire one instance",
    "refresh-if-stale",
    "manual full refresh",
    "toggle auto-refresh gate",
    "gate opened and closed",
    "gate opened around a manual instance",
}
TEMPLATES_SQL = """
SELECT t.kind, t.code, t.version, cardinality(t.piece_codes)
  FROM iu_collection_template t
 WHERE NOT EXISTS (SELECT 1 FROM unnest(t.piece_codes) AS pc(code)
                     LEFT JOIN information_unit u ON u.code = pc.code
                    WHERE u.id IS NULL OR u.kind <> 'piece' OR u.lifecycle_state <> 'active')
 ORDER BY t.kind, t.code, t.version
"""
PER_ACTOR_SQL = """
SELECT l.actor, count(*), count(*) FILTER (WHERE u.lifecycle_state = 'retired'),
       (SELECT count(*) FROM iu_piece_membership m
          JOIN iu_collection_template_instance_lineage l2 ON l2.instance_collection_id = m.collection_id
         WHERE l2.actor = l.actor)
  FROM iu_collection_template_instance_lineage l
  JOIN information_unit u ON u.id = l.instance_collection_id
 GROUP BY l.actor
"""


def planned_memberships(templates: list[tuple[str, str, int, int]], n: int) -> int:
    """Memberships of a batch of n by the issue's rule: round(2n/3) workflow, each kind's templates in turn."""
    total = 0
    for kind, count in (("workflow", sc.expected_workflow_count(n)), ("file", n - sc.expected_workflow_count(n))):
        pool = [pieces for k, _, _, pieces in templates if k == kind]
        for i, pieces in enumerate(pool):
            total += (count // len(pool) + (1 if i < count % len(pool) else 0)) * pieces
    return total


@pytest.mark.claim("E-11")
def test_a_stateful_model_of_scaleouts_rollbacks_retires_refreshes_and_gates_keeps_every_invariant(
    rolled_back, evidence
):
    """Interleaved scaleouts, rollbacks, retires, refreshes, gate toggles keep the invariants and the model's counts."""
    fired: Counter[str] = Counter()
    runs: list[int] = []
    with rolled_back() as db:  # every example starts from this state: its clean envelopes are checked once, in full
        stale_at_start = model.stale_cache(db)
    evidence.expect_no_rows("clean envelopes differing from the model before any step", stale_at_start[:20])

    class ScaleoutModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self._tx = rolled_back()
            self.db = self._tx.__enter__()
            self.steps = 0
            db = self.db
            self.actors = {a: sc.fresh_actor(db, a) for a in (*BATCH_ACTORS, MANUAL_ACTOR, GATED_ACTOR)}
            self.templates = [tuple(r) for r in db.execute(TEMPLATES_SQL).fetchall()]
            self.templates_by_id = {(r[1], r[2]): r for r in self.templates}
            self.base = {a: tuple(c) for a, *c in db.execute(PER_ACTOR_SQL).fetchall()}
            self.orphans, self.drift = sc.orphans(db), sc.drift(db)
            self.vector = fingerprint.of_table(db, "iu_vector_point")
            self.clean_envelopes = model.CleanEnvelopes(db)
            self.refresh_gate = sc.gate_open(db, sc.REFRESH_GATE)
            # actor -> [instances, retired, memberships]
            self.model: dict[str, list[int]] = {}
            self.manual_seq = 0

        def teardown(self) -> None:
            runs.append(self.steps)
            self._tx.__exit__(None, None, None)

        def step(self, name: str) -> None:
            fired[name] += 1
            self.steps += 1

        # -- rules -----------------------------------------------------------
        @initialize(sizes=st.lists(st.integers(1, 12), min_size=len(BATCH_ACTORS), max_size=len(BATCH_ACTORS)))
        def start_with_a_batch_per_look_alike_actor(self, sizes: list[int]) -> None:
            for which, n in zip(BATCH_ACTORS, sizes, strict=True):
                self.scaleout(which, n)

        @rule(which=st.sampled_from((*BATCH_ACTORS, MANUAL_ACTOR)), n=st.integers(1, 12))
        def scaleout(self, which: str, n: int) -> None:
            actor = self.actors[which]
            evidence.add("N", n)
            if self.model.get(actor, [0])[0] > 0:
                err = sc.refusal(self.db, lambda: sc.scaleout(self.db, n, actor))
                assert sc.sqlstate(err) == "IU022", f"second batch for {actor}: {err}"
                self.step("scaleout refused (actor has a batch)")
                return
            rows = sc.scaleout(self.db, n, actor)
            assert len(rows) == n and all(r["digest_matches_template"] for r in rows), rows
            self.model[actor] = [n, 0, planned_memberships(self.templates, n)]
            self.step("scaleout")

        @rule(which=st.sampled_from((*BATCH_ACTORS, MANUAL_ACTOR)))
        def rollback(self, which: str) -> None:
            actor = self.actors[which]
            instances, _, memberships = self.model.get(actor, [0, 0, 0])
            dry = sc.rollback_report(self.db, actor, dry_run=True)
            want = {
                "information_unit": instances,
                sc.LINEAGE: instances,
                "iu_piece_membership": memberships,
                "event_outbox": instances,
                sc.AUDIT: instances,
            }
            assert {t: dry[t] for t in want} == want, f"dry run for {actor}: {dry}, model {want}"
            live = sc.rollback_report(self.db, actor, dry_run=False)
            assert live == dry, f"live {live} != dry {dry}"
            self.model.pop(actor, None)
            self.step("rollback")

        @precondition(lambda self: any(m[0] > m[1] for m in self.model.values()))
        @rule(data=st.data())
        def retire(self, data: st.DataObject) -> None:
            actor = data.draw(st.sampled_from(sorted(a for a, m in self.model.items() if m[0] > m[1])), label="actor")
            self.retire_one(actor)

        def retire_one(self, actor: str) -> None:
            retired = self.db.execute(
                "UPDATE information_unit SET lifecycle_state = 'retired' WHERE id = ("
                " SELECT u.id FROM iu_collection_template_instance_lineage l"
                " JOIN information_unit u ON u.id = l.instance_collection_id"
                " WHERE l.actor = %s AND u.lifecycle_state <> 'retired' ORDER BY u.code LIMIT 1)",
                [actor],
            ).rowcount
            assert retired == 1
            self.model[actor][1] += 1
            self.step("retire one instance")

        @rule(full=st.booleans())
        def refresh(self, full: bool) -> None:
            if full:
                self.db.execute("SELECT dot_iu_three_axis_envelope_refresh()")
            else:
                self.db.execute("SELECT fn_iu_three_axis_envelope_refresh_if_stale('iu-prove-e11')")
            dirty = sc.scalar(self.db, "SELECT count(*) FROM iu_three_axis_envelope_dirty")
            assert dirty == 0, f"{dirty} dirty marks after a refresh"
            self.step("manual full refresh" if full else "refresh-if-stale")

        @rule()
        def toggle_auto_refresh_gate(self) -> None:
            self.refresh_gate = not self.refresh_gate
            sc.set_gate(self.db, sc.REFRESH_GATE, self.refresh_gate)
            self.step("toggle auto-refresh gate")

        @rule(manual=st.booleans())
        def open_the_gate_around_other_work(self, manual: bool) -> None:
            db = self.db
            sc.set_gate(db, sc.GATE, True)
            err = sc.refusal(db, lambda: sc.scaleout(db, 3, self.actors[GATED_ACTOR]))
            assert sc.sqlstate(err) == "IU023", f"scaleout with the gate already open: {err}"
            if manual:
                actor = self.actors[MANUAL_ACTOR]
                self.manual_seq += 1
                code, version = MANUAL_TEMPLATE
                db.execute(
                    "SELECT * FROM dot_iu_auto_instantiate_from_event(%s, %s, false, %s, %s)",
                    [code, actor, version, f"SM-MANUAL-{self.manual_seq}"],
                )
                m = self.model.setdefault(actor, [0, 0, 0])
                m[0] += 1
                m[2] += self.templates_by_id[(code, version)][3]
            sc.set_gate(db, sc.GATE, False)
            self.step("gate opened around a manual instance" if manual else "gate opened and closed")

        # -- invariants ------------------------------------------------------
        @invariant()
        def counts_agree_with_the_model(self) -> None:
            have = {a: tuple(c) for a, *c in self.db.execute(PER_ACTOR_SQL).fetchall()}
            want = dict(self.base)
            want.update({a: tuple(m) for a, m in self.model.items() if m[0]})
            assert have == want, f"per actor (instances, retired, memberships): {have} != model {want}"
            audit = sc.rows_per_actor(self.db)
            for actor, (instances, *_) in self.model.items():
                lineage_rows, audit_rows = audit.get(actor, (0, 0))
                assert (lineage_rows, audit_rows) == (instances, instances), (actor, audit.get(actor), instances)

        @invariant()
        def no_orphans_no_drift(self) -> None:
            assert sc.orphans(self.db) == self.orphans, sc.orphans(self.db)
            assert sc.drift(self.db) == self.drift, sc.drift(self.db)

        @invariant()
        def every_clean_envelope_is_the_models(self) -> None:
            stale = self.clean_envelopes.stale()
            assert not stale, f"cached envelopes not marked dirty that differ from the model: {stale[:5]}"

        @invariant()
        def dieu_and_gates_and_ledger_hold(self) -> None:
            cached, computed = sc.dieu_envelope(self.db)
            assert cached == computed == sc.DIEU_ENVELOPE, (cached, computed)
            assert not sc.gate_open(self.db), "orchestrator gate open outside a scaleout"
            assert sc.gate_open(self.db, sc.REFRESH_GATE) == self.refresh_gate
            assert fingerprint.of_table(self.db, "iu_vector_point") == self.vector

    run_state_machine_as_test(ScaleoutModel, settings=settings(stateful_step_count=10))

    # one fixed run that fires every rule in turn, checking every invariant after each step
    fixed = ScaleoutModel()
    invariants = (
        fixed.counts_agree_with_the_model,
        fixed.every_clean_envelope_is_the_models,
        fixed.no_orphans_no_drift,
        fixed.dieu_and_gates_and_ledger_hold,
    )
    steps = (
        lambda: fixed.start_with_a_batch_per_look_alike_actor([2, 3, 1]),
        lambda: fixed.scaleout(BATCH_ACTORS[0], 2),
        lambda: fixed.toggle_auto_refresh_gate(),
        lambda: fixed.retire_one(fixed.actors[BATCH_ACTORS[1]]),
        lambda: fixed.refresh(False),
        lambda: fixed.retire_one(fixed.actors[BATCH_ACTORS[2]]),
        lambda: fixed.toggle_auto_refresh_gate(),
        lambda: fixed.refresh(True),
        lambda: fixed.open_the_gate_around_other_work(False),
        lambda: fixed.open_the_gate_around_other_work(True),
        lambda: fixed.rollback(BATCH_ACTORS[1]),
        lambda: fixed.rollback(MANUAL_ACTOR),
    )
    try:
        for step in steps:
            step()
            for check in invariants:
                check()
    finally:
        fixed.teardown()
    evidence.record("state machine runs", len(runs))
    evidence.record("steps per run", runs)
    evidence.record("rules fired", dict(sorted(fired.items())))
    evidence.expect("rules that never fired", have=sorted(RULES - {k.split(" (")[0] for k in fired}), want=[])
