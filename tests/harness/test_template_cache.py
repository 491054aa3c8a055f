"""The template cache never gives a wrong verdict: its key changes with any
migration, fixture or server, and a run from the cache gives the same verdicts
as a run that builds the template afresh."""

import shutil
import stat

import pytest

from iu_prove import nested, paths, template_cache
from iu_prove.pgbin import find_bindir
from tests import runs

pytestmark = pytest.mark.claim("H-4")


@pytest.fixture
def inputs(tmp_path):
    migrations = tmp_path / "migrations"
    seed = tmp_path / "seed"
    shutil.copytree(paths.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("down", "*.md"))
    shutil.copytree(paths.SEED, seed)
    return migrations, seed


def test_the_cache_key_changes_with_every_input(inputs, tmp_path, evidence):
    """A changed migration, a changed fixture, an added migration or another server version each change the key."""
    migrations, seed = inputs
    bindir = find_bindir()
    base = template_cache.key(bindir, migrations, seed)
    keys = {"unchanged": template_cache.key(bindir, migrations, seed)}
    first = sorted(migrations.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- one more line\n")
    keys["a migration edited"] = template_cache.key(bindir, migrations, seed)
    (migrations / "999_create_nothing.sql").write_text("SELECT 1;\n")
    keys["a migration added"] = template_cache.key(bindir, migrations, seed)
    fixture = sorted(seed.glob("*.sql"))[0]
    fixture.write_text(fixture.read_text().replace("DIEU", "DIEV", 1))
    keys["a fixture edited"] = template_cache.key(bindir, migrations, seed)
    fake = tmp_path / "bin"
    fake.mkdir()
    script = fake / "postgres"
    script.write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 99.0'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    keys["another server"] = template_cache.key(fake, migrations, seed)
    evidence.record("keys", keys)
    evidence.expect("the unchanged inputs give the same key", have=keys["unchanged"], want=base)
    changed = [k for k in ("a migration edited", "a migration added", "a fixture edited", "another server")]
    evidence.expect("distinct keys", have=len({base, *(keys[k] for k in changed)}), want=1 + len(changed))


@pytest.mark.slow
def test_a_run_from_the_cache_gives_the_verdicts_of_a_fresh_build(tmp_path, evidence):
    """The same claims run from a cached template and from a fresh build give the same verdicts."""
    claims = "S-1,S-3,D-2,E-1,G-9"
    fresh = nested.run(
        ["proofs", "-p", "no:xdist", "-q", "--iu-claims", claims],
        report_dir=tmp_path / "fresh",
        env=runs.child_env(IU_PROVE_NO_CACHE="1"),
    )
    warm = nested.run(["proofs", "-p", "no:xdist", "-q", "--iu-claims", claims], report_dir=tmp_path / "warm")
    again = nested.run(["proofs", "-p", "no:xdist", "-q", "--iu-claims", claims], report_dir=tmp_path / "again")
    notes = {
        label: (run.report or {}).get("run", {}).get("notes") for label, run in (("fresh", fresh), ("again", again))
    }
    evidence.record("notes", notes)
    evidence.expect_true("the fresh run built its template", "template built" in str(notes["fresh"]))
    evidence.expect_true("the second cached run copied it", "from the cache" in str(notes["again"]))
    evidence.expect("verdicts, cached vs fresh", have=again.verdicts(), want=fresh.verdicts())
    evidence.expect("verdicts, first cached run vs fresh", have=warm.verdicts(), want=fresh.verdicts())
    evidence.expect("exit codes", have=[fresh.returncode, warm.returncode, again.returncode], want=[0, 0, 0])
