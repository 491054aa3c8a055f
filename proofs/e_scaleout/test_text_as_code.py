"""E-3: text-as-code — an instance exports to a canonical, byte-stable text that imports back to the same digest."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from iu_prove import fingerprint
from iu_prove.dsn import connect
from iu_prove.profiles import scaleout_sizes
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
