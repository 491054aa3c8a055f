-- retention-enable/enable.sql: delete expired log rows once, under the retention gate.
--
-- Usage (review the dry run first):
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/ops/retention-enable/dry_run.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v confirm=yes [-v actor=NAME] -f sql/ops/retention-enable/enable.sql
-- With pg_dump before and after into a dated folder:
--   make retention-enable DSN=postgresql://… CONFIRM=yes
--
-- Variables:
--   confirm  required, must be exactly yes; anything else refuses (nothing written)
--   actor    who runs it (default iu-core-retention-enable); recorded on the gate row
--
-- What it changes, in ONE transaction: opens iu_core.retention_enabled, runs
-- fn_iu_core_retention_cleanup(false) (every enabled policy: deletes the rows
-- older than now() - retain), closes the gate, checks it is closed and that each
-- table lost exactly the rows it counted as expired, then commits. Other sessions
-- never see the gate open. The gate row keeps updated_by = actor and updated_at.
-- Any failure rolls the whole transaction back: no row deleted, gate unchanged.
-- It refuses, writing nothing, without confirm=yes, with a bad actor, or when the
-- gate is already open (persistent enablement is a different decision).
--
-- Undo: deleted rows are gone from this database. Restore them from the
-- before.pgdump that tools/retention-enable.sh writes (docs/runbook.md,
-- "Retention: undo").

\set ON_ERROR_STOP on
\set QUIET on

\if :{?confirm}
\else
  \set confirm ''
\endif
\if :{?actor}
\else
  \set actor iu-core-retention-enable
\endif

SELECT set_config('iu_ops.retention_enable_confirm', :'confirm', false) AS confirm_seen \gset
DO $check$
BEGIN
  IF current_setting('iu_ops.retention_enable_confirm') IS DISTINCT FROM 'yes' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU040',
      MESSAGE = format('retention enable refused: %s; nothing was written',
                       CASE WHEN current_setting('iu_ops.retention_enable_confirm') = '' THEN 'confirm is not set'
                            ELSE format('confirm is %L, not yes', current_setting('iu_ops.retention_enable_confirm')) END),
      HINT = 'review sql/ops/retention-enable/dry_run.sql, then rerun with -v confirm=yes';
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

SELECT format('retention enable: %s row(s) deleted from %s table(s) by %s; gate iu_core.retention_enabled closed again; committed',
              coalesce(sum(r.deleted_rows), 0), count(*), :'actor') AS summary
  FROM iu_retention_enable_result r \gset

COMMIT;

\echo :summary
