"""Target selection and what runs where: a database behind the checkout's head
skips the proofs that need later migrations, with the reason."""

import textwrap

import pytest

from iu_prove import migrations, nested, seed
from iu_prove.dsn import connect

pytestmark = pytest.mark.slow

PROOFS = '''
import pytest

@pytest.mark.claim("S-1")
@pytest.mark.readonly
def test_base(db, evidence):
    """Runs at any head."""
    evidence.expect("one", have=db.execute("select 1").fetchone()[0], want=1)

@pytest.mark.claim("D-1")
@pytest.mark.head("036")
def test_later(db):
    """Needs 036."""

@pytest.mark.claim("S-98")
@pytest.mark.durable
def test_durable(fresh_database):
    """Commits."""
'''


def test_a_database_at_035_runs_base_proofs_and_skips_later_and_durable_ones(tmp_path, scratch_database):
    with connect(scratch_database) as conn:
        migrations.apply(conn, upto="035")
        seed.load(conn)
    (tmp_path / "test_heads.py").write_text(textwrap.dedent(PROOFS))
    run = nested.run(
        [str(tmp_path / "test_heads.py"), "-p", "no:xdist", f"--iu-dsn={scratch_database}"], report_dir=tmp_path / "r"
    )
    claims = {c["id"]: c for c in run.report["claims"]}
    assert claims["S-1"]["verdict"] == "proven"
    assert claims["D-1"]["verdict"] == "not_run"
    assert "at migration head 035; this proof needs 037" in claims["D-1"]["reason"]  # package D's head
    assert claims["S-98"]["verdict"] == "not_run"  # S: no package head, so the proof class decides
    assert "durable proof (commits): runs on the embedded target or a --iu-scratch database" in claims["S-98"]["reason"]
    assert {n["kind"] for n in run.report["not_run"]} == {"head", "target"}
    assert run.report["verdict"] == "partial" and run.returncode == 0, run.stdout + run.stderr
    assert run.report["run"]["target"].startswith("dsn:")


def test_the_embedded_target_is_the_default(iu_target):
    assert iu_target.kind in ("embedded", "attached")
    assert iu_target.template and iu_target.head
