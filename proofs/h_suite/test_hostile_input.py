"""H-3: operator functions refuse hostile text or handle it exactly; never an unquoted identifier."""

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from proofs import _model as model
from proofs._substrate import counts

HOSTILE = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\t",
            "%",
            "_",
            "*",
            "a%",
            "a_b",
            "x*",
            "?",
            "'",
            '"',
            "\\",
            "\\'",
            "';--",
            "'; DROP TABLE information_unit; --",
            'x"; DROP TABLE information_unit; --',
            "iu-core-12x-bulk ",
            "ünïcödé-actor",
            "演员",
            "a" * 201,
            "a" * 200,
            "$1",
            "%s",
            "{}",
            "NULL",
            "iu-core-12x-bulk%",
        ]
    ),
)
WRITES = [
    "information_unit",
    "iu_piece_membership",
    "iu_auto_instantiate_event_log",
    "iu_collection_template_instance_lineage",
    "event_outbox",
]


def attempt(db: psycopg.Connection, query: str, params: list) -> tuple[str | None, list]:
    """Run in a savepoint: (SQLSTATE or None, rows)."""
    try:
        with db.transaction():
            return None, db.execute(query, params).fetchall()
    except psycopg.Error as exc:
        return exc.sqlstate, []


def refused_cleanly(state: str | None) -> bool:
    return state is not None and state.startswith("IU")


@pytest.mark.claim("H-3")
@given(actor=HOSTILE)
@example(actor="'; DROP TABLE information_unit; --")
@example(actor="%")
@example(actor="a_b")
def test_an_actor_string_is_refused_or_recorded_exactly(rolled_back, evidence, actor):
    """Any actor text is refused with an IU error and no write, or recorded byte-for-byte as given."""
    evidence.add("actors tried", actor[:40])
    with rolled_back() as db:
        before = counts(db, WRITES)
        state, rows = attempt(db, "SELECT * FROM dot_iu_auto_instantiate_from_event('WF-REVIEW', %s, true)", [actor])
        verdict = model.actor_verdict(actor)
        if verdict != "either":
            evidence.expect(
                f"orchestrator outcome for an actor the rule {verdict}",
                have="refused" if state == "IU003" else "accepted" if state is None else state,
                want=verdict,
                note=repr(actor),
            )
        if state is None:
            recorded = db.execute(
                "SELECT triggered_by FROM iu_auto_instantiate_event_log ORDER BY occurred_at DESC LIMIT 1"
            ).fetchone()[0]
            evidence.expect("actor recorded", have=recorded, want=actor)
        else:
            evidence.expect_where("SQLSTATE of the refusal", state, refused_cleanly, "an IU-class refusal")
            evidence.expect("rows written by the refusal", have=counts(db, WRITES), want=before)
        state, rows = attempt(db, "SELECT * FROM dot_iu_auto_instantiate_rollback_by_actor(%s, true)", [actor])
        if verdict != "either":
            evidence.expect(
                f"rollback outcome for an actor the rule {verdict}",
                have="refused" if state == "IU003" else "accepted" if state is None else state,
                want=verdict,
                note=repr(actor),
            )
        if state is None:
            audit = db.execute(
                "SELECT count(*) FROM iu_auto_instantiate_event_log WHERE triggered_by = %s", [actor]
            ).fetchone()[0]
            reported = dict(rows).get("iu_auto_instantiate_event_log")
            evidence.expect(
                "audit rows a dry-run rollback attributes to the actor (exact match)", have=reported, want=audit
            )
        else:
            evidence.expect_where("SQLSTATE of the rollback refusal", state, refused_cleanly, "an IU-class refusal")


@pytest.mark.claim("H-3")
@given(code=HOSTILE)
@example(code="WF-REVIEW'; --")
def test_a_template_code_string_is_refused_as_unknown_or_matched_exactly(rolled_back, evidence, code):
    """Any template-code text is either an exact known template or refused as unknown (IU004) with no write."""
    evidence.add("codes tried", code[:40])
    with rolled_back() as db:
        known = db.execute("SELECT count(*) FROM iu_collection_template WHERE code = %s", [code]).fetchone()[0]
        before = counts(db, WRITES)
        state, _ = attempt(db, "SELECT * FROM dot_iu_auto_instantiate_from_event(%s, 'iu-prove', true)", [code])
        if known:
            evidence.expect("known template accepted", have=state, want=None)
        else:
            # unknown template (IU004); a blank code may be refused earlier as a bad argument (IU006)
            allowed = {"IU004"} if code.strip() else {"IU004", "IU006"}
            evidence.expect_where("SQLSTATE for an unknown template", state, allowed.__contains__, " or ".join(allowed))
            evidence.expect("rows written by the refusal", have=counts(db, WRITES), want=before)


@pytest.mark.claim("H-3")
@pytest.mark.parametrize("actor", ["", " ", "\t", "%", "*", "iu-core-%", "iu-core-12x-*"])
def test_an_empty_or_wildcard_actor_is_refused_by_rollback_by_actor(db, evidence, actor):
    """A live rollback-by-actor with an empty, blank or wildcard actor is refused (IU003) and deletes nothing."""
    before = counts(db, WRITES)
    state, _ = attempt(db, "SELECT * FROM dot_iu_auto_instantiate_rollback_by_actor(%s, false)", [actor])
    evidence.expect("SQLSTATE", have=state, want="IU003")
    evidence.expect("row counts after the refusal", have=counts(db, WRITES), want=before)


# The actor rule's limit and edge-whitespace conditions, each at its boundary
# and each alone: the verdict comes from the rule written out (model.actor_verdict).
ACTOR_EDGES = {
    "199 characters": "a" * 199,
    "200 characters (the limit)": "a" * 200,
    "201 characters": "a" * 201,
    "leading space only": " iu-prove",
    "trailing space only": "iu-prove ",
    "inner space only": "iu prove",
}

# (template code, version, instance code) -> (SQLSTATE, text the message must hold); None: accepted.
# Version bounds: 1 is the least accepted, 0 and -1 refused; NULL means the latest.
ORCHESTRATOR_ARGUMENTS = {
    "template code NULL": ((None, None, None), ("IU006", "template code is empty")),
    "template code empty": (("", None, None), ("IU006", "template code is empty")),
    "template code blank": (("   ", None, None), ("IU006", "template code is empty")),
    "version 0": (("WF-ONBOARD", 0, None), ("IU006", "template version must be positive (got 0)")),
    "version -1": (("WF-ONBOARD", -1, None), ("IU006", "template version must be positive (got -1)")),
    "version 1": (("WF-ONBOARD", 1, None), None),
    "version NULL": (("WF-ONBOARD", None, None), None),
    "version unknown": (("WF-ONBOARD", 99, None), ("IU004", "unknown template WF-ONBOARD@99")),
    "code unknown, no version": (("H3-NO-SUCH", None, None), ("IU004", "unknown template H3-NO-SUCH")),
    "instance code empty": (("WF-ONBOARD", None, ""), ("IU006", "instance code is empty")),
    "instance code blank": (("WF-ONBOARD", None, "   "), ("IU006", "instance code is empty")),
    "instance code given": (("WF-ONBOARD", None, "H3-INSTANCE"), None),
}


@pytest.mark.claim("H-3")
@pytest.mark.parametrize("case", list(ACTOR_EDGES), ids=lambda c: c.replace(" ", "-"))
def test_an_actor_at_the_length_limit_or_with_one_edge_space_is_judged_by_the_rule(db, evidence, case):
    """An actor of 200 characters is accepted and of 201 refused; a leading or a trailing space alone is refused."""
    actor = ACTOR_EDGES[case]
    verdict = model.actor_verdict(actor)
    evidence.record("actor", actor)
    for label, query in (
        ("orchestrator dry run", "SELECT * FROM dot_iu_auto_instantiate_from_event('WF-REVIEW', %s, true)"),
        ("rollback-by-actor dry run", "SELECT * FROM dot_iu_auto_instantiate_rollback_by_actor(%s, true)"),
    ):
        before = counts(db, WRITES)
        state, _ = attempt(db, query, [actor])
        evidence.expect(
            f"{label}: outcome for an actor the rule {verdict}",
            have="refused" if state == "IU003" else "accepted" if state is None else state,
            want=verdict,
            note=repr(actor),
        )
        if state is not None:
            evidence.expect(f"{label}: rows written by the refusal", have=counts(db, WRITES), want=before)


@pytest.mark.claim("H-3")
@pytest.mark.parametrize("case", list(ORCHESTRATOR_ARGUMENTS), ids=lambda c: c.replace(" ", "-"))
def test_each_bad_orchestrator_argument_is_refused_alone_with_its_reason(db, evidence, case):
    """Each bad orchestrator argument alone (empty code, version below 1, empty instance code) is refused, no write."""
    (code, version, instance_code), refusal = ORCHESTRATOR_ARGUMENTS[case]
    before = counts(db, WRITES)
    query = "SELECT * FROM dot_iu_auto_instantiate_from_event(%s, 'iu-prove', true, %s, %s)"
    try:
        with db.transaction():
            rows = db.execute(query, [code, version, instance_code]).fetchall()
        state, message = None, ""
    except psycopg.Error as exc:
        rows, state, message = [], exc.sqlstate, exc.diag.message_primary or ""
    if refusal is None:
        evidence.expect("SQLSTATE", have=state, want=None, rows=[message])
        if instance_code is not None:
            evidence.expect("instance code returned", have=[r[1] for r in rows], want=[instance_code])
        return
    want_state, want_text = refusal
    evidence.expect("SQLSTATE", have=state, want=want_state, rows=[message])
    evidence.expect(f"message ends with {want_text!r}", have=message.endswith(want_text), want=True, rows=[message])
    evidence.expect("rows written by the refusal", have=counts(db, WRITES), want=before)
