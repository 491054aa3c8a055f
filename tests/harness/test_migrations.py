"""The migration runner: order, ledger, checksums, naming."""

import pytest

from iu_prove import migrations
from iu_prove.dsn import connect


def write(directory, name, sql):
    (directory / name).write_text(sql)


@pytest.fixture
def migdir(tmp_path):
    d = tmp_path / "migrations"
    d.mkdir()
    write(d, "001_create_a.sql", "CREATE TABLE a (n int);")
    write(d, "002_create_b.sql", "CREATE TABLE b (n int);")
    return d


def test_migrations_apply_in_order_and_are_recorded_with_their_sha256(scratch_database, migdir):
    with connect(scratch_database) as conn:
        done = migrations.apply(conn, migrations.discover(migdir))
        assert [m.version for m in done] == ["001", "002"]
        ledger = migrations.applied(conn)
        assert ledger == {m.version: (m.name, m.sha256) for m in migrations.discover(migdir)}
        assert migrations.apply(conn, migrations.discover(migdir)) == []  # idempotent


def test_an_applied_migration_whose_file_changed_is_an_error_naming_it(scratch_database, migdir):
    with connect(scratch_database) as conn:
        migrations.apply(conn, migrations.discover(migdir))
        write(migdir, "002_create_b.sql", "CREATE TABLE b (n bigint);")
        write(migdir, "003_create_c.sql", "CREATE TABLE c (n int);")
        with pytest.raises(migrations.ChecksumMismatch, match=r"002_create_b\.sql changed after it was applied"):
            migrations.apply(conn, migrations.discover(migdir))
        assert conn.execute("SELECT to_regclass('c')").fetchone()[0] is None


def test_a_failing_migration_leaves_nothing_behind(scratch_database, migdir):
    write(migdir, "003_create_c.sql", "CREATE TABLE c (n int); SELECT 1/0;")
    with connect(scratch_database) as conn:
        with pytest.raises(migrations.MigrationError, match=r"003_create_c\.sql failed"):
            migrations.apply(conn, migrations.discover(migdir))
        assert migrations.head(conn) == "002"
        assert conn.execute("SELECT to_regclass('c')").fetchone()[0] is None


def test_misnamed_and_duplicated_files_are_refused(tmp_path):
    write(tmp_path, "1_bad.sql", "")
    with pytest.raises(migrations.MigrationError, match="NNN_verb_object"):
        migrations.discover(tmp_path)
    (tmp_path / "1_bad.sql").unlink()
    write(tmp_path, "001_create_a.sql", "")
    write(tmp_path, "001_create_b.sql", "")
    with pytest.raises(migrations.MigrationError, match="appears twice"):
        migrations.discover(tmp_path)


def test_a_new_file_numbered_below_the_head_is_refused(scratch_database, migdir):
    with connect(scratch_database) as conn:
        migrations.apply(conn, migrations.discover(migdir))
        write(migdir, "000_create_z.sql", "CREATE TABLE z (n int);")
        with pytest.raises(migrations.MigrationError, match="older than the applied head"):
            migrations.apply(conn, migrations.discover(migdir))


def test_the_shipped_migrations_are_well_named():
    found = migrations.discover()
    assert found, "sql/migrations is empty"
    assert [m.version for m in found] == sorted(m.version for m in found)


def test_every_migration_runs_with_a_lock_and_statement_timeout(scratch_database, migdir):
    write(
        migdir,
        "003_create_c.sql",
        "CREATE TABLE c AS SELECT current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st;",
    )
    with connect(scratch_database) as conn:
        migrations.apply(conn, migrations.discover(migdir))
        assert conn.execute("SELECT lt, st FROM c").fetchone() == ("5s", "5min")
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "0"  # local to the migration
