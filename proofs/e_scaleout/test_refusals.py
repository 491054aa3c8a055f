"""E-10: a bad N or a bad actor is refused with a clear error and nothing written; odd actors are handled exactly."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from iu_prove import fingerprint
from iu_prove.dsn import connect
from proofs import _model as model
from proofs.e_scaleout import _scaleout as sc

ASCII_SPACE = " \t\n\r\f\v"
NASTY_ACTORS = [
    "",
    " ",
    "\t",
    "%",
    "_",
    "*",
    "?",
    "iu-core-%x-bulk",
    "iu-core-__x-bulk",
    "iu-core-12x-bulk",
    "O'Brien",
    '"quoted"',
    "back\\slash",
    "'; DROP TABLE information_unit; --",
    "Robert'); DELETE FROM iu_collection_template_instance_lineage; --",
    "$1",
    "%s",
    ":actor",
    "ünïcødé-актор-演员",
    "emoji-🚀",
    "\u00a0nbsp-edge\u00a0",
    " lead",
    "trail ",
    "line\nbreak",
    "x" * 200,
    "x" * 201,
]
actors = st.one_of(
    st.sampled_from(NASTY_ACTORS),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
)


def must_be_refused(actor: str | None) -> bool:
    """Actors the issue says are refused: empty, whitespace-edged, pattern-like, control characters, too long."""
    if actor is None or actor == "":
        return True
    return (
        any(c in "%*?" for c in actor)
        or any(ord(c) < 32 or ord(c) == 127 for c in actor)
        or actor[0] in ASCII_SPACE
        or actor[-1] in ASCII_SPACE
        or len(actor) > 200
    )


@pytest.mark.claim("E-10")
@given(n=st.one_of(st.none(), st.integers(-(2**31), 0), st.integers(41, 2**31 - 1)))
@example(n=0)
@example(n=41)
@example(n=-1)
@example(n=None)
def test_n_outside_1_to_the_bound_is_refused_and_writes_nothing(rolled_back, evidence, n):
    """N missing, below 1 or above the bound (40 unless raised) is refused with IU020 and writes nothing."""
    evidence.add("refused N", n)
    with rolled_back() as db:
        before = fingerprint.of_schema(db)
        err = sc.refusal(db, lambda: sc.scaleout(db, n, "iu-prove-e10-bad-n"))
        evidence.expect("SQLSTATE", have=sc.sqlstate(err), want="IU020", note=f"N={n}")
        evidence.record("message", err.diag.message_primary if err else None)
        changed = fingerprint.diff(before, fingerprint.of_schema(db))
        evidence.expect_no_rows("tables changed by the refused call", fingerprint.describe(changed))


@pytest.mark.claim("E-10")
def test_the_bound_is_raised_only_by_an_explicit_argument(db, evidence):
    """N=41 is refused by default and accepted with bound 41; N=45 with bound 44 is refused."""
    default = sc.refusal(db, lambda: sc.scaleout(db, 41, "iu-prove-e10-bound"))
    evidence.expect("N=41, default bound", have=sc.sqlstate(default), want="IU020")
    rows = sc.scaleout(db, 41, "iu-prove-e10-bound", bound=41)
    evidence.expect("N=41, bound=41: instances", have=len(rows), want=41)
    over = sc.refusal(db, lambda: sc.scaleout(db, 45, "iu-prove-e10-bound-2", bound=44))
    evidence.expect("N=45, bound=44", have=sc.sqlstate(over), want="IU020")
    bad_bound = sc.refusal(db, lambda: sc.scaleout(db, 5, "iu-prove-e10-bound-3", bound=0))
    evidence.expect("bound=0", have=sc.sqlstate(bad_bound), want="IU021")
    bad_share = sc.refusal(db, lambda: sc.scaleout(db, 5, "iu-prove-e10-bound-4", share=1.5))
    evidence.expect("workflow share 1.5", have=sc.sqlstate(bad_share), want="IU021")


@pytest.mark.claim("E-10")
@given(actor=actors, n=st.integers(1, 5))
@example(actor="", n=3)
@example(actor="%", n=3)
@example(actor="a_b", n=3)
@example(actor="O'Brien; DROP TABLE information_unit; --", n=3)
def test_any_actor_is_refused_or_handled_exactly(rolled_back, evidence, actor, n):
    """Any actor string is refused (empty/pattern/edge-space ones always) writing nothing, or handled exactly."""
    with rolled_back() as db:
        before = fingerprint.of_schema(db)
        per_actor = sc.rows_per_actor(db)
        err = sc.refusal(db, lambda: sc.scaleout(db, n, actor))
        state = sc.sqlstate(err)
        evidence.add("actor, outcome", [actor, state or "accepted"])
        verdict = model.actor_verdict(actor)
        if verdict == "refused":
            evidence.expect("SQLSTATE for an actor that must be refused", have=state, want="IU003", note=repr(actor))
        elif verdict == "accepted" and actor in per_actor:  # one actor addresses one batch
            evidence.expect("outcome for an actor that already has rows", have=state, want="IU022", note=repr(actor))
        elif verdict == "accepted":
            evidence.expect(
                "outcome for a plain actor (stored exactly)", have=state, want=None, note=f"{actor!r}: {err}"
            )
        if err is not None:
            evidence.expect_true(
                "refusal is an IU error", state is not None and state.startswith("IU"), note=f"{actor!r}: {state} {err}"
            )
            changed = fingerprint.diff(before, fingerprint.of_schema(db))
            evidence.expect_no_rows("tables changed by the refused call", fingerprint.describe(changed))
            return
        after = sc.rows_per_actor(db)
        evidence.expect(
            "(lineage, audit) rows under exactly this actor", have=after.get(actor), want=(n, n), note=repr(actor)
        )
        evidence.expect(
            "rows of every other actor",
            have={a: c for a, c in after.items() if a != actor},
            want={a: c for a, c in per_actor.items() if a != actor},
        )
        sc.rollback_report(db, actor, dry_run=False)
        changed = fingerprint.diff(before, fingerprint.of_schema(db))
        evidence.expect_no_rows("tables that differ after rolling this actor back", fingerprint.describe(changed))


BAD_SCRIPT_RUNS = [
    ({}, "N is required"),
    ({"n": ""}, "N is required"),
    ({"n": "abc"}, "whole number"),
    ({"n": "0"}, "outside 1..40"),
    ({"n": "41"}, "outside 1..40"),
    ({"n": "-1"}, "whole number"),
    ({"n": "1e3"}, "whole number"),
    ({"n": "30; DROP TABLE information_unit"}, "whole number"),
    ({"n": "99999999999"}, "whole number"),
    ({"n": "5", "bound": "x"}, "bound"),
    ({"n": "5", "workflow_share": "2"}, "workflow share"),
    ({"n": "5", "workflow_share": "0:0"}, "workflow share"),
    ({"n": "5", "dry_run": "maybe"}, "-v dry_run is not a variable of this script"),
    ({"n": "5", "live": "maybe"}, "live must be true or false"),
    ({"n": "5", "confirm": "yes"}, "-v confirm is not a variable of this script"),
    ({"n": "5", "actor": ""}, "actor is empty"),
    ({"n": "5", "actor": "%"}, "pattern character"),
    ({"n": "5", "actor": "iu-core-%x-bulk"}, "pattern character"),
    ({"n": "5", "actor": " padded"}, "whitespace"),
    ({"n": "12"}, "already has 12 instance(s)"),
]
EXACT_SCRIPT_ACTORS = ['O\'Brien "x"; DROP TABLE information_unit; --', "ünïcødé-актор_演员", "a_b"]


@pytest.mark.claim("E-10")
@pytest.mark.durable
def test_the_script_refuses_bad_variables_and_takes_odd_actors_exactly(fresh_database, psql, evidence):
    """run_bounded_scaleout.sql exits non-zero naming each bad variable, writing nothing; odd actors are exact."""
    with connect(fresh_database) as db:
        before = fingerprint.of_schema(db)
        db.rollback()
    outcomes, not_refused = [], []
    for variables, needle in BAD_SCRIPT_RUNS:
        res = psql.run("scaleout/run_bounded_scaleout.sql", dsn=fresh_database, **variables)
        first = next((ln for ln in res.stderr.splitlines() if "ERROR" in ln), res.stderr.strip()[:120])
        outcomes.append([variables, res.returncode, first.split("ERROR:", 1)[-1].strip()])
        if res.returncode == 0 or needle not in res.stderr:
            not_refused.append([variables, res.returncode, needle, res.output[-200:]])
    evidence.expect_no_rows("bad runs not refused with a message naming the problem", not_refused)
    evidence.record("refused runs (variables, exit code, message)", outcomes)
    with connect(fresh_database) as db:
        changed = fingerprint.diff(before, fingerprint.of_schema(db))
        db.rollback()
    evidence.expect_no_rows("tables changed by the refused runs", fingerprint.describe(changed))

    raised = psql.run("scaleout/run_bounded_scaleout.sql", dsn=fresh_database, n=41, bound=41)
    evidence.expect(
        "n=41 with bound=41 (dry run) plans 41 instances",
        have=(raised.returncode, "41 instance(s), 41 digest-matched" in raised.stdout),
        want=(0, True),
        note=raised.output[-300:],
    )

    exact = []
    for actor in EXACT_SCRIPT_ACTORS:
        res = psql.run("scaleout/run_bounded_scaleout.sql", dsn=fresh_database, n=3, actor=actor, live="true")
        with connect(fresh_database) as db:
            rows = sc.rows_per_actor(db).get(actor)
            db.rollback()
        back = psql.run("scaleout/rollback_batch.sql", dsn=fresh_database, actor=actor, live="true")
        exact.append([actor, res.returncode, rows, back.returncode])
    evidence.expect(
        "odd actors through psql (actor, run exit, (lineage, audit) rows, rollback exit)",
        have=exact,
        want=[[actor, 0, (3, 3), 0] for actor in EXACT_SCRIPT_ACTORS],
    )
    with connect(fresh_database) as db:
        changed = fingerprint.diff(before, fingerprint.of_schema(db))
        db.rollback()
    evidence.expect_no_rows("tables that differ after the odd actors were rolled back", fingerprint.describe(changed))


ARGS_SQL = "SELECT n, actor, workflow_share, bound, dry_run FROM fn_iu_bounded_scaleout_args(%s, %s, %s, %s, %s)"
ARGS_ACTOR = "iu-prove-e10-args"
# (n, workflow_share, bound, dry_run) as psql passes them -> (n, share, bound, dry_run) or (SQLSTATE, message start)
ARGS_CASES = [
    ((None, None, None, None), ("IU020", "scaleout refused: N is required")),
    (("", "", "", ""), ("IU020", "scaleout refused: N is required")),
    (("5", None, None, None), (5, Fraction(2, 3), 40, "false")),
    (("5", "", "", ""), (5, Fraction(2, 3), 40, "false")),
    ((" 5 ", " 1:2 ", " 41 ", " YES "), (5, Fraction(1, 3), 41, "true")),
    (("5", "2:1", None, None), (5, Fraction(2, 3), 40, "false")),
    (("5", "3:0", None, None), (5, Fraction(1), 40, "false")),
    (("5", "0:3", None, None), (5, Fraction(0), 40, "false")),
    (("5", "1:4", None, None), (5, Fraction(1, 5), 40, "false")),
    (("5", "3:3", None, None), (5, Fraction(1, 2), 40, "false")),  # equal parts: their sum, not difference, is 6
    (("5", "0:0", None, None), ("IU021", "scaleout refused: workflow share 0:0 names no instances")),
    (("5", "0.25", None, "off"), (5, Fraction(1, 4), 40, "false")),
    (("5", ".5", None, "1"), (5, Fraction(1, 2), 40, "true")),
    (("5", "1:x", None, None), ("IU021", "scaleout refused: workflow share must be a fraction")),
    (("5", "1.5", None, None), ("IU021", "scaleout refused: workflow share must be in 0..1 (got 1.5)")),
    (("5", None, "0", None), ("IU021", "scaleout refused: bound must be a positive integer (got 0)")),
    (("1", None, "1", None), (1, Fraction(2, 3), 1, "false")),
    (("2", None, "1", None), ("IU020", "scaleout refused: N=2 is outside 1..1")),
    (("0", None, None, None), ("IU020", "scaleout refused: N=0 is outside 1..40")),
    (("x", None, None, None), ("IU020", "scaleout refused: N must be a whole number, got 'x'")),
    (("5", None, "-1", None), ("IU021", "scaleout refused: bound must be a whole number, got '-1'")),
    (("5", None, None, "maybe"), ("IU021", "scaleout refused: dry_run must be true or false, got 'maybe'")),
]


def _args_outcome(db, n, share, bound, dry_run) -> tuple:
    try:
        with db.transaction():
            row = db.execute(ARGS_SQL, [n, ARGS_ACTOR, share, bound, dry_run]).fetchone()
    except psycopg.Error as exc:
        return exc.sqlstate, (exc.diag.message_primary or "")
    n_, actor, share_, bound_, dry_ = row
    assert actor == ARGS_ACTOR
    return n_, Fraction(share_).limit_denominator(1000), bound_, dry_


@pytest.mark.claim("E-10")
def test_the_script_arguments_are_parsed_each_alone_with_their_defaults(db, evidence):
    """Each psql variable alone (empty, missing, padded, ratio, fraction, bad) parses to its value or its refusal."""
    wrong = []
    for args, want in ARGS_CASES:
        have = _args_outcome(db, *args)
        ok = have == want if isinstance(want[0], int) else have[0] == want[0] and have[1].startswith(want[1])
        if not ok:
            wrong.append([list(args), list(have), list(want)])
    evidence.expect_no_rows("arguments parsed to another value or refusal", wrong)


CHECK_SQL = "SELECT fn_iu_bounded_scaleout_check(%s, %s, %s, %s, %s)"
# (n, share, bound) -> SQLSTATE (None: accepted), message start
CHECK_CASES = [
    ((1, Decimal(0), 1), (None, "")),
    ((1, Decimal(1), 1), (None, "")),
    ((1, Decimal("0.5"), None), ("IU021", "scaleout refused: bound must be a positive integer (got NULL)")),
    ((1, Decimal("0.5"), 0), ("IU021", "scaleout refused: bound must be a positive integer (got 0)")),
    ((0, Decimal("0.5"), 1), ("IU020", "scaleout refused: N=0 is outside 1..1")),
    ((2, Decimal("0.5"), 1), ("IU020", "scaleout refused: N=2 is outside 1..1")),
    ((1, Decimal("-0.001"), 1), ("IU021", "scaleout refused: workflow share must be in 0..1 (got -0.001)")),
    ((1, Decimal("1.001"), 1), ("IU021", "scaleout refused: workflow share must be in 0..1 (got 1.001)")),
    ((1, Decimal("1.5"), 1), ("IU021", "scaleout refused: workflow share must be in 0..1 (got 1.5)")),
    ((1, None, 1), ("IU021", "scaleout refused: workflow share must be in 0..1 (got NULL)")),
]


def _check_outcome(db, n, share, bound, actor=ARGS_ACTOR, dry_run=False) -> tuple:
    try:
        with db.transaction():
            db.execute(CHECK_SQL, [n, actor, share, bound, dry_run])
    except psycopg.Error as exc:
        return exc.sqlstate, (exc.diag.message_primary or "")
    return None, ""


@pytest.mark.claim("E-10")
def test_each_check_of_n_bound_and_share_refuses_alone_at_its_edge(db, evidence):
    """Bound 1 and share 0 or 1 are accepted; N, bound and share just outside their ranges are each refused."""
    have = [[list(map(str, a)), *_check_outcome(db, *a)] for a, _ in CHECK_CASES]
    evidence.expect(
        "(N, share, bound): SQLSTATE, message starts as wanted",
        have=[
            [a, state, message.startswith(want[1])]
            for (a, state, message), (_, want) in zip(have, CHECK_CASES, strict=True)
        ],
        want=[[list(map(str, a)), want[0], True] for a, want in CHECK_CASES],
        rows=have,
    )


@pytest.mark.claim("E-10")
def test_an_actor_with_one_lineage_row_or_one_audit_row_alone_is_refused(db, evidence):
    """One actor addresses one batch: a single audit row alone (dry run) or a single lineage row alone refuses it."""
    dry = sc.fresh_actor(db, "iu-prove-e10-one-audit")
    sc.scaleout(db, 1, dry, dry_run=True)
    live = sc.fresh_actor(db, "iu-prove-e10-one-lineage")
    sc.scaleout(db, 1, live)
    db.execute("DELETE FROM iu_auto_instantiate_event_log WHERE triggered_by = %s", [live])
    evidence.expect(
        "(lineage, audit) rows of the two actors",
        have=[sc.footprint(db, a)["lineage"] for a in (dry, live)]
        + [sc.footprint(db, a)["audit"] for a in (dry, live)],
        want=[0, 1, 1, 0],
    )
    evidence.expect(
        "SQLSTATE of a new batch for each",
        have=[_check_outcome(db, 1, Decimal("0.5"), 40, a)[0] for a in (dry, live)],
        want=["IU022", "IU022"],
    )
