"""G-3: `make retention-enable` on a scratch clone: pg_dump before and after
into a dated folder, whose difference is exactly the expired rows; its undo
puts them back; without CONFIRM=yes it does nothing."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from iu_prove import paths
from iu_prove.dsn import connect
from proofs.g_ops_closeout import _support as sup

FOLDER = re.compile(r"^retention-enable-\d{8}T\d{6}Z$")
FILES = [
    "after.pgdump",
    "before.pgdump",
    "dry_run.txt",
    "enable.txt",
    "rowcounts-after.tsv",
    "rowcounts-before.tsv",
    "rowcounts-diff.tsv",
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CONFIRM", "OUT", "ACTOR", "DSN", "MAKEFLAGS")}
    env.update(extra)
    return env


def _make_enable(dsn: str, out: Path, confirm: str = "yes") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "retention-enable", f"DSN={dsn}", f"CONFIRM={confirm}", f"OUT={out}"],
        cwd=paths.ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _expired(dsn: str) -> dict[str, set[str]]:
    with connect(dsn, autocommit=True) as conn:
        now = sup.db_now(conn)
        return {
            p.table: {i for i, ts in sup.rows_by_id(conn, p).items() if ts < now - p.retain}
            for p in sup.policies(conn)
            if p.enabled
        }


def _tsv(path: Path) -> dict[str, list[int]]:
    return {cells[0]: [int(c) for c in cells[1:]] for cells in (ln.split("\t") for ln in path.read_text().splitlines())}


@pytest.mark.claim("G-3")
@pytest.mark.durable
def test_the_dump_difference_is_exactly_the_expired_rows(fresh_database, tmp_path, evidence):
    """make retention-enable dumps before and after into a dated folder; the difference is exactly the expired rows."""
    expired = _expired(fresh_database)
    evidence.record("expired rows per table before the run", {t: len(ids) for t, ids in expired.items()})
    proc = _make_enable(fresh_database, tmp_path)
    evidence.expect("make retention-enable exit", have=proc.returncode, want=0, rows=[proc.stderr[-800:]])
    folders = [p.name for p in tmp_path.iterdir()]
    evidence.expect("dated folders written", have=[bool(FOLDER.match(f)) for f in folders], want=[True])
    folder = tmp_path / folders[0]
    evidence.expect("files in the folder", have=sorted(p.name for p in folder.iterdir()), want=FILES)

    want_diff = {f"public.{t}": -len(ids) for t, ids in expired.items() if ids}
    diff = _tsv(folder / "rowcounts-diff.tsv")
    evidence.expect("rowcounts-diff.tsv (table: delta)", have={t: v[2] for t, v in diff.items()}, want=want_diff)
    printed = {m[1]: int(m[2]) for m in re.finditer(r"^\s+(public\.\w+)\s+\d+\s+\d+\s+([+-]\d+)$", proc.stdout, re.M)}
    evidence.expect("printed difference (table: delta)", have=printed, want=want_diff)

    before, after = sup.dump_rows(folder / "before.pgdump"), sup.dump_rows(folder / "after.pgdump")
    evidence.expect("tables in both dumps", have=sorted(after), want=sorted(before))
    removed_ids: dict[str, list[str]] = {}
    other_changes = []
    for table in sorted(before):
        gone = sorted(set(before[table]) - set(after[table]))
        came = sorted(set(after[table]) - set(before[table]))
        name = table.removeprefix("public.")
        if name in expired:
            removed_ids[name] = sorted(line.split("\t", 1)[0] for line in gone)
            if came:
                other_changes.append([table, "added", len(came)])
        elif name == "iu_core_config":
            keys = sorted({line.split("\t", 1)[0] for line in gone + came})
            if keys != [sup.RETENTION_GATE] or len(gone) != 1 or len(came) != 1:
                other_changes.append([table, "keys changed", keys])
            elif came[0].split("\t")[1] != "false":
                other_changes.append([table, "retention gate left", came[0].split("\t")[1]])
        elif gone or came:
            other_changes.append([table, f"-{len(gone)} +{len(came)}", (gone + came)[:3]])
    evidence.expect(
        "rows removed per table, read from the dumps",
        have={t: len(ids) for t, ids in removed_ids.items()},
        want={t: len(ids) for t, ids in expired.items()},
    )
    evidence.expect_no_rows(
        "removed rows that were not expired, or expired rows kept",
        [[t, i] for t in expired for i in sorted(set(removed_ids.get(t, [])) ^ expired[t])],
    )
    evidence.expect_no_rows("any other difference between the dumps (the gate row only re-stamped)", other_changes)


@pytest.mark.claim("G-3")
@pytest.mark.durable
def test_the_undo_restores_exactly_the_removed_rows(fresh_database, tmp_path, evidence):
    """tools/retention-enable.sh -r FOLDER puts back exactly the rows the enablement removed."""
    with connect(fresh_database, autocommit=True) as conn:
        tables = [p.table for p in sup.policies(conn)]
        before = sup.fingerprint(conn, tables)
    proc = _make_enable(fresh_database, tmp_path)
    evidence.expect("make retention-enable exit", have=proc.returncode, want=0, rows=[proc.stderr[-800:]])
    middle = sup.fingerprint_of(fresh_database, tables)
    evidence.record("rows per table after the enablement", {t: n for t, (n, _) in middle.items()})
    folder = next(tmp_path.iterdir())
    undo = subprocess.run(
        ["tools/retention-enable.sh", "-r", str(folder), fresh_database],
        cwd=paths.ROOT,
        env=_env(CONFIRM="yes"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    evidence.expect("undo exit", have=undo.returncode, want=0, rows=[undo.stderr[-800:]])
    restored = {r["table_name"]: int(r["restored_rows"]) for r in sup.parse_psql_table(undo.stdout, "table_name")}
    evidence.expect(
        "rows restored per table (printed)",
        have=restored,
        want={f"public.{t}": before[t][0] - middle[t][0] for t in tables if before[t][0] != middle[t][0]},
    )
    evidence.expect_no_rows(
        "policy tables differing from before the enablement",
        sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database, tables)),
    )


@pytest.mark.claim("G-3")
@pytest.mark.durable
def test_the_wrapper_refuses_without_confirm_yes(fresh_database, tmp_path, evidence):
    """make retention-enable without CONFIRM=yes refuses: no dump, no folder, nothing deleted."""
    before = sup.fingerprint_of(fresh_database)
    outcomes = {}
    for confirm in ("", "no", "YES"):
        proc = _make_enable(fresh_database, tmp_path / "out", confirm=confirm)
        outcomes[confirm or "(empty)"] = [proc.returncode != 0, "refused" in proc.stderr]
    evidence.expect(
        "refused (non-zero exit, says so) per CONFIRM", have=outcomes, want={k: [True, True] for k in outcomes}
    )
    evidence.expect("folders written", have=sorted(p.name for p in tmp_path.rglob("*")), want=[])
    evidence.expect_no_rows("tables changed", sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database)))
