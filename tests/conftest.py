"""Fixtures shared by the suite's own tests."""

from __future__ import annotations

import pytest

from iu_prove import nested


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, attach_spec):
    """One full serial run of the proofs on this run's cluster, shared by the tests that compare
    other runs with it (shards, serial vs parallel); they share an xdist group, so it runs once."""
    root = tmp_path_factory.mktemp("reference")
    run = nested.run(
        ["proofs", "-p", "no:xdist", "-q", "-o", "junit_family=xunit1", f"--junitxml={root / 'junit.xml'}"],
        report_dir=root,
        attach=attach_spec,
    )
    return run, root
