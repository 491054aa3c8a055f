-- scaleout/rollback_batch.sql: remove one actor's scaleout batch
-- (dot_iu_auto_instantiate_rollback_by_actor, dry run first, then live).
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v actor=iu-core-30x-bulk -f sql/ops/scaleout/rollback_batch.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v actor=iu-core-30x-bulk -v live=true -f sql/ops/scaleout/rollback_batch.sql
--
-- Variables:
--   actor        required: the batch's actor, matched exactly (never a pattern)
--   live         default false: report the rows per table and change nothing;
--                true: delete them, in one transaction
--   allow_empty  default false: a live run that matches no row of the actor is
--                refused (IU045, exit 3); true lets it succeed doing nothing (automation)
-- Any other known ops variable (dry_run, confirm, n, …) is refused (IU043).
--
-- What it changes (live=true only): deletes the actor's instance
-- collections and their envelope, dirty, membership, outbox, audit and lineage
-- rows; pieces and other actors' rows are never touched. Before COMMIT it
-- checks that nothing of the actor is left and that the deleted counts equal
-- the dry run's. Undo: re-run run_bounded_scaleout.sql with the same n, actor and
-- workflow_share (instance codes are deterministic; lineage, audit and outbox
-- ids are new).

\set ops_script scaleout/rollback_batch.sql
\set ops_accepts 'actor live allow_empty'
\set ops_needs 'public.dot_iu_auto_instantiate_rollback_by_actor(text,boolean)'
\set ops_needs_migration 033_create_dot_iu_auto_instantiate_from_event
\ir ../_lib/preamble.sql
\pset footer off

\if :{?actor}
\else
  \set actor ''
\endif

SELECT fn_iu_assert_actor(:'actor') AS actor_ok \gset

BEGIN;
SET LOCAL synchronous_commit = on;

CREATE TEMP TABLE iu_rollback_plan ON COMMIT DROP AS
SELECT r.ord, r.table_name, r.affected_rows
  FROM dot_iu_auto_instantiate_rollback_by_actor(:'actor', true) WITH ORDINALITY AS r(table_name, affected_rows, ord);

SELECT coalesce(sum(p.affected_rows), 0) AS rb_total, coalesce(sum(p.affected_rows), 0) = 0 AS rb_empty
  FROM iu_rollback_plan p \gset
\if :rb_empty
  \if :ops_live
    \if :ops_allow_empty
    \else
      SELECT set_config('iu_ops.code', 'IU045', false) AS c,
             set_config('iu_ops.msg', format('rollback refused: actor %L has no instances, lineage or audit rows; nothing was deleted', :'actor'), false) AS m,
             set_config('iu_ops.hint', format('check the actor with the dry run: psql -X -v ON_ERROR_STOP=1 %s -v actor=%s -f sql/ops/scaleout/rollback_batch.sql (-v allow_empty=true accepts an empty live run)',
                                              :'ops_conn', '''' || replace(:'actor', '''', '''\''''') || ''''), false) AS h \gset ops_raise_
      \ir ../_lib/raise.sql
    \endif
  \endif
\endif

\if :ops_live
\else
\echo 'rollback_batch (dry run): rows per table for actor' :'actor'
SELECT p.table_name, p.affected_rows AS would_delete FROM iu_rollback_plan p ORDER BY p.ord;
ROLLBACK;
\if :rb_empty
\echo 'dry run: the actor has no rows; a live run would be refused (check the spelling of the actor)'
\else
\echo 'dry run: nothing was changed; run again with -v live=true to delete'
\endif
\endif
\if :ops_live
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
\echo 'rollback committed:' :rb_total 'row(s) deleted; the actor has no instances, lineage or audit rows left'
\endif
