-- retention-enable/enable.sql: delete expired log rows once, under the retention gate.
--
-- Usage (the dry run is the default):
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/ops/retention-enable/enable.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v live=true -v authority='G-RETENTION: <approval link>' \
--        [-v actor=NAME] -f sql/ops/retention-enable/enable.sql
-- With pg_dump before and after into a run folder (the way to run it live):
--   make retention-enable DSN=postgresql://… LIVE=true AUTHORITY='<approval link>'
--
-- Variables:
--   live       default false: everything below runs, is printed, and is rolled
--              back (nothing deleted, gate unchanged); true: committed
--   authority  required when live=true: the reference of the decision that
--              authorizes it (decision G-RETENTION, an approval link); one line,
--              at most 500 characters; recorded on the gate row (updated_by)
--   actor      who runs it (default iu-core-retention-enable); recorded on the gate row
-- Any other known ops variable (confirm, dry_run, …) is refused (IU043).
--
-- What it changes, in ONE transaction: opens iu_core.retention_enabled, runs
-- fn_iu_core_retention_cleanup(false) (every enabled policy: deletes the rows
-- older than now() - retain), closes the gate, checks it is closed and that each
-- table lost exactly the rows it counted as expired, then commits (live) or rolls
-- back (dry run). Other sessions never see the gate open. The gate row keeps
-- updated_by = '<actor>; authority: <authority>' and updated_at.
-- Any failure rolls the whole transaction back: no row deleted, gate unchanged.
-- It refuses, writing nothing, a live run without authority (IU040), a bad actor,
-- or when the gate is already open (IU041; persistent enablement is a different decision).
--
-- Undo: deleted rows are gone from this database. Restore them from the
-- before.pgdump that tools/retention-enable.sh writes (docs/runbook.md,
-- "Retention: undo").

\set ops_script retention-enable/enable.sql
\set ops_accepts 'live authority actor'
\set ops_needs 'public.fn_iu_core_retention_cleanup(boolean,timestamp with time zone)'
\set ops_needs_migration 035_create_iu_core_retention_policy
\ir ../_lib/preamble.sql

\if :{?authority}
\else
  \set authority ''
\endif
\if :{?actor}
\else
  \set actor iu-core-retention-enable
\endif

SELECT set_config('iu_ops.retention_enable_authority', :'authority', false) AS authority_seen,
       set_config('iu_ops.retention_enable_live', :'ops_live', false) AS live_seen \gset
DO $check$
DECLARE
  v_authority text := current_setting('iu_ops.retention_enable_authority');
BEGIN
  IF current_setting('iu_ops.retention_enable_live')::boolean AND btrim(v_authority) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU040',
      MESSAGE = 'retention enable refused: a live run needs -v authority=<the decision that authorizes it>; nothing was written',
      HINT = 'decision G-RETENTION in fixtures/decision-register.toml awaits authority; record it there (make retention-enable reads it) or pass the approval''s reference';
  END IF;
  IF v_authority ~ '[[:cntrl:]]' OR length(v_authority) > 500 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU040',
      MESSAGE = 'retention enable refused: -v authority must be one line of at most 500 characters; nothing was written';
  END IF;
END
$check$;

BEGIN;

SELECT set_config('iu_ops.retention_enable_actor', :'actor', true) AS actor_seen \gset
DO $check$
BEGIN
  PERFORM fn_iu_assert_actor(current_setting('iu_ops.retention_enable_actor'));
  IF fn_iu_core_gate('iu_core.retention_enabled') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU041',
      MESSAGE = 'retention enable refused: gate iu_core.retention_enabled is already open; nothing was written',
      HINT = 'this script opens and closes the gate itself; find out who left it open before going on';
  END IF;
END
$check$;

SELECT fn_iu_core_config_set('iu_core.retention_enabled', 'true'::jsonb, :'actor') AS gate_opened \gset

CREATE TEMP TABLE iu_retention_enable_result ON COMMIT DROP AS
SELECT c.table_name, c.horizon, c.expired_rows, c.deleted_rows
  FROM fn_iu_core_retention_cleanup(false) AS c;

SELECT fn_iu_core_config_set('iu_core.retention_enabled', 'false'::jsonb, :'actor') AS gate_closed \gset
-- the gate row records who closed it and on whose authority (a live run always has one)
UPDATE iu_core_config c
   SET updated_by = format('%s; authority: %s', :'actor', :'authority')
 WHERE c.key = 'iu_core.retention_enabled' AND btrim(:'authority') <> '';

DO $check$
DECLARE
  v_bad text;
BEGIN
  IF fn_iu_core_gate('iu_core.retention_enabled') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU042',
      MESSAGE = 'retention enable aborted: gate iu_core.retention_enabled did not close; rolled back, nothing deleted';
  END IF;
  SELECT string_agg(format('%s counted %s, deleted %s', r.table_name, r.expired_rows, r.deleted_rows), '; ')
    INTO v_bad
    FROM iu_retention_enable_result r
   WHERE r.deleted_rows IS DISTINCT FROM r.expired_rows;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU042',
      MESSAGE = 'retention enable aborted: deletions differ from the expired counts (' || v_bad || '); rolled back, nothing deleted',
      HINT = 'rows crossed a horizon or were written during the run; rerun the dry run, then this script';
  END IF;
END
$check$;

\echo 'retention enable: rows deleted per table'
SELECT r.table_name, r.horizon, r.deleted_rows
  FROM iu_retention_enable_result r
 ORDER BY r.table_name;

\if :ops_live
SELECT format('retention enable: %s row(s) deleted from %s table(s) by %s on authority %s; gate iu_core.retention_enabled closed again; committed',
              coalesce(sum(r.deleted_rows), 0), count(*), :'actor', :'authority') AS summary
  FROM iu_retention_enable_result r \gset
COMMIT;
\else
SELECT format('retention enable (dry run): %s row(s) would be deleted from %s table(s); rolled back, nothing deleted, gate unchanged; -v live=true -v authority=… deletes',
              coalesce(sum(r.deleted_rows), 0), count(*)) AS summary
  FROM iu_retention_enable_result r \gset
ROLLBACK;
\endif

\echo :summary
