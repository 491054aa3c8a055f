-- scaleout/rollback_batch.sql: remove one actor's scaleout batch
-- (dot_iu_auto_instantiate_rollback_by_actor, dry run first, then live).
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v actor=iu-core-30x-bulk -f sql/ops/scaleout/rollback_batch.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v actor=iu-core-30x-bulk -v dry_run=false -f sql/ops/scaleout/rollback_batch.sql
--
-- Variables:
--   actor    required: the batch's actor, matched exactly (never a pattern)
--   dry_run  default true: report the rows per table and change nothing;
--            false: delete them, in one transaction
--
-- What it changes (dry_run=false only): deletes the actor's instance
-- collections and their envelope, dirty, membership, outbox, audit and lineage
-- rows; pieces and other actors' rows are never touched. Before COMMIT it
-- checks that nothing of the actor is left and that the deleted counts equal
-- the dry run's. Undo: re-run run_bounded_scaleout.sql with the same n, actor and
-- workflow_share (instance codes are deterministic; lineage, audit and outbox
-- ids are new).

\set ON_ERROR_STOP on
\set QUIET on
\pset footer off

\if :{?actor}
\else
  \set actor ''
\endif
\if :{?dry_run}
\else
  \set dry_run 'true'
\endif

SELECT fn_iu_assert_actor(:'actor') AS actor_ok,
       CASE WHEN lower(btrim(:'dry_run')) IN ('true', 't', 'yes', 'y', 'on', '1') THEN 'true'
            WHEN lower(btrim(:'dry_run')) IN ('false', 'f', 'no', 'n', 'off', '0') THEN 'false'
       END AS rb_dry_run \gset
\if :{?rb_dry_run}
\else
  \echo 'rollback_batch refused: dry_run must be true or false, got' :'dry_run'
  SELECT set_config('iu_rollback.dry_run', :'dry_run', false) AS seen \gset
  DO $bad$ BEGIN
    RAISE EXCEPTION USING ERRCODE = 'IU021',
      MESSAGE = format('rollback refused: dry_run must be true or false, got %L', current_setting('iu_rollback.dry_run'));
  END $bad$;
\endif

BEGIN;
SET LOCAL synchronous_commit = on;

CREATE TEMP TABLE iu_rollback_plan ON COMMIT DROP AS
SELECT r.ord, r.table_name, r.affected_rows
  FROM dot_iu_auto_instantiate_rollback_by_actor(:'actor', true) WITH ORDINALITY AS r(table_name, affected_rows, ord);

\if :rb_dry_run
\echo 'rollback_batch (dry run): rows per table for actor' :'actor'
SELECT p.table_name, p.affected_rows AS would_delete FROM iu_rollback_plan p ORDER BY p.ord;
ROLLBACK;
\echo 'dry run: nothing was changed; run again with -v dry_run=false to delete'
\else
CREATE TEMP TABLE iu_rollback_done ON COMMIT DROP AS
SELECT r.table_name, r.affected_rows FROM dot_iu_auto_instantiate_rollback_by_actor(:'actor', false) AS r;
\echo 'rollback_batch (live): rows deleted per table for actor' :'actor'
SELECT d.table_name, d.affected_rows AS deleted, p.affected_rows AS dry_run_said
  FROM iu_rollback_done d JOIN iu_rollback_plan p USING (table_name)
 ORDER BY p.ord;
SELECT set_config('iu_rollback.actor', :'actor', true) AS seen \gset
DO $check$
DECLARE
  v_actor text := current_setting('iu_rollback.actor');
  v_left  bigint;
  v_diff  text;
BEGIN
  SELECT (SELECT count(*) FROM iu_collection_template_instance_lineage l WHERE l.actor = v_actor)
       + (SELECT count(*) FROM iu_auto_instantiate_event_log a WHERE a.triggered_by = v_actor)
    INTO v_left;
  SELECT string_agg(format('%s deleted %s, dry run said %s', d.table_name, d.affected_rows, p.affected_rows), '; ')
    INTO v_diff
    FROM iu_rollback_done d JOIN iu_rollback_plan p USING (table_name)
   WHERE d.affected_rows <> p.affected_rows;
  IF v_left <> 0 OR v_diff IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU025',
      MESSAGE = format('rollback aborted: %s row(s) of the actor left; %s', v_left, coalesce(v_diff, 'counts agree')),
      HINT = 'nothing was deleted: the transaction is rolled back';
  END IF;
END
$check$;
COMMIT;
\echo 'rollback committed: the actor has no instances, lineage or audit rows left'
\endif
