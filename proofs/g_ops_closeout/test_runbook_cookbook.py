"""G-6: every command block of docs/runbook.md is extracted and executed, and
passes: SQL blocks in a rolled-back transaction, shell blocks against a
throw-away clone; the runbook names every dot_iu_* command and ops script."""

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


def _failures(runs: list[cookbook.Run]) -> list[list]:
    return [[r.block.label, r.returncode, r.output.strip()[-600:]] for r in runs if r.returncode != 0]


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
def test_every_shell_block_runs_against_a_throwaway_clone(fresh_database, tmp_path, evidence):
    """Every shell block of the runbook runs without error, in document order, against a throw-away clone."""
    blocks = [b for b in cookbook.extract_all() if b.kind == "sh" and b.skip_reason is None]
    env = cookbook.shell_env(fresh_database, tmp_path / "backups")
    runs = []
    for block in blocks:
        runs.append(cookbook.run_sh(block, env))
    evidence.record("shell blocks executed", [r.as_evidence() for r in runs])
    evidence.expect_no_rows("shell blocks that failed (block, exit, output)", _failures(runs))


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
