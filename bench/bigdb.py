"""The big template, built once and kept: a cluster under ``.cache/bench/``
(``make clean`` removes it) holding ``iu_template`` (migrations + fixtures) and
``iu_template_big`` (the same plus 1,000,000 pieces and 100,000 collections of
5 pieces each, with their envelopes), rebuilt only when its key changes: the
sha256 of the migrations, the fixtures, the fill SQL and the server version.

The bulk rows change no fixture fact: they belong to actor ``iu-bench-scale``
(no fixture actor gains a row), no template, lineage, audit, outbox or vector
row is added, and every bulk collection holds bulk pieces only (DIEU stays
27/23/36). Filled set-based: ids derived from the codes, so memberships need
no join; the membership dirty-marking trigger is off during the fill (the
envelopes are written directly, fresh).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from iu_prove import migrations, paths, seed
from iu_prove.dsn import connect
from iu_prove.embedded import EmbeddedCluster

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
SMALL = "iu_template"
BIG = "iu_template_big"
BULK_ACTOR = "iu-bench-scale"

FILL_SQL = """
INSERT INTO information_unit (id, code, kind, lifecycle_state, axis_a, axis_b, axis_c, body, created_by)
SELECT md5('big-piece:' || g)::uuid, 'BIG-P' || g, 'piece', 'active',
       'a' || (g % 97), 'b' || (g % 89), 'c' || (g % 83), 'body ' || g, 'iu-bench-scale'
  FROM generate_series(1, {pieces}) g;
INSERT INTO information_unit (id, code, kind, lifecycle_state, created_by)
SELECT md5('big-collection:' || g)::uuid, 'BIG-C' || g, 'collection', 'active', 'iu-bench-scale'
  FROM generate_series(1, {collections}) g;
ALTER TABLE iu_piece_membership DISABLE TRIGGER USER;
INSERT INTO iu_piece_membership (collection_id, piece_id, position)
SELECT md5('big-collection:' || g)::uuid, md5('big-piece:' || (((g - 1) * 5 + k - 1) % {pieces} + 1))::uuid, k
  FROM generate_series(1, {collections}) g CROSS JOIN generate_series(1, 5) k;
ALTER TABLE iu_piece_membership ENABLE TRIGGER USER;
INSERT INTO iu_three_axis_envelope (collection_id, axis_a_count, axis_b_count, axis_c_count, refreshed_at)
SELECT m.collection_id, count(DISTINCT p.axis_a), count(DISTINCT p.axis_b), count(DISTINCT p.axis_c), now()
  FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id
 WHERE m.collection_id IN (SELECT md5('big-collection:' || g)::uuid FROM generate_series(1, {collections}) g)
 GROUP BY m.collection_id
"""


class KeptCluster(EmbeddedCluster):
    """An embedded cluster whose data directory lives in the bench cache and survives the run."""

    def _make_base(self) -> None:
        self.base = CACHE / "cluster"
        self.base.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if self.os_user:
            import os
            import pwd

            entry = pwd.getpwnam(self.os_user)
            for path in (CACHE, self.base, self.sockdir):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def open(self) -> None:
        self._make_base()
        if self.running():  # left by an interrupted bench: its port is unknown here, so stop it and start anew
            self.stop()
        self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()  # kept: the next bench starts it again


def cache_key(pieces: int, collections: int, cluster: EmbeddedCluster) -> str:
    h = hashlib.sha256()
    for path in sorted(paths.MIGRATIONS.glob("*.sql")) + sorted((ROOT / "fixtures" / "seed").rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    h.update(FILL_SQL.format(pieces=pieces, collections=collections).encode())
    h.update(str(cluster.bindir).encode())
    return h.hexdigest()


def open_big(pieces: int, collections: int, say=print) -> tuple[KeptCluster, dict]:
    """Start the kept cluster, building the two templates when the key changed; return it and build facts."""
    cluster = KeptCluster()
    key = cache_key(pieces, collections, cluster)
    key_file = CACHE / "key.txt"
    facts: dict = {"pieces": pieces, "collections": collections, "cache": str(CACHE.relative_to(ROOT))}
    if key_file.exists() and key_file.read_text() == key and (CACHE / "cluster" / "data").exists():
        cluster.open()
        facts["reused"] = True
        return cluster, facts
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    cluster._make_base()
    cluster.base = CACHE / "cluster"
    # initdb into the kept base (init() would make a temporary one)
    cluster._run(
        cluster.bindir / "initdb", "-D", cluster.datadir, "-U", cluster.user, "-A", "trust", "-E", "UTF8",
        "--locale=C", "--no-sync",
    )  # fmt: skip
    from iu_prove.embedded import SERVER_SETTINGS

    settings = {**SERVER_SETTINGS, "maintenance_work_mem": "256MB", "max_wal_size": "4GB"}
    with open(cluster.datadir / "postgresql.auto.conf", "a") as fh:
        fh.write("\n" + "\n".join(f"{k} = '{v}'" for k, v in settings.items()) + "\n")
    cluster.start()
    started = time.perf_counter()
    with connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {SMALL}")
    with connect(cluster.dsn(SMALL)) as conn:
        migrations.apply(conn)
        seed.load(conn)
        conn.commit()
    with connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {BIG} TEMPLATE {SMALL}")
    say(f"  filling {BIG}: {pieces:,} pieces, {collections:,} collections of 5 pieces (built once, then kept)")
    with connect(cluster.dsn(BIG)) as conn:
        conn.execute("SET statement_timeout = 0")
        for statement in filter(str.strip, FILL_SQL.format(pieces=pieces, collections=collections).split(";")):
            conn.execute(statement)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE, FREEZE)")
    with connect(cluster.dsn(SMALL), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE, FREEZE)")
    with connect(cluster.dsn("postgres"), autocommit=True) as conn:
        for name in (SMALL, BIG):
            conn.execute(f"ALTER DATABASE {name} WITH is_template true")
    facts["build_s"] = round(time.perf_counter() - started, 1)
    facts["reused"] = False
    key_file.write_text(key)
    return cluster, facts


def fixture_facts(dsn: str) -> dict:
    """The fixture facts the bulk rows must not change: DIEU's envelope, rows per fixture actor."""
    with connect(dsn) as conn:
        dieu = conn.execute(
            "SELECT e.axis_a_count, e.axis_b_count, e.axis_c_count FROM iu_three_axis_envelope e "
            "JOIN information_unit u ON u.id = e.collection_id WHERE u.code = 'DIEU'"
        ).fetchone()
        actors = dict(
            conn.execute(
                "SELECT created_by, count(*) FROM information_unit WHERE created_by <> %s GROUP BY 1", [BULK_ACTOR]
            ).fetchall()
        )
        units = conn.execute("SELECT count(*) FROM information_unit").fetchone()[0]
        conn.rollback()
    return {"dieu": list(dieu) if dieu else None, "units_per_fixture_actor": actors, "units": units}
