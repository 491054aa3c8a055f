"""X-4: the cross-template piece-sharing surface lists exactly the pieces shared between templates."""

from __future__ import annotations

from collections import defaultdict

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from proofs.x_cross_cutting._support import GATE_INSTANTIATE, LINEAGE, instantiate_batch, set_gate, sqlstate_of

# fixtures/seed/README.md, "Shared pieces": a piece in more than one template code@version — exactly these 8.
EXPECTED_SHARED = {
    "TPL-P01": ["WF-ONBOARD@1", "WF-ONBOARD@2"],
    "TPL-P02": ["WF-ONBOARD@1", "WF-ONBOARD@2"],
    "TPL-P03": ["WF-ONBOARD@1", "WF-ONBOARD@2"],
    "TPL-P05": ["WF-REVIEW@1", "WF-REVIEW@2"],
    "TPL-P06": ["WF-REVIEW@1", "WF-REVIEW@2"],
    "TPL-P08": ["WF-HANDOVER@1", "WF-RELEASE@1"],
    "TPL-P11": ["FILE-RUNBOOK@1", "WF-INCIDENT@1"],
    "TPL-P18": ["FILE-README@1", "FILE-README@2"],
}
POOL = [f"TPL-P{i:02d}" for i in range(1, 25)]
COLUMNS = (
    "piece_code, template_count, template_code_count, shared_across_codes, templates, template_codes, "
    "template_kinds, instance_count"
)


def sharing_of(templates: dict[tuple[str, int, str], list[str]]) -> dict[str, dict]:
    """The sharing surface computed in Python from template definitions (no SQL view involved)."""
    users: dict[str, set[tuple[str, int, str]]] = defaultdict(set)
    for (code, version, kind), pieces in templates.items():
        for piece in pieces:
            users[piece].add((code, version, kind))
    return {
        piece: {
            "template_count": len(used),
            "template_code_count": len({c for c, _, _ in used}),
            "shared_across_codes": len({c for c, _, _ in used}) > 1,
            "templates": [f"{c}@{v}" for c, v, _ in sorted(used)],
            "template_codes": sorted({c for c, _, _ in used}),
            "template_kinds": sorted({k for _, _, k in used}),
        }
        for piece, used in users.items()
        if len(used) > 1
    }


def _surface(db: psycopg.Connection, source: str) -> dict[str, dict]:
    cur = db.execute(f"SELECT {COLUMNS} FROM {source}")
    names = [d.name for d in cur.description]
    return {r[0]: dict(zip(names[1:], r[1:], strict=True)) for r in cur.fetchall()}


def _diff(have: dict[str, dict], want: dict[str, dict]) -> list[tuple]:
    return [(p, have.get(p), want.get(p)) for p in sorted(set(have) | set(want)) if have.get(p) != want.get(p)]


def _without_instances(surface: dict[str, dict]) -> dict[str, dict]:
    return {p: {k: v for k, v in row.items() if k != "instance_count"} for p, row in surface.items()}


def _instance_counts(db: psycopg.Connection) -> dict[str, int]:
    rows = db.execute(
        f"SELECT p.code, m.collection_id FROM {LINEAGE} l "
        "JOIN iu_piece_membership m ON m.collection_id = l.instance_collection_id "
        "JOIN information_unit p ON p.id = m.piece_id"
    ).fetchall()
    holders: dict[str, set] = defaultdict(set)
    for code, collection in rows:
        holders[code].add(collection)
    return {code: len(c) for code, c in holders.items()}


def _templates(db: psycopg.Connection) -> dict[tuple[str, int, str], list[str]]:
    rows = db.execute("SELECT code, version, kind, piece_codes FROM iu_collection_template").fetchall()
    return {(c, v, k): list(p) for c, v, k, p in rows}


@pytest.mark.claim("X-4")
@pytest.mark.readonly
def test_the_sharing_surface_lists_exactly_the_fixtures_shared_pieces(db, evidence):
    """The sharing command lists exactly the fixtures' 8 shared pieces, each with the templates sharing it."""
    rows = db.execute("SELECT piece_code, templates, template_count FROM dot_iu_cross_template_piece_sharing()")
    have = {r[0]: [list(r[1]), r[2]] for r in rows.fetchall()}
    evidence.record("shared pieces", len(have))
    evidence.expect(
        "shared pieces and their templates (templates, count)",
        have=have,
        want={p: [t, len(t)] for p, t in EXPECTED_SHARED.items()},
        rows=sorted(set(have) ^ set(EXPECTED_SHARED)),
    )
    cross = sorted(p for p, t in EXPECTED_SHARED.items() if len({x.split("@")[0] for x in t}) > 1)
    evidence.expect(
        "shared across different template codes",
        have=[
            r[0]
            for r in db.execute(
                "SELECT piece_code FROM dot_iu_cross_template_piece_sharing() WHERE shared_across_codes ORDER BY 1"
            ).fetchall()
        ],
        want=cross,
    )


@pytest.mark.claim("X-4")
@pytest.mark.readonly
def test_the_sharing_view_and_command_equal_a_recomputation_from_the_templates(db, evidence):
    """The view and the command equal the sharing recomputed from template definitions, with instance counts."""
    view = _surface(db, "v_iu_cross_template_piece_sharing")
    command = _surface(db, "dot_iu_cross_template_piece_sharing()")
    counts = _instance_counts(db)
    want = {p: row | {"instance_count": counts.get(p, 0)} for p, row in sharing_of(_templates(db)).items()}
    evidence.record("instance counts per shared piece", {p: r["instance_count"] for p, r in view.items()})
    evidence.record("shared pieces (view, command, recomputed)", [len(view), len(command), len(want)])
    evidence.expect_no_rows("view rows differing from the recomputation (piece, view, recomputed)", _diff(view, want))
    evidence.expect_no_rows("command rows differing from the view (piece, command, view)", _diff(command, view))
    order = [r[0] for r in db.execute("SELECT piece_code FROM dot_iu_cross_template_piece_sharing()").fetchall()]
    evidence.expect("command order", have=order, want=sorted(order))


@pytest.mark.claim("X-4")
@given(
    pieces=st.lists(st.sampled_from(POOL), min_size=1, max_size=8),
    kind=st.sampled_from(["workflow", "file"]),
)
@example(pieces=["TPL-P24", "TPL-P24"], kind="file")  # listed twice in one template: not shared by that alone
def test_a_new_template_changes_the_surface_exactly_as_its_pieces_predict(rolled_back, evidence, pieces, kind):
    """A new template sharing pieces (repeats allowed) changes the surface exactly as its pieces predict."""
    evidence.add("probe template pieces", len(pieces))
    with rolled_back() as db:
        before = _templates(db)
        db.execute("SELECT fn_iu_template_register('X-PROBE', 1, %s, %s)", [kind, pieces])
        have = _without_instances(_surface(db, "dot_iu_cross_template_piece_sharing()"))
        want = sharing_of(before | {("X-PROBE", 1, kind): pieces})
        evidence.add("shared pieces after registering X-PROBE@1", len(have))
        evidence.expect_no_rows(
            "surface rows differing from the prediction (piece, surface, predicted)", _diff(have, want)
        )


@pytest.mark.claim("X-4")
def test_a_template_version_starts_at_one(db, evidence):
    """Registering a template refuses version 0, -1 or NULL (IU006) and registers version 1."""
    register = "SELECT fn_iu_template_register('X-VERSION', %s, 'file', ARRAY['TPL-P01', 'TPL-P11'])"
    have = {str(version): sqlstate_of(db, register, [version])[0] for version in (0, -1, None)}
    evidence.expect("SQLSTATE per refused version", have=have, want={"0": "IU006", "-1": "IU006", "None": "IU006"})
    evidence.expect(
        "versions of X-VERSION after the refusals",
        have=[r[0] for r in db.execute("SELECT version FROM iu_collection_template WHERE code = 'X-VERSION'")],
        want=[],
    )
    evidence.expect("version 1 registers", have=sqlstate_of(db, register, [1])[0], want=None)
    evidence.expect(
        "versions of X-VERSION after version 1",
        have=[r[0] for r in db.execute("SELECT version FROM iu_collection_template WHERE code = 'X-VERSION'")],
        want=[1],
    )


GOOD = ("X-ARGS", 1, "file", ["TPL-P01", "TPL-P11"])
# each argument alone made bad (the others good) → (SQLSTATE, the message's end); None: registered
REGISTER_CASES = {
    "code NULL": ((None, 1, "file", GOOD[3]), ("IU006", "code is empty")),
    "code empty": (("", 1, "file", GOOD[3]), ("IU006", "code is empty")),
    "code blank": (("   ", 1, "file", GOOD[3]), ("IU006", "code is empty")),
    "version NULL": (("X-ARGS", None, "file", GOOD[3]), ("IU006", "positive integer (got NULL)")),
    "version 0": (("X-ARGS", 0, "file", GOOD[3]), ("IU006", "positive integer (got 0)")),
    "kind NULL": (("X-ARGS", 1, None, GOOD[3]), ("IU006", "workflow or file (got NULL)")),
    "kind other": (("X-ARGS", 1, "form", GOOD[3]), ("IU006", "workflow or file (got 'form')")),
    "pieces NULL": (("X-ARGS", 1, "file", None), ("IU006", "piece list for X-ARGS@1 is empty or contains NULL")),
    "pieces empty": (("X-ARGS", 1, "file", []), ("IU006", "piece list for X-ARGS@1 is empty or contains NULL")),
    "pieces with a NULL": (
        ("X-ARGS", 1, "file", ["TPL-P01", None]),
        ("IU006", "piece list for X-ARGS@1 is empty or contains NULL"),
    ),
    "an existing code and version": (
        ("WF-ONBOARD", 1, "workflow", GOOD[3]),
        ("IU006", "WF-ONBOARD@1 already registered"),
    ),
    "an existing code, a new version": (("WF-ONBOARD", 99, "workflow", GOOD[3]), None),
    "workflow kind (control)": (("X-ARGS", 1, "workflow", GOOD[3]), None),
    "all good (control)": (GOOD, None),
}


@pytest.mark.claim("X-4")
@pytest.mark.parametrize("case", list(REGISTER_CASES), ids=lambda c: c.replace(" ", "-"))
def test_registering_a_template_refuses_each_bad_argument_alone(db, evidence, case):
    """Each bad argument alone (empty code, version below 1, other kind, empty or NULL piece) is refused."""
    (code, version, kind, pieces), refusal = REGISTER_CASES[case]
    before = db.execute("SELECT count(*) FROM iu_collection_template").fetchone()[0]
    state, message = sqlstate_of(
        db, "SELECT fn_iu_template_register(%s, %s, %s, %s::text[])", [code, version, kind, pieces]
    )
    after = db.execute("SELECT count(*) FROM iu_collection_template").fetchone()[0]
    if refusal is None:
        evidence.expect("SQLSTATE", have=state, want=None, rows=[message])
        evidence.expect("templates registered", have=after - before, want=1)
        return
    evidence.expect("SQLSTATE", have=state, want=refusal[0], rows=[message])
    evidence.expect(f"message ends with {refusal[1]!r}", have=message.endswith(refusal[1]), want=True, rows=[message])
    evidence.expect("templates registered", have=after - before, want=0)


@pytest.mark.claim("X-4")
def test_a_shared_pieces_instance_count_counts_template_instances_only(rolled_back, evidence):
    """A shared piece's instance count is the template instances holding it (once each); a plain collection adds 0."""
    with rolled_back() as db:
        instantiate_batch(db, "iu-x-sharing-batch", 12)  # every template in turn, twice at most
        # an instance holding one shared piece at two positions counts once for it
        db.execute("SELECT fn_iu_template_register('X4-TWICE', 1, 'file', ARRAY['TPL-P01', 'TPL-P01'])")
        set_gate(db, GATE_INSTANTIATE, True)
        db.execute("SELECT * FROM dot_iu_auto_instantiate_from_event('X4-TWICE', 'iu-x-sharing-batch', false, 1)")
        set_gate(db, GATE_INSTANTIATE, False)
        db.execute("SELECT fn_iu_compose('X4-PLAIN', %s, 'iu-prove')", [sorted(EXPECTED_SHARED)])
        counts = _instance_counts(db)
        plain = {
            r[0]
            for r in db.execute(
                "SELECT p.code FROM iu_piece_membership m JOIN information_unit c ON c.id = m.collection_id "
                "JOIN information_unit p ON p.id = m.piece_id WHERE c.code = 'X4-PLAIN'"
            ).fetchall()
        }
        view = _surface(db, "v_iu_cross_template_piece_sharing")
        templates = _templates(db)
    want = {p: row | {"instance_count": counts.get(p, 0)} for p, row in sharing_of(templates).items()}
    held = sorted(p for p in view if counts.get(p, 0) >= 2 and p in plain)
    evidence.record("instance counts per shared piece", {p: r["instance_count"] for p, r in view.items()})
    evidence.expect_true("some shared piece is held by 2+ instances and the plain collection", bool(held), rows=held)
    evidence.expect_no_rows("view rows differing from the recomputation (piece, view, recomputed)", _diff(view, want))


# a shared code that names no piece: a collection's code, and a code no unit has
NOT_A_PIECE = {"a collection's code": "DIEU", "no unit at all": "X4-NO-SUCH-PIECE"}


@pytest.mark.claim("X-4")
@pytest.mark.parametrize("case", list(NOT_A_PIECE))
def test_a_shared_code_naming_no_piece_is_listed_without_a_piece(db, evidence, case):
    """A code two templates share that names no piece (a collection's, or none) is listed with no piece id or state."""
    code = NOT_A_PIECE[case]
    for template in ("X4-A", "X4-B"):
        db.execute(
            "INSERT INTO iu_collection_template (code, version, kind, piece_codes, template_digest) "
            "VALUES (%s, 1, 'file', %s, 'x4')",
            [template, [code, "TPL-P01"]],
        )
    row = db.execute(
        "SELECT piece_id, piece_lifecycle_state, instance_count, templates "
        "FROM v_iu_cross_template_piece_sharing WHERE piece_code = %s",
        [code],
    ).fetchall()
    evidence.expect(
        "the code's rows (piece id, state, instances, templates)",
        have=row,
        want=[(None, None, 0, ["X4-A@1", "X4-B@1"])],
    )
    pieces = dict(
        db.execute("SELECT code, (id, lifecycle_state)::text FROM information_unit WHERE kind = 'piece'").fetchall()
    )
    shared = db.execute(
        "SELECT piece_code, (piece_id, piece_lifecycle_state)::text FROM v_iu_cross_template_piece_sharing "
        "WHERE piece_code <> %s",
        [code],
    ).fetchall()
    evidence.expect_no_rows(
        "shared pieces whose (id, state) is not their piece's (code, view, piece)",
        [(c, v, pieces.get(c)) for c, v in shared if v != pieces.get(c)],
    )
