"""Database targets: where the proofs run.

* ``embedded`` (default): one throw-away cluster per run; migrations and
  fixtures are loaded once into a template database; each xdist worker works
  in its own clone of it.
* ``attached``: an already running embedded cluster and template handed over
  by a parent run (``IU_PROVE_ATTACH``), so nested runs (``make mutate``, the
  suite's own tests) do not each build one.
* ``dsn``: an existing database that already has the substrate. Nothing is
  migrated or committed there unless it is declared disposable (scratch). A
  scratch target also gets a template database of its own beside it on the
  same server (``<db>_iu_template_<pid>``, dropped at the end), so durable and
  intrusive proofs commit into clones, never into the scratch database.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pytest_postgresql.janitor import DatabaseJanitor

from iu_prove import migrations, preflight, seed, template_cache
from iu_prove.dsn import connect, dbname_of, with_dbname
from iu_prove.embedded import EmbeddedCluster
from iu_prove.errors import SetupError
from iu_prove.sabotage import Sabotage

TEMPLATE = "iu_template"
ATTACH_ENV = "IU_PROVE_ATTACH"


class _Janitor(DatabaseJanitor):
    """pytest-postgresql's janitor, ending only the client sessions of a database it drops:
    an autovacuum worker is a superuser process a non-superuser role (a CI service's) may
    not terminate, and DROP DATABASE stops autovacuum workers itself."""

    @staticmethod
    def _terminate_connection(cur, dbname: str) -> None:
        cur.execute(
            "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a "
            "WHERE a.datname = %s AND a.backend_type = 'client backend'",
            (dbname,),
        )


@dataclass
class Target:
    """What every process of a run needs to know about the database target."""

    kind: str  # embedded | attached | dsn
    server_dsn: str  # a maintenance connection on the server
    template: str | None = None  # template database clones are made from
    database_dsn: str | None = None  # dsn target: the database itself
    scratch: bool = False
    seed_in_transaction: bool = False  # dsn target without the fixtures loaded
    head: str | None = None
    server_version: str = ""
    owned_templates: list[str] = field(default_factory=list)
    no_clones_reason: str = ""  # why a scratch target has no template (e.g. the role lacks CREATEDB)

    @property
    def beside(self) -> str | None:
        """The DSN database whose name prefixes the databases the run makes next to it."""
        return dbname_of(self.database_dsn) if self.database_dsn else None

    @property
    def clones_allowed(self) -> bool:
        return self.template is not None

    @property
    def commits_allowed(self) -> bool:
        return self.kind != "dsn" or self.scratch

    def to_json(self) -> str:
        """The one serialisation of a target: for xdist workers and for child runs alike."""
        return json.dumps(asdict(self))

    def for_children(self) -> Target:
        """What a child run attaches to: this run's server and template, nothing it owns."""
        return Target(
            kind="attached",
            server_dsn=self.server_dsn,
            template=self.template,
            head=self.head,
            server_version=self.server_version,
        )

    @classmethod
    def from_json(cls, text: str) -> Target:
        return cls(**json.loads(text))

    # -- databases on the server -------------------------------------------
    def janitor(self, dbname: str, template: str | None = None, as_template: bool = False) -> DatabaseJanitor:
        info = conninfo_to_dict(self.server_dsn)
        return _Janitor(
            user=str(info.get("user") or ""),
            host=str(info.get("host") or "127.0.0.1"),
            port=str(info.get("port") or 5432),
            password=info.get("password"),  # type: ignore[arg-type]
            dbname=dbname,
            template_dbname=template,
            as_template=as_template,
            maintenance_dbname=dbname_of(self.server_dsn) or "postgres",
        )

    def clone(self, dbname: str, template: str | None = None) -> str:
        """Create ``dbname`` from the template; return its DSN."""
        template = template or self.template
        if template is None:
            raise RuntimeError("this target has no template database to clone from")
        janitor = self.janitor(dbname, template)
        janitor.drop()
        janitor.init()
        return with_dbname(self.server_dsn, dbname)

    def drop(self, dbname: str) -> None:
        self.janitor(dbname).drop()

    def dsn_for(self, dbname: str) -> str:
        return with_dbname(self.server_dsn, dbname)


def build_template(target: Target, name: str = TEMPLATE, progress=None) -> None:
    """Create the template database: every migration, then the fixtures."""
    janitor = target.janitor(name, as_template=True)
    janitor.drop()
    janitor.init()
    with connect(target.dsn_for(name)) as conn:
        migrations.apply(conn, progress=progress)
        seed.load(conn)


def derive_sabotaged_template(target: Target, sab: Sabotage) -> str:
    """A copy of the template with a ``database``-mode sabotage committed in it."""
    name = f"{target.template}_sabotaged_{os.getpid()}"
    target.clone(name)
    with connect(target.dsn_for(name)) as conn:
        sab.apply(conn)
        conn.commit()
    with connect(target.server_dsn, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("ALTER DATABASE {} WITH is_template true").format(psycopg.sql.Identifier(name)))
    target.owned_templates.append(name)
    target.template = name
    return name


def describe(conn: psycopg.Connection) -> tuple[str, str | None]:
    """(server version string, migration head) of a connected database."""
    version = conn.execute("SHOW server_version").fetchone()[0]
    return version, migrations.head(conn)


def embedded(cluster: EmbeddedCluster, progress=None) -> Target:
    """The target of a started, empty cluster: its template built from the migrations and fixtures."""
    target = Target(kind="embedded", server_dsn=cluster.dsn("postgres"), template=TEMPLATE)
    build_template(target, progress=progress)
    with connect(target.dsn_for(TEMPLATE)) as conn:
        target.server_version, target.head = describe(conn)
    return target


def start_embedded(cluster: EmbeddedCluster, progress=None) -> tuple[Target, str]:
    """Start ``cluster`` with the substrate and fixtures in its template: copied from
    the template cache when its inputs are unchanged, else built (and cached).
    Returns the target and one line saying which."""
    cache_key = template_cache.key(cluster.bindir) if template_cache.enabled() else None
    cached = template_cache.lookup(cache_key) if cache_key else None
    if cached is not None:
        cluster.init_from(cached)
        cluster.start()
        template_cache.touch(cache_key)
        tgt = Target(kind="embedded", server_dsn=cluster.dsn("postgres"), template=TEMPLATE)
        with connect(tgt.dsn_for(TEMPLATE)) as conn:
            tgt.server_version, tgt.head = describe(conn)
        how = f"template from the cache ({cache_key})"
    else:
        cluster.init()
        cluster.start()
        tgt = embedded(cluster, progress=progress)
        how = "template built"
        if cache_key:
            cluster.stop()
            try:
                template_cache.store(cache_key, cluster.datadir)
                how += f" and cached ({cache_key})"
            except OSError as exc:
                how += f" (not cached: {exc})"
            cluster.start()
    return tgt, how


def attached(spec: str) -> Target:
    """Attach to a parent run's cluster (the JSON of :meth:`Target.for_children`). Never
    connects to the template: a session on it would make a concurrent clone of it fail."""
    tgt = Target.from_json(spec)
    if tgt.kind != "attached" or not tgt.template:
        raise SetupError(f"{ATTACH_ENV} does not describe a cluster to attach to: {spec[:200]}")
    return tgt


def from_dsn(dsn: str, scratch: bool, progress=None) -> Target:
    """Check a DSN target (exit-2 errors raise) and, if scratch, bring it to head
    and build its template of clones beside it (when the role may create databases)."""
    with connect(dsn) as conn:
        if scratch:
            migrations.apply(conn, progress=progress)
            if not seed.present(conn):
                seed.load(conn)
        head = preflight.check(conn, dsn)
        version, _ = describe(conn)
        has_seed = seed.present(conn)
        role, can_create = conn.execute(
            "SELECT current_user, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        conn.rollback()
    tgt = Target(
        kind="dsn",
        server_dsn=dsn,
        database_dsn=dsn,
        scratch=scratch,
        seed_in_transaction=not has_seed,
        head=head,
        server_version=version,
    )
    if scratch and not can_create:
        tgt.no_clones_reason = (
            f"role {role} cannot create databases, so proofs that commit or need a clone are not run; "
            f"`ALTER ROLE {role} CREATEDB` lets them run (or run without --iu-scratch)"
        )
    elif scratch:
        name = scratch_template_name(dbname_of(dsn))
        tgt.owned_templates.append(name)
        try:
            build_template(tgt, name, progress=progress)
        except BaseException:
            with contextlib.suppress(Exception):
                tgt.janitor(name, as_template=True).drop()
            raise
        tgt.template = name
    return tgt


def scratch_template_name(dbname: str) -> str:
    """``<db>_iu_template_<pid>``, cut to PostgreSQL's 63-byte names."""
    suffix = f"_iu_template_{os.getpid()}"
    return dbname.encode()[: 63 - len(suffix)].decode(errors="ignore") + suffix
