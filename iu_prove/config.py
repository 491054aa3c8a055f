"""Every knob of the suite, declared once: its command-line option (if any), its
environment variable, its default and its help.

The plugin builds its ``--iu-*`` options from :data:`KNOBS`; the harness reads
environment variables only through :func:`env` (an undeclared name is a bug, not
a silent default); the README's options table is checked against this list by
a suite test (``tests/harness/test_config.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

TRUTHY = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Knob:
    env: str  # environment variable
    help: str
    option: str | None = None  # command-line option of the pytest plugin, if any
    default: str | None = None
    flag: bool = False  # a yes/no switch (option without a value; env truthy: 1, true, yes, on)
    internal: bool = False  # set by the suite for its own processes, not by users


KNOBS: tuple[Knob, ...] = (
    Knob("IU_PROVE_DSN", "prove against this existing database; default: an embedded PostgreSQL", "--iu-dsn"),
    Knob(
        "IU_PROVE_SCRATCH",
        "the DSN database is disposable: migrate it, load fixtures, run durable and intrusive proofs in clones",
        "--iu-scratch",
        flag=True,
    ),
    Knob(
        "IU_PROVE_ALLOW_INTRUSIVE",
        "on a DSN target, also run proofs that take strong locks (transactional DDL)",
        "--iu-allow-intrusive",
        flag=True,
    ),
    Knob(
        "IU_PROVE_CLAIMS",
        "comma-separated claim ids to run, e.g. S-1,D-2 (case-insensitive; an unknown id is refused)",
        "--iu-claims",
    ),
    Knob("IU_PROVE_SABOTAGE", "apply this registered sabotage to every proof", "--iu-sabotage"),
    Knob(
        "IU_PROVE_SABOTAGE_DIR",
        "where the sabotage registry is read from",
        "--iu-sabotage-dir",
        default="fixtures/sabotages",
    ),
    Knob("IU_PROVE_REPORT_DIR", "where proof-report.{md,json} are written", "--iu-report-dir", default="reports"),
    Knob("IU_PROVE_LOCK_TIMEOUT", "lock_timeout in every proof transaction", "--iu-lock-timeout", default="2s"),
    Knob(
        "IU_PROVE_STATEMENT_TIMEOUT",
        "statement_timeout in every proof transaction",
        "--iu-statement-timeout",
        default="120s",
    ),
    Knob(
        "IU_PROVE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
        "idle_in_transaction_session_timeout in every proof transaction",
        "--iu-idle-in-transaction-session-timeout",
        default="300s",
    ),
    Knob(
        "IU_PROVE_SHARD",
        "run shard I of N (e.g. 2/3): a deterministic split by claim; iu-report merge puts the shards together",
        "--iu-shard",
    ),
    Knob(
        "IU_PROVE_DURATIONS", "a previous proof-report.json whose claim durations balance the shards", "--iu-durations"
    ),
    Knob(
        "IU_PROVE_BASELINE",
        "a previous proof-report.json: the report opens with what changed since it",
        "--iu-baseline",
    ),
    Knob("IU_PROVE_TAP", "also write the report as TAP to this path, one line per claim", "--iu-tap"),
    Knob("IU_PROVE_PROFILE", "Hypothesis profile: dev, ci or thorough (--hypothesis-profile wins)", default="dev"),
    Knob("IU_PROVE_PG_BINDIR", "the PostgreSQL server binaries' folder (default: found, no version hard-coded)"),
    Knob(
        "IU_PROVE_SERVER_USER",
        "the OS user the embedded server runs as when the suite runs as root",
        default="postgres",
    ),
    Knob("IU_PROVE_VERBOSE", "print the set-up steps (migrations applied, template built) to stderr", flag=True),
    Knob("IU_PROVE_NO_CACHE", "1: build the embedded template afresh instead of copying it from .cache/", flag=True),
    Knob(
        "IU_PROVE_FINGERPRINT_LARGE_ROWS",
        "tables estimated at this many rows or more are fingerprinted by what was written since a horizon",
        default="50000",
    ),
    Knob(
        "IU_PROVE_CHANGE_CAPTURE",
        "auto, on or off: read what a proof's transaction wrote from triggers added inside it. auto: on where "
        "the run owns the database (embedded, scratch), off on a plain DSN, whose other writers would wait on "
        "a watched table for the proof's length and could deadlock with it; off: large tables are read whole",
        default="auto",
    ),
    Knob("IU_PROVE_ROOT", "the project folder the suite reads its SQL and fixtures from (default: this checkout)"),
    Knob("IU_MIGRATE_LOCK_TIMEOUT", "lock_timeout while a migration is applied", default="5s"),
    Knob("IU_MIGRATE_STATEMENT_TIMEOUT", "statement_timeout while a migration is applied", default="5min"),
    Knob("IU_PROVE_GH_CHECK", "1: G-7 also runs the read-only `gh pr view 669` check", flag=True),
    Knob("IU_PROVE_GH_REPO", "the repository the PR #669 check asks (default: gh's own)"),
    Knob("IU_HEALTHCHECK_DSN", "iu-healthcheck's database (before IU_PROVE_DSN)"),
    Knob("IU_HEALTHCHECK_PUSH_URL", "iu-healthcheck's Uptime Kuma push URL"),
    Knob("IU_PROVE_ATTACH", "a parent run's cluster and template that a child run attaches to", internal=True),
    Knob("IU_PROVE_RUN_OWNER", "the run a cluster belongs to (set by the controlling process)", internal=True),
    Knob("IU_PROVE_RUN_LABEL", "a free label written into each cluster's owner file", internal=True),
    Knob("IU_PROVE_OPS_DIR", "the ops scripts' folder of a run with a script sabotage (a changed copy)", internal=True),
)
BY_ENV = {k.env: k for k in KNOBS}


def knob(name: str) -> Knob:
    try:
        return BY_ENV[name]
    except KeyError:
        raise KeyError(f"{name} is not a declared knob (iu_prove/config.py)") from None


def env(name: str) -> str | None:
    """The environment value of a declared knob, else its default ("" counts as unset)."""
    declared = knob(name)
    value = os.environ.get(name)
    return value if value not in (None, "") else declared.default


def flag(name: str) -> bool:
    """A declared yes/no knob from the environment."""
    return (os.environ.get(knob(name).env) or "").strip().lower() in TRUTHY


def options() -> list[Knob]:
    return [k for k in KNOBS if k.option]


def readme_table() -> str:
    """The README's options table (``python -m iu_prove.config`` prints it)."""
    rows = ["| option | environment variable | default | what |", "|---|---|---|---|"]
    for k in KNOBS:
        if not k.internal:
            option = f"`{k.option}`" if k.option else ""
            default = f"`{k.default}`" if k.default else ""
            rows.append(f"| {option} | `{k.env}` | {default} | {k.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(readme_table())
