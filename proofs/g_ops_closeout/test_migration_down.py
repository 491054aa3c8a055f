"""G-12: every migration from 036 on has a down script behind one shared guard;
each, applied at the head, restores the previous head's pinned inventory, and
the runner re-applies it back to its own pins."""

from __future__ import annotations

import re

import pytest

from iu_prove import migrations, paths, pins
from iu_prove.dsn import connect

DOWN = paths.MIGRATIONS / "down"
FIRST_REVERTIBLE = "036"  # 001-035 reconstruct the live substrate; 036 and later are deliverables
GUARD_INCLUDE = re.compile(r"^\\set down_version (\d{3})\nBEGIN;\n\\ir _lib/guard\.sql$", re.M)


def _down_script(version: str):
    found = sorted(DOWN.glob(f"{version}_*.down.sql"))
    return found[0] if len(found) == 1 else None


def _inventory(dsn: str) -> pins.Inventory:
    with connect(dsn) as conn:
        return pins.inventory(conn)


def _head(dsn: str) -> str:
    with connect(dsn) as conn:
        return migrations.head(conn)


@pytest.mark.claim("G-12")
@pytest.mark.readonly
def test_every_deliverable_migration_has_a_down_script_behind_the_shared_guard(evidence):
    """Every migration from 036 on has one down script, and each includes the one shared guard for its own version."""
    deliverables = [m for m in migrations.discover() if m.version >= FIRST_REVERTIBLE]
    missing, unguarded, guarded = [], [], []
    for m in deliverables:
        script = _down_script(m.version)
        if script is None:
            missing.append(m.version)
            continue
        text = script.read_text()
        found = GUARD_INCLUDE.findall(text)
        if found != [m.version] or "DO $down$\nDECLARE\n  v_later" in text:
            unguarded.append([script.name, found])
        else:
            guarded.append(script.name)
    evidence.record("down scripts including _lib/guard.sql", guarded)
    evidence.expect_no_rows("deliverable migrations without a down script", missing)
    evidence.expect_no_rows("down scripts without exactly the shared guard for their version", unguarded)


@pytest.mark.claim("G-12")
@pytest.mark.durable
def test_each_down_script_restores_the_previous_pins_and_the_runner_reapplies_it(fresh_database, psql, evidence):
    """Each down script, newest first, leaves the previous head's pins; re-applying it gives its own pins again."""
    every = migrations.discover()
    versions = [m.version for m in every]
    pinned = pins.load()
    head = _head(fresh_database)
    evidence.expect("head of the scratch database", have=head, want=versions[-1])

    oldest = _down_script(FIRST_REVERTIBLE)
    refused = psql.run(oldest, dsn=fresh_database) if oldest else None
    evidence.expect(
        "036 down at the head: exit code, refusal names the later migrations",
        have=[refused.returncode, "later migration(s)" in refused.stderr] if refused else None,
        want=[3, True],
        note=refused.stderr[-300:] if refused else "no 036 down script",
    )
    evidence.expect("inventory after the refusal", have=pins.diff(pinned[head], _inventory(fresh_database)), want=[])

    steps = []
    for version in reversed([v for v in versions if v >= FIRST_REVERTIBLE]):
        previous = versions[versions.index(version) - 1]
        script = _down_script(version)
        if script is None:
            steps.append([version, "no down script"])
            break
        down = psql.run(script, dsn=fresh_database)
        after_down = pins.diff(pinned[previous], _inventory(fresh_database))
        ledger_down = _head(fresh_database)
        with connect(fresh_database) as conn:
            reapplied = [m.version for m in migrations.apply(conn, every, upto=version)]
        after_up = pins.diff(pinned[version], _inventory(fresh_database))
        again = psql.run(script, dsn=fresh_database)  # down once more, to walk on to the next one
        steps.append(
            [version, down.returncode, ledger_down, len(after_down), reapplied, len(after_up), again.returncode]
        )
        if down.returncode or after_down or after_up or again.returncode:
            evidence.record(f"{version}: output and differences", [down.output[-400:], after_down, after_up])
    evidence.record(
        "steps (version, down exit, ledger head after, pin differences, re-applied, differences, exit)", steps
    )
    want = []
    for version in reversed([v for v in versions if v >= FIRST_REVERTIBLE]):
        previous = versions[versions.index(version) - 1]
        want.append([version, 0, previous, 0, [version], 0, 0])
    evidence.expect("every down script: previous pins, then its own pins after re-applying", have=steps, want=want)
    evidence.expect("ledger head after reverting every deliverable", have=_head(fresh_database), want="035")
