"""Preflight and bad targets: one clear message, exit code 2, no proof runs,
the password never shown."""

import pytest

from iu_prove import nested
from iu_prove.dsn import connect, with_dbname

pytestmark = [pytest.mark.slow, pytest.mark.claim("H-3")]

SECRET = "s3cr3t-pass"


def prove(tmp_path, *extra):
    return nested.run(["proofs", "-p", "no:xdist", "-q", *extra], report_dir=tmp_path / "reports")


def test_a_database_without_the_substrate_gets_one_message_listing_what_is_missing(tmp_path, scratch_database):
    """A database without the substrate gets one preflight message listing what is missing, exit 2."""
    run = prove(tmp_path, f"--iu-dsn={scratch_database}")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "lacks the IU core substrate" in run.stderr
    for obj in ("table information_unit", "function dot_iu_healthcheck", "view v_iu_auto_instantiate_event_log"):
        assert obj in run.stderr
    assert " passed" not in run.stdout and run.report["verdict"] == "refused"
    assert run.stderr.count("lacks the IU core substrate") == 1, run.stderr
    assert "_pytest.outcomes.Exit" not in run.stdout + run.stderr


def test_an_unreachable_server_is_one_line_with_the_password_masked(tmp_path):
    dsn = f"postgresql://someone:{SECRET}@127.0.0.1:1/nowhere"
    run = prove(tmp_path, f"--iu-dsn={dsn}")
    assert run.returncode == 2
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, run.stderr
    assert "cannot connect to postgresql://someone@127.0.0.1:1/nowhere" in lines[0]  # the password stays out
    assert SECRET not in run.stdout + run.stderr


def test_a_wrong_database_name_is_one_clear_line(tmp_path, iu_target):
    dsn = with_dbname(iu_target.server_dsn, "no_such_database")
    run = prove(tmp_path, f"--iu-dsn={dsn}")
    assert run.returncode == 2
    assert 'database "no_such_database" does not exist' in run.stderr


def test_a_wrong_password_is_refused_without_showing_it(tmp_path, iu_target):
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(iu_target.server_dsn)
    # the embedded server asks every role but its own for a password (scram-sha-256)
    with connect(iu_target.server_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS iu_wrong_password")
        conn.execute("CREATE ROLE iu_wrong_password LOGIN PASSWORD 'the-right-one'")
    try:
        dsn = f"postgresql://iu_wrong_password:{SECRET}@/postgres?host={info['host']}&port={info['port']}"
        run = prove(tmp_path, f"--iu-dsn={dsn}")
    finally:
        with connect(iu_target.server_dsn, autocommit=True) as conn:
            conn.execute("DROP ROLE IF EXISTS iu_wrong_password")
    assert run.returncode == 2
    assert "password authentication failed" in run.stderr
    assert SECRET not in run.stdout + run.stderr


def test_a_partly_missing_substrate_names_exactly_what_is_missing(tmp_path, substrate_clone):
    """A substrate missing one function is refused naming that function only."""
    with connect(substrate_clone) as conn:
        conn.execute("DROP FUNCTION dot_iu_three_axis_envelope_refresh()")
        conn.commit()
    run = prove(tmp_path, f"--iu-dsn={substrate_clone}")
    assert run.returncode == 2
    assert "(1 objects missing)" in run.stderr and "function dot_iu_three_axis_envelope_refresh" in run.stderr


def test_a_migration_head_that_is_not_pinned_is_refused(tmp_path, substrate_clone):
    """A database at a head the pins do not know (ahead of this checkout) is refused, exit 2."""
    with connect(substrate_clone) as conn:
        conn.execute("INSERT INTO iu_core_schema_migration (version, name, sha256) VALUES ('999', 'future', 'x')")
        conn.commit()
    run = prove(tmp_path, f"--iu-dsn={substrate_clone}")
    assert run.returncode == 2
    assert "migration head 999, ahead of the pinned heads" in run.stderr
