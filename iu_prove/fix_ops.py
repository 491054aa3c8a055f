"""Fixtures for operator scripts run through the real psql client."""

from __future__ import annotations

import pytest

from iu_prove import psql as psql_mod


class PsqlRunner:
    """``psql.run("scaleout/run_bounded_scaleout.sql", n=30)`` against one database."""

    def __init__(self, dsn: str):
        self.dsn = dsn

    def run(
        self, script=None, *, command: str | None = None, stdin: str | None = None, dsn: str | None = None, **variables
    ):
        return psql_mod.run(dsn or self.dsn, script, variables=variables, command=command, stdin=stdin)


@pytest.fixture(scope="session")
def psql(proof_dsn: str) -> PsqlRunner:
    """Real psql bound to this worker's database (scripts must roll back or clean up)."""
    return PsqlRunner(proof_dsn)
