"""E-3: text-as-code — an instance exports to a canonical, byte-stable text that imports back to the same digest."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from iu_prove import fingerprint
from iu_prove.dsn import connect
from iu_prove.profiles import scaleout_sizes
from proofs import _model as model
from proofs.e_scaleout import _scaleout as sc

IMPORTER = "iu-prove-e3-importer"
TEMPLATE_SQL = """
SELECT t.code, t.version, t.kind, t.template_digest, t.piece_codes
  FROM iu_collection_template_instance_lineage l
  JOIN iu_collection_template t ON t.id = l.template_id
  JOIN information_unit u ON u.id = l.instance_collection_id
 WHERE u.code = %s
"""
PIECES_SQL = """
SELECT p.code || E'\\t' || p.content_digest
  FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id
  JOIN information_unit c ON c.id = m.collection_id
 WHERE c.code = %s ORDER BY m.position
"""


@pytest.mark.claim("E-3")
@given(n=scaleout_sizes(), data=st.data())
@example(n=20, data=None)
@example(n=40, data=None)
def test_a_sampled_instance_roundtrips_through_text_with_its_digest(rolled_back, evidence, n, data):
    """An instance Hypothesis picks exports byte-stably, with its template header, and imports back to its digest."""
    evidence.add("N", n)
    with rolled_back() as db:
        actor = sc.fresh_actor(db, f"iu-core-{n}x-bulk-e3")
        batch = sc.scaleout(db, n, actor, bound=sc.bound_for(n))
        pick = n - 1 if data is None else data.draw(st.integers(0, n - 1), label="instance index")
        code = batch[pick]["instance_code"]
        digest = sc.membership_digest(db, code)
        text = sc.export_text(db, code)
        evidence.add("N, sampled instance, bytes", [n, code, len(text.encode())])
        evidence.expect("a second export is byte-identical", have=sc.export_text(db, code) == text, want=True)

        tcode, tversion, tkind, tdigest, tpieces = db.execute(TEMPLATE_SQL, [code]).fetchone()
        lines = text.split("\n")
        evidence.expect(
            "header lines",
            have=lines[:7],
            want=[
                "iu-collection-text 1",
                f"collection: {code}",
                f"template: {tcode}@{tversion}",
                f"template-kind: {tkind}",
                f"template-digest: {tdigest}",
                f"digest: {digest}",
                f"pieces: {len(tpieces)}",
            ],
        )
        piece_lines = [r[0] for r in db.execute(PIECES_SQL, [code]).fetchall()]
        evidence.expect("piece lines, in order, then the final LF", have=lines[7:], want=[*piece_lines, ""])
        evidence.expect(
            "piece codes in the text are the template's, in order",
            have=[ln.split("\t")[0] for ln in piece_lines],
            want=list(tpieces),
        )

        copy = f"{code}-copy"
        db.execute("SELECT fn_iu_collection_import_text(%s, %s, %s)", [text, copy, IMPORTER])
        evidence.expect("digest of the imported copy", have=sc.membership_digest(db, copy), want=digest)
        evidence.expect(
            "export of the copy (collection line aside)",
            have=sc.export_text(db, copy),
            want=sc.with_collection_code(text, copy),
        )

        # the original gone (its batch rolled back), the text recreates it byte for byte
        original_id = sc.scalar(db, "SELECT id FROM information_unit WHERE code = %s", [code])
        sc.rollback_report(db, actor, dry_run=False)
        evidence.expect(
            "original gone after rollback-by-actor",
            have=sc.scalar(db, "SELECT count(*) FROM information_unit WHERE code = %s", [code]),
            want=0,
        )
        new_id = sc.scalar(db, "SELECT fn_iu_collection_import_text(%s, NULL, %s)", [text, IMPORTER])
        evidence.expect("re-imported under its own code: same id", have=new_id, want=original_id)
        evidence.expect("re-imported export equals the original text", have=sc.export_text(db, code) == text, want=True)
        evidence.expect_no_rows("digest drift after the imports", sc.drift(db))
        evidence.expect_no_rows("lineage orphans after the imports", sc.orphans(db))


@pytest.mark.claim("E-3")
@pytest.mark.durable
def test_operators_export_and_import_an_instance_with_the_scripts(fresh_database, psql, tmp_path, evidence):
    """The export script writes the canonical text byte for byte; the import script recreates it, refuses tampering."""
    code = "BULK12-FILE-RUNBOOK-v1"
    out = tmp_path / "instance.iutext"
    with connect(fresh_database) as db:
        text = sc.export_text(db, code)
        db.rollback()
    to_stdout = psql.run("scaleout/export_instance.sql", dsn=fresh_database, code=code)
    to_file = psql.run("scaleout/export_instance.sql", dsn=fresh_database, code=code, out=str(out))
    evidence.record("export exit codes (stdout, file)", [to_stdout.returncode, to_file.returncode])
    evidence.expect(
        "stdout is the canonical text, byte for byte",
        have=to_stdout.stdout == text,
        want=True,
        note=repr(to_stdout.stdout[-80:]),
    )
    evidence.expect("the file is the canonical text, byte for byte", have=out.read_bytes() == text.encode(), want=True)

    imported = psql.run(
        "scaleout/import_instance.sql",
        dsn=fresh_database,
        file=str(out),
        actor=IMPORTER,
        code="RUNBOOK-COPY",
        live="true",
    )
    evidence.record("import exit code", imported.returncode)
    assert imported.returncode == 0, str(imported)
    with connect(fresh_database) as db:
        evidence.expect(
            "digest of the imported copy",
            have=sc.membership_digest(db, "RUNBOOK-COPY"),
            want=sc.membership_digest(db, code),
        )
        evidence.expect(
            "export of the copy",
            have=sc.export_text(db, "RUNBOOK-COPY"),
            want=sc.with_collection_code(text, "RUNBOOK-COPY"),
        )
        before = fingerprint.of_schema(db)
        db.rollback()

    tampered = tmp_path / "tampered.iutext"
    lines = text.split("\n")
    lines[7] = lines[7][:-1] + ("0" if lines[7][-1] != "0" else "1")
    tampered.write_text("\n".join(lines))
    refused = psql.run(
        "scaleout/import_instance.sql",
        dsn=fresh_database,
        file=str(tampered),
        actor=IMPORTER,
        code="RUNBOOK-TAMPERED",
        live="true",
    )
    evidence.record("tampered import: exit code and message", [refused.returncode, refused.stderr.strip()[:160]])
    evidence.expect(
        "a tampered text is refused",
        have=(refused.returncode != 0, "IU028" in refused.stderr or "content changed" in refused.stderr),
        want=(True, True),
    )
    with connect(fresh_database) as db:
        changed = fingerprint.diff(before, fingerprint.of_schema(db))
        evidence.expect_no_rows("tables changed by the refused import", fingerprint.describe(changed))
        db.rollback()


def _with_header(text: str, key: str, value: str) -> str:
    """The text with header line ``key: …`` set to ``value`` (every other byte kept)."""
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{key}: "))
    lines[at] = f"{key}: {value}"
    return "\n".join(lines)


@pytest.mark.claim("E-3")
def test_export_and_import_refuse_a_text_they_cannot_stand_behind(db, evidence):
    """Export refuses a piece or a tabbed code (IU026); import, an empty text (IU027) or a template mismatch (IU028)."""
    code = "BULK12-FILE-RUNBOOK-v1"
    text = sc.export_text(db, code)
    kind = text.split("\n")[3].removeprefix("template-kind: ")
    digest = text.split("\n")[4].removeprefix("template-digest: ")
    other_digest = sc.scalar(
        db, "SELECT template_digest FROM iu_collection_template WHERE template_digest <> %s LIMIT 1", [digest]
    )
    tabbed = "E3-TAB\tCODE"
    db.execute("SELECT fn_iu_compose(%s, ARRAY['TPL-P01'], %s)", [tabbed, IMPORTER])
    counts = sc.table_counts(db)

    def refused(query: str, params: list) -> list:
        error = sc.refusal(db, lambda: db.execute(query, params))
        return [sc.sqlstate(error), None if error is None else error.diag.message_primary]

    export = "SELECT fn_iu_collection_export_text(%s)"
    imports = "SELECT fn_iu_collection_import_text(%s, %s, %s)"
    have = {
        "export of a piece": refused(export, ["TPL-P01"]),
        "export of a code with a tab": refused(export, [tabbed]),
        "import of an empty text": refused(imports, ["", "E3-EMPTY", IMPORTER]),
        "import of a NULL text": refused(imports, [None, "E3-NULL", IMPORTER]),
    }
    evidence.expect(
        "SQLSTATE and message per refusal",
        have=have,
        want={
            "export of a piece": ["IU026", "export refused: 'TPL-P01' is a piece, not a collection"],
            "export of a code with a tab": [
                "IU026",
                f"export refused: collection code '{tabbed}' contains a tab or line break",
            ],
            "import of an empty text": ["IU027", "import refused: the text is empty"],
            "import of a NULL text": ["IU027", "import refused: the text is empty"],
        },
    )
    mismatched = {
        "template digest alone changed": _with_header(text, "template-digest", other_digest),
        "template kind alone changed": _with_header(text, "template-kind", "workflow" if kind == "file" else "file"),
    }
    template = "import refused: template FILE-RUNBOOK@1 is "
    have = {name: refused(imports, [t, "E3-MISMATCH", IMPORTER]) for name, t in mismatched.items()}
    evidence.expect(
        "template mismatch: SQLSTATE, message names the template",
        have={name: [state, (message or "").startswith(template)] for name, (state, message) in have.items()},
        want={name: ["IU028", True] for name in mismatched},
        rows=[m for _, m in have.values()],
    )
    evidence.expect("rows per table after the refusals", have=sc.table_counts(db), want=counts)
    evidence.expect(
        "control: the unchanged text imports",
        have=refused(imports, [text, "E3-CONTROL", IMPORTER]),
        want=[None, None],
    )


PARSE_SQL = "SELECT * FROM fn_iu_collection_text_parse(%s)"
HEX_A, HEX_B, HEX_C, HEX_D = (hashlib.sha256(s.encode()).hexdigest() for s in "abcd")


def _text(template="T-CODE@3", kind="file", tdigest=HEX_A, digest=HEX_B, pieces="2", lines=None) -> str:
    """A canonical text written by hand from the documented form (header, piece lines, final LF)."""
    body = [f"P-ONE\t{HEX_C}", f"P-TWO\t{HEX_D}"] if lines is None else lines
    header = ["iu-collection-text 1", "collection: C-CODE", f"template: {template}", f"template-kind: {kind}"]
    header += [f"template-digest: {tdigest}", f"digest: {digest}", f"pieces: {pieces}"]
    return "\n".join(header + body) + "\n"


PLAIN = _text(template="-", kind="-", tdigest="-")
PARSE_REFUSALS = {
    "a carriage return first": ("\r" + PLAIN, "import refused: the text contains carriage returns"),
    "a carriage return inside": (PLAIN.replace("\n", "\r\n", 1), "import refused: the text contains carriage returns"),
    "a lone line feed": ("\n", "import refused: line 1 is '', expected \"iu-collection-text 1\""),
    "another version": (
        PLAIN.replace("text 1", "text 2", 1),
        "import refused: line 1 is 'iu-collection-text 2', expected \"iu-collection-text 1\"",
    ),
    "a misspelt key": (
        PLAIN.replace("template: -", "templat: -"),
        "import refused: line 3 is 'templat: -', expected \"template: <value>\"",
    ),
    "a key without value": (
        PLAIN.replace("pieces: 2", "pieces:"),
        "import refused: line 7 is 'pieces:', expected \"pieces: <value>\"",
    ),
    "text ending in the header": (
        "\n".join(PLAIN.split("\n")[:3]),
        "import refused: line 4 is '<end of text>', expected \"template-kind: <value>\"",
    ),
    "template '-', kind alone set": (
        _text(template="-", kind="file", tdigest="-"),
        'import refused: template is "-" but template-kind or template-digest is not',
    ),
    "template '-', template digest alone set": (
        _text(template="-", kind="-", tdigest=HEX_A),
        'import refused: template is "-" but template-kind or template-digest is not',
    ),
    "template without a version": (
        _text(template="T-CODE"),
        'import refused: template \'T-CODE\' is not "<code>@<version>" or "-"',
    ),
    "a template kind '-'": (_text(kind="-"), "import refused: template-kind '-' is not workflow or file"),
    "another template kind": (_text(kind="folder"), "import refused: template-kind 'folder' is not workflow or file"),
    "a short template digest": (
        _text(tdigest=HEX_A[:63]),
        f"import refused: template-digest '{HEX_A[:63]}' is not a hex sha256",
    ),
    "an upper-case digest": (
        _text(digest=HEX_B.upper()),
        f"import refused: digest '{HEX_B.upper()}' is not a hex sha256",
    ),
    "a digest '-' with template '-'": (
        _text(template="-", kind="-", tdigest="-", digest="-"),
        "import refused: digest '-' is not a hex sha256",
    ),
    "a count that is not a number": (_text(pieces="two"), "import refused: pieces 'two' is not a count"),
    "one piece line fewer than the count": (
        _text(pieces="3"),
        "import refused: header says 3 piece(s), the text has 2 piece line(s)",
    ),
    "one piece line more than the count": (
        _text(pieces="1"),
        "import refused: header says 1 piece(s), the text has 2 piece line(s)",
    ),
}


@pytest.mark.claim("E-3")
def test_the_text_parser_refuses_each_malformed_line_alone_and_reads_a_good_text_exactly(db, evidence):
    """Parsing reads a good text (with or without template) field by field and refuses each malformed line alone."""
    parsed = {
        "with template": _text(),
        "without template": PLAIN,
        "without final line feed": PLAIN[:-1],
        "no pieces": _text(template="-", kind="-", tdigest="-", pieces="0", lines=[]),
    }
    have = {name: list(db.execute(PARSE_SQL, [text]).fetchone()) for name, text in parsed.items()}
    two = [["P-ONE", "P-TWO"], [HEX_C, HEX_D]]
    evidence.expect(
        "parsed fields (collection, template code, version, kind, template digest, digest, pieces, digests)",
        have=have,
        want={
            "with template": ["C-CODE", "T-CODE", 3, "file", HEX_A, HEX_B, *two],
            "without template": ["C-CODE", None, None, None, None, HEX_B, *two],
            "without final line feed": ["C-CODE", None, None, None, None, HEX_B, *two],
            "no pieces": ["C-CODE", None, None, None, None, HEX_B, [], []],
        },
    )
    refused = {}
    for name, (text, _) in PARSE_REFUSALS.items():
        error = sc.refusal(db, lambda text=text: db.execute(PARSE_SQL, [text]).fetchall())
        refused[name] = [sc.sqlstate(error), None if error is None else error.diag.message_primary]
    evidence.expect(
        "SQLSTATE and message per malformed text",
        have=refused,
        want={name: ["IU027", message] for name, (_, message) in PARSE_REFUSALS.items()},
    )


@pytest.mark.claim("E-3")
def test_a_collection_outside_any_template_exports_with_dashes_and_an_unknown_one_is_refused(db, evidence):
    """A composed collection exports "-" template lines, its digest and pieces; unknown or NULL code: IU026."""
    pieces = ["TPL-P02", "TPL-P01"]
    db.execute("SELECT fn_iu_compose('E3-PLAIN', %s, %s)", [pieces, IMPORTER])
    digests = dict(db.execute("SELECT code, body FROM information_unit WHERE code = ANY(%s)", [pieces]).fetchall())
    members = [(code, digests[code]) for code in pieces]
    want = (
        "iu-collection-text 1\ncollection: E3-PLAIN\ntemplate: -\ntemplate-kind: -\ntemplate-digest: -\n"
        f"digest: {model.pieces_digest(members)}\npieces: 2\n"
        + "".join(f"{code}\t{model.content_digest(body)}\n" for code, body in members)
    )
    evidence.expect("export text of a collection outside any template", have=sc.export_text(db, "E3-PLAIN"), want=want)
    refused = {}
    for code in ("E3-NO-SUCH", None):
        error = sc.refusal(db, lambda code=code: db.execute("SELECT fn_iu_collection_export_text(%s)", [code]))
        refused[str(code)] = [sc.sqlstate(error), None if error is None else error.diag.message_primary]
    evidence.expect(
        "export of an unknown and a NULL code",
        have=refused,
        want={
            "E3-NO-SUCH": ["IU026", "export refused: unknown collection 'E3-NO-SUCH'"],
            "None": ["IU026", "export refused: unknown collection NULL"],
        },
    )
