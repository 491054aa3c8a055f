"""G-6: every command block of docs/runbook.md (and its companion pages) is
extracted, carries the output it prints, and is executed: SQL blocks in a
rolled-back transaction on the proof database; then every block in document
order on a throw-away clone, each block's output compared with the expected
lines under it, and the healthcheck green with the dirty marks aged 25 h.
The runbook names every dot_iu_* command and ops script."""

from __future__ import annotations

import pytest

from iu_prove import migrations, paths
from iu_prove.dsn import connect
from iu_prove.fix_db import transaction_setup
from proofs.g_ops_closeout import _support as sup
from proofs.g_ops_closeout import cookbook

# The runbook documents this checkout: its blocks run on a database at the
# checkout's migration head (a database behind it skips them, with the reason).
CHECKOUT_HEAD = migrations.discover()[-1].version


AGED = "UPDATE iu_three_axis_envelope_dirty SET marked_at = marked_at - interval '25 hours'"
RED = "SELECT surface FROM dot_iu_healthcheck() WHERE NOT ok ORDER BY 1"


def _failures(runs: list[cookbook.Run]) -> list[list]:
    return [[r.block.label, r.returncode, r.output.strip()[-600:]] for r in runs if r.returncode != 0]


def _red_a_day_later(dsn: str) -> tuple[int, list[str]]:
    """Dirty marks, and the red surfaces once every dirty mark is 25 h old (aged in a rolled-back transaction)."""
    with connect(dsn) as conn:
        dirty = conn.execute("SELECT count(*) FROM iu_three_axis_envelope_dirty").fetchone()[0]
        conn.execute(AGED)
        red = [r[0] for r in conn.execute(RED).fetchall()]
        conn.rollback()
    return dirty, red


@pytest.mark.claim("G-6")
@pytest.mark.readonly
def test_every_cookbook_block_is_extracted(evidence):
    """Every fenced block of the runbook (and companion pages) is extracted; only blocks with a reason are skipped."""
    blocks = cookbook.extract_all()
    by_kind = {k: sum(1 for b in blocks if b.kind == k) for k in ("sql", "sh", "other")}
    evidence.record("pages", [str(p.relative_to(paths.ROOT)) for p in cookbook.pages()])
    evidence.record("blocks per kind", by_kind)
    evidence.record(
        "skipped blocks (page:line, reason)", [[f"{b.source}:{b.line}", b.skip_reason] for b in blocks if b.skip_reason]
    )
    evidence.record(
        "blocks not executed for their language (page:line, lang)",
        [[f"{b.source}:{b.line}", b.lang] for b in blocks if b.kind == "other"],
    )
    evidence.expect_true(
        "the runbook has SQL and shell blocks", by_kind["sql"] > 0 and by_kind["sh"] > 0, rows=[by_kind]
    )
    refused = []
    for block in blocks:
        if block.kind == "sql":
            try:
                cookbook.sql_body(block)
            except cookbook.RunbookFormatError as exc:
                refused.append([block.label, str(exc)])
    evidence.expect_no_rows("SQL blocks with their own transaction control or session escapes", refused)
    unlabeled = [b.label for b in blocks if b.lang == ""]
    evidence.expect_no_rows("fenced blocks without a language (would escape the cookbook)", unlabeled)
    executed = [b for b in blocks if b.kind in ("sql", "sh") and b.skip_reason is None]
    evidence.record("executed blocks carrying expected output", sum(1 for b in executed if b.expected is not None))
    evidence.expect_no_rows(
        "executed blocks without a ```text expected block under them",
        [b.label for b in executed if b.expected is None],
    )
    bad_placeholders = []
    for block in executed:
        try:
            cookbook.matches(block.expected or "", "")
        except cookbook.RunbookFormatError as exc:
            bad_placeholders.append([f"{block.source}:{block.expected_line}", str(exc)])
    evidence.expect_no_rows("expected blocks with unknown placeholders", bad_placeholders)


@pytest.mark.claim("G-6")
@pytest.mark.readonly
def test_the_output_comparison_fails_on_a_changed_missing_or_extra_line(tmp_path, evidence):
    """The comparison passes the printed lines with placeholders and ``...``; a changed, missing or extra line fails."""
    expected = "verdict {{int}} of 5 at {{ts}}\n...\ncommitted: id {{uuid}}\n"
    printed = (
        "verdict  5 of 5 at 2026-01-02 03:04:05.6+00\nrow a\nrow b\n\ncommitted: id "
        + "0" * 8
        + "-0000" * 3
        + "-"
        + "0" * 12
    )
    cases = {
        "as printed": printed,
        "a changed line": printed.replace("of 5", "of 4"),
        "a missing line": printed.rsplit("\n", 1)[0],
        "an extra line": printed + "\nrolled back",
        "a placeholder that does not fit": printed.replace("2026-01-02", "yesterday"),
    }
    evidence.expect(
        "differing lines reported per case",
        have={name: bool(cookbook.compare(expected, out)) for name, out in cases.items()},
        want={name: name != "as printed" for name in cases},
    )
    stray = tmp_path / "runbook-stray.md"
    stray.write_text("# page\n\nsome text\n\n```text expected\nok\n```\n")
    with pytest.raises(cookbook.RunbookFormatError, match="must follow a command block") as refused:
        cookbook.extract(stray)
    evidence.record("an expected block under no command block", str(refused.value))


@pytest.mark.claim("G-6")
@pytest.mark.head(CHECKOUT_HEAD)
def test_every_sql_block_runs_in_a_rolled_back_transaction(request, proof_dsn, evidence):
    """Every SQL block of the runbook runs without error in a transaction that is rolled back, leaving no trace."""
    from iu_prove.runstate import STATE

    blocks = [b for b in cookbook.extract_all() if b.kind == "sql" and b.skip_reason is None]
    setup = transaction_setup(request.config)
    timeouts = request.config.stash[STATE].timeouts
    with connect(proof_dsn, autocommit=True) as conn:
        before = sup.row_counts(conn)
        config_before = sup.fingerprint(conn, ["iu_core_config"])
    runs = [cookbook.run_sql(b, proof_dsn, setup=setup, timeouts=timeouts) for b in blocks]
    with connect(proof_dsn, autocommit=True) as conn:
        after = sup.row_counts(conn)
        config_after = sup.fingerprint(conn, ["iu_core_config"])
    evidence.record("SQL blocks executed", [r.as_evidence() for r in runs])
    evidence.expect_no_rows("SQL blocks that failed (block, exit, output)", _failures(runs))
    evidence.expect("row counts of every table after all blocks", have=after, want=before)
    evidence.expect_no_rows("config changed", sup.fingerprint_delta(config_before, config_after))


@pytest.mark.claim("G-6")
@pytest.mark.durable
@pytest.mark.head(CHECKOUT_HEAD)
def test_the_runbook_followed_block_by_block_prints_what_it_says(request, fresh_database, tmp_path, evidence):
    """Every runbook block, run in document order on a fresh clone, prints its expected lines; a day later all green."""
    from iu_prove.runstate import STATE

    blocks = [b for b in cookbook.extract_all() if b.kind in ("sql", "sh") and b.skip_reason is None]
    timeouts = request.config.stash[STATE].timeouts
    env = cookbook.shell_env(fresh_database, tmp_path / "backups")
    runs, differing, red_after = [], [], []
    for block in blocks:
        if block.kind == "sql":
            run = cookbook.run_sql(block, fresh_database, timeouts=timeouts)
        else:
            run = cookbook.run_sh(block, env)
        runs.append(run)
        diff = cookbook.compare(block.expected or "", run.output)
        if diff:
            differing.append([block.label, f"{block.source}:{block.expected_line}", "\n".join(diff)])
        dirty, red = _red_a_day_later(fresh_database)
        if red:
            red_after.append([block.label, dirty, red])
    evidence.record("blocks run in document order", [r.as_evidence() for r in runs])
    evidence.record("blocks compared with their expected lines", sum(1 for b in blocks if b.expected is not None))
    evidence.record("blocks after which the healthcheck would be red a day later (block, dirty, red)", red_after)
    evidence.expect_no_rows("blocks that failed (block, exit, output)", _failures(runs))
    evidence.expect_no_rows("blocks whose output differs from the expected lines (block, expected at, diff)", differing)
    live_scaleout = [b.label for b in blocks if "run_bounded_scaleout.sql" in b.text and "-v live=true" in b.text]
    evidence.expect(
        "red a day later right after the live scaleout block (the ageing bites)",
        have=[row[2] for row in red_after if row[0] in live_scaleout],
        want=[["envelope_backlog"]],
    )
    dirty, red = _red_a_day_later(fresh_database)
    evidence.record("dirty envelope marks left after the last block", dirty)
    evidence.expect("red surfaces a day later, after the whole runbook", have=red, want=[])


@pytest.mark.claim("G-6")
@pytest.mark.readonly
def test_the_runbook_names_every_dot_iu_command_and_ops_script(db, evidence):
    """The runbook (with its companion pages) names every dot_iu_* command of the database and every ops script."""
    text = "\n".join(page.read_text() for page in cookbook.pages())
    commands = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
            "AND proname LIKE 'dot\\_iu\\_%' ORDER BY 1"
        ).fetchall()
    ]
    scripts = sorted(str(p.relative_to(paths.ROOT)) for p in (paths.ROOT / "sql" / "ops").glob("*/*.sql"))
    evidence.record("dot_iu_* commands in the database", commands)
    evidence.record("ops scripts", scripts)
    evidence.expect_no_rows("dot_iu_* commands the runbook does not name", [c for c in commands if c not in text])
    evidence.expect_no_rows("ops scripts the runbook does not name", [s for s in scripts if s not in text])
