"""G-3: `make retention-enable` on a scratch clone: pg_dump before and after
into a run folder (0700, files 0600), whose difference is exactly the expired
rows; the undo of a run id puts back exactly that run's rows and refuses when
ambiguous; without LIVE=true and a recorded authority it writes nothing; a
failed run leaves only a folder marked failed; make never echoes the DSN."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from iu_prove import paths
from iu_prove.dsn import connect
from proofs.g_ops_closeout import _support as sup

FOLDER = re.compile(r"^retention-enable-(?P<run>\d{8}T\d{6}Z-[0-9a-f]{6})$")
AUTHORITY = "G-RETENTION proof authority"
FILES = [
    "after.pgdump",
    "authority.txt",
    "before.pgdump",
    "dry_run.txt",
    "enable.txt",
    "rowcounts-after.tsv",
    "rowcounts-before.tsv",
    "rowcounts-diff.tsv",
]


def _env(**extra: str) -> dict[str, str]:
    drop = ("CONFIRM", "OUT", "ACTOR", "DSN", "MAKEFLAGS", "LIVE", "AUTHORITY", "IU_BACKUP_DIR")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def _make_enable(dsn: str, out: Path, *args: str, live: bool = True) -> subprocess.CompletedProcess[str]:
    extra = ["LIVE=true", f"AUTHORITY={AUTHORITY}"] if live else []
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "retention-enable", f"DSN={dsn}", f"OUT={out}", *extra, *args],
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
    evidence.expect("run folders written", have=[bool(FOLDER.match(f)) for f in folders], want=[True])
    run_id = FOLDER.match(folders[0])["run"]
    evidence.expect(
        "the run id printed at the start and at the end",
        have=[f"run {run_id} on" in proc.stdout, f"run {run_id} done" in proc.stdout],
        want=[True, True],
    )
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in [tmp_path / folders[0], *(tmp_path / folders[0]).iterdir()]}
    evidence.expect(
        "permissions (folder 0700, files 0600)",
        have=modes,
        want={n: ("0o700" if n == folders[0] else "0o600") for n in modes},
    )
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
    """tools/retention-enable.sh -r RUN_ID (LIVE=true) puts back exactly the rows the enablement removed."""
    with connect(fresh_database, autocommit=True) as conn:
        tables = [p.table for p in sup.policies(conn)]
        before = sup.fingerprint(conn, tables)
    proc = _make_enable(fresh_database, tmp_path)
    evidence.expect("make retention-enable exit", have=proc.returncode, want=0, rows=[proc.stderr[-800:]])
    middle = sup.fingerprint_of(fresh_database, tables)
    evidence.record("rows per table after the enablement", {t: n for t, (n, _) in middle.items()})
    folder = next(tmp_path.iterdir())
    undo = subprocess.run(
        ["tools/retention-enable.sh", "-o", str(tmp_path), "-r", FOLDER.match(folder.name)["run"], fresh_database],
        cwd=paths.ROOT,
        env=_env(LIVE="true"),
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
def test_the_wrapper_writes_nothing_without_live_and_authority(fresh_database, tmp_path, evidence):
    """make retention-enable dry-runs by default; no authority, CONFIRM= or a bad LIVE is refused; no folder."""
    before = sup.fingerprint_of(fresh_database)
    outcomes = {}
    for label, live, args in [
        ("nothing (dry run)", False, []),
        ("LIVE=true without AUTHORITY, G-RETENTION not decided", False, ["LIVE=true"]),
        ("CONFIRM=yes (old spelling)", False, ["CONFIRM=yes"]),
        ("LIVE=yes", False, ["LIVE=yes", f"AUTHORITY={AUTHORITY}"]),
    ]:
        proc = _make_enable(fresh_database, tmp_path / "out", *args, live=live)
        outcomes[label] = [proc.returncode, "refused" in proc.stderr, "dry run" in proc.stdout]
    evidence.expect(
        "exit, refused, dry run printed",
        have=outcomes,
        want={
            "nothing (dry run)": [0, False, True],
            "LIVE=true without AUTHORITY, G-RETENTION not decided": [2, True, False],
            "CONFIRM=yes (old spelling)": [2, True, False],
            "LIVE=yes": [2, True, False],
        },
    )
    evidence.expect("folders written", have=sorted(p.name for p in tmp_path.rglob("*")), want=[])
    evidence.expect_no_rows("tables changed", sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database)))
    shown = subprocess.run(
        ["make", "-n", "--no-print-directory", "retention-enable", f"DSN={fresh_database}", "LIVE=true"],
        cwd=paths.ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    evidence.expect("make -n shows the DSN in its commands", have=fresh_database in shown.stdout, want=False)


def _undo(dsn: str, out: Path, target: str, live: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tools/retention-enable.sh", "-o", str(out), "-r", target, dsn],
        cwd=paths.ROOT,
        env=_env(LIVE="true" if live else "false"),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.claim("G-3")
@pytest.mark.durable
def test_the_undo_of_two_runs_takes_the_run_id_and_refuses_when_ambiguous(fresh_database, tmp_path, evidence):
    """After two runs the undo refuses an ambiguous folder or prefix and restores the first run by its id."""
    with connect(fresh_database, autocommit=True) as conn:
        tables = [p.table for p in sup.policies(conn)]
        before = sup.fingerprint(conn, tables)
    first = _make_enable(fresh_database, tmp_path)
    second = _make_enable(fresh_database, tmp_path)
    evidence.expect("two runs: exit codes", have=[first.returncode, second.returncode], want=[0, 0])
    after_runs = sup.fingerprint_of(fresh_database, tables)
    folders = sorted(FOLDER.match(p.name)["run"] for p in tmp_path.iterdir() if FOLDER.match(p.name))
    evidence.expect("completed run folders", have=len(folders), want=2)
    # the run ids as each run printed them: two runs in one second sort by their random part, not by order
    runs = [re.search(r"retention-enable: run (\S+) on ", run.stdout)[1] for run in (first, second)]
    evidence.expect("the printed run ids are the folders'", have=sorted(runs), want=folders)
    failed = tmp_path / f"retention-enable-{runs[0][:-6]}ffffff.failed"
    (tmp_path / f"retention-enable-{runs[0]}").rename(failed)
    by_failed_folder = _undo(fresh_database, tmp_path, str(failed), live=True)
    failed.rename(tmp_path / f"retention-enable-{runs[0]}")
    ambiguous = _undo(fresh_database, tmp_path, str(tmp_path), live=True)
    prefix = _undo(fresh_database, tmp_path, runs[0][:8], live=True)
    dry = _undo(fresh_database, tmp_path, runs[0], live=False)
    after_refusals = sup.fingerprint_of(fresh_database, tables)
    live = _undo(fresh_database, tmp_path, runs[0], live=True)
    evidence.expect(
        "exit codes: failed folder, ambiguous folder, ambiguous prefix, dry run, live undo of run 1",
        have=[by_failed_folder.returncode, ambiguous.returncode, prefix.returncode, dry.returncode, live.returncode],
        want=[2, 2, 2, 0, 0],
        rows=[by_failed_folder.stderr, ambiguous.stderr, prefix.stderr, live.stderr[-400:]],
    )
    evidence.expect_true(
        "the ambiguous refusal lists both run ids", all(r in ambiguous.stderr for r in runs), rows=[ambiguous.stderr]
    )
    evidence.expect_no_rows(
        "policy tables changed by the refusals and the dry run (vs. after both runs)",
        sup.fingerprint_delta(after_runs, after_refusals),
    )
    evidence.expect_no_rows(
        "policy tables differing from before the first run, after undoing it",
        sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database, tables)),
    )


@pytest.mark.claim("G-3")
@pytest.mark.durable
def test_a_run_that_fails_leaves_only_a_folder_marked_failed(fresh_database, tmp_path, evidence):
    """A failed run deletes nothing and leaves only a .failed folder the undo never picks; a bad DSN leaves none."""
    bad = _make_enable(fresh_database + "-no-such-database", tmp_path / "bad")
    evidence.expect(
        "unreachable database: exit, folders", have=[bad.returncode, (tmp_path / "bad").exists()], want=[2, False]
    )
    with connect(fresh_database) as conn:
        conn.execute("SELECT fn_iu_core_config_set('iu_core.retention_enabled', 'true'::jsonb, 'iu-core-proof-setup')")
        conn.commit()
    before = sup.fingerprint_of(fresh_database)
    proc = _make_enable(fresh_database, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    evidence.expect("gate already open: exit", have=proc.returncode, want=2, rows=[proc.stderr[-400:]])
    evidence.expect("folders", have=[n.endswith(".failed") for n in names], want=[True])
    evidence.expect_true("FAILED file says why", (tmp_path / "out" / names[0] / "FAILED").is_file())
    undo = _undo(fresh_database, tmp_path / "out", str(tmp_path / "out"), live=True)
    evidence.expect("undo of the folder holding only a failed run", have=undo.returncode, want=2, rows=[undo.stderr])
    evidence.expect_no_rows("tables changed", sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database)))
