-- scaleout/run_bounded_scaleout.sql: a bounded durable batch of N template
-- instances through dot_iu_auto_instantiate_from_event (migration 042).
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v n=30 -f sql/ops/scaleout/run_bounded_scaleout.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v n=30 -v live=true -f sql/ops/scaleout/run_bounded_scaleout.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v actor=iu-core-30x-bulk -f sql/ops/scaleout/verify_batch.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v live=true -f sql/ops/envelope-refresh/refresh_stale.sql
--
-- Variables:
--   n               required: instances in the batch, 1..bound
--   actor           default iu-core-<n>x-bulk; exact name (no %, *, ?, no edge
--                   whitespace), and it must have no instances or audit rows yet
--   workflow_share  workflow share of the mix: a fraction 0..1 or a ratio w:f (default 2:1)
--   bound           the largest N accepted (default 40); raise it only on purpose
--   live            default false: plan and validate every instance, print the
--                   summary, then ROLLBACK (nothing written); true: commit the batch
-- Any other known ops variable (dry_run, confirm, file, …) is refused (IU043).
--
-- What it changes, in ONE transaction (BEGIN … COMMIT): fn_iu_bounded_scaleout
-- opens iu_core.auto_instantiate_enabled, composes N instances (workflow and file
-- templates interleaved), writes per instance one collection, its memberships
-- (+ envelope dirty marks), one lineage row, one audit row and one internal
-- outbox event, then restores the gate row exactly as it was. Before COMMIT it
-- checks every instance is digest-matched, the vector ledger is unchanged and
-- the gate is closed; any failure rolls everything back (gate included). Other
-- sessions never see the gate open. The commit is synchronous (durable).
-- The batch's collections are left dirty in the envelope cache (marked, not
-- recomputed): refresh them with envelope-refresh/refresh_stale.sql -v live=true
-- (the commit prints that command) or the envelope_backlog healthcheck surface
-- turns red 24 hours later.
-- Refusals (nothing written, exit 3): bad or missing n, n above bound, bad share,
-- bad live, empty/pattern actor, an actor that already has rows, gate already open.
--
-- Undo (dry run first, then live):
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v actor=iu-core-30x-bulk -f sql/ops/scaleout/rollback_batch.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v actor=iu-core-30x-bulk -v live=true -f sql/ops/scaleout/rollback_batch.sql
-- (that is dot_iu_auto_instantiate_rollback_by_actor(actor, true), then (actor, false)).

\set ops_script scaleout/run_bounded_scaleout.sql
\set ops_accepts 'n actor workflow_share bound live'
\set ops_needs 'public.fn_iu_bounded_scaleout_args(text,text,text,text,text)'
\set ops_needs_migration 042_create_fn_iu_bounded_scaleout
\ir ../_lib/preamble.sql
\pset footer off

\if :{?n}
\else
  \set n ''
\endif
\if :{?actor}
  \set sc_actor_given true
\else
  \set sc_actor_given false
  \set actor ''
\endif
\if :{?workflow_share}
\else
  \set workflow_share ''
\endif
\if :{?bound}
\else
  \set bound ''
\endif
SELECT CASE WHEN :'ops_live'::boolean THEN 'false' ELSE 'true' END AS sc_dry_run_text \gset

-- Validate every variable before anything is written (raises IU020..IU023, IU003).
SELECT a.n, a.actor, a.workflow_share, a.bound, a.dry_run
  FROM fn_iu_bounded_scaleout_args(:'n', CASE WHEN :'sc_actor_given' = 'true' THEN :'actor' END,
                                   :'workflow_share', :'bound', :'sc_dry_run_text') AS a \gset sc_

BEGIN;
SET LOCAL synchronous_commit = on;

CREATE TEMP TABLE iu_scaleout_vector_before ON COMMIT DROP AS
SELECT count(*) AS n, coalesce(md5(string_agg(v::text, E'\n' ORDER BY v::text)), '') AS md5
  FROM iu_vector_point v;

CREATE TEMP TABLE iu_scaleout_batch ON COMMIT DROP AS
SELECT b.*
  FROM fn_iu_bounded_scaleout(:sc_n, :'sc_actor', :sc_workflow_share, :sc_bound, :'sc_dry_run'::boolean) AS b;

-- Before COMMIT: the batch is complete and digest-matched, the vector ledger is
-- untouched, the gate is closed. A failure here rolls the whole batch back.
SELECT set_config('iu_scaleout.n', :'sc_n', true) AS n_set,
       set_config('iu_scaleout.actor', :'sc_actor', true) AS actor_set \gset
DO $check$
DECLARE
  v_n       int  := current_setting('iu_scaleout.n')::int;
  v_rows    bigint;
  v_matched bigint;
  v_vec     record;
BEGIN
  SELECT count(*), count(*) FILTER (WHERE b.digest_matches_template) INTO v_rows, v_matched FROM iu_scaleout_batch b;
  IF v_rows <> v_n OR v_matched <> v_n THEN
    RAISE EXCEPTION USING ERRCODE = 'IU025',
      MESSAGE = format('scaleout aborted: %s instance row(s), %s digest-matched, expected %s', v_rows, v_matched, v_n);
  END IF;
  SELECT count(*) AS n, coalesce(md5(string_agg(v::text, E'\n' ORDER BY v::text)), '') AS md5 INTO v_vec
    FROM iu_vector_point v;
  IF (v_vec.n, v_vec.md5) IS DISTINCT FROM (SELECT (b.n, b.md5) FROM iu_scaleout_vector_before b) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU025',
      MESSAGE = format('scaleout aborted: the vector ledger changed during the batch (%s points now)', v_vec.n);
  END IF;
  IF fn_iu_core_gate('iu_core.auto_instantiate_enabled') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU025', MESSAGE = 'scaleout aborted: gate iu_core.auto_instantiate_enabled is still open';
  END IF;
END
$check$;

\echo
\echo 'bounded scaleout: instances per template kind'
SELECT b.template_kind AS kind,
       count(*) AS instances,
       count(*) FILTER (WHERE b.digest_matches_template) AS digest_matches,
       count(DISTINCT (b.template_code, b.template_version)) AS templates
  FROM iu_scaleout_batch b
 GROUP BY b.template_kind
 ORDER BY b.template_kind DESC;

SELECT format('actor %s: %s instance(s), %s digest-matched, first %s, last %s; vector ledger unchanged (%s points); gate iu_core.auto_instantiate_enabled %s',
              :'sc_actor', count(*), count(*) FILTER (WHERE b.digest_matches_template),
              min(b.instance_code), max(b.instance_code),
              (SELECT v.n FROM iu_scaleout_vector_before v),
              CASE WHEN fn_iu_core_gate('iu_core.auto_instantiate_enabled') THEN 'OPEN' ELSE 'closed' END) AS summary
  FROM iu_scaleout_batch b \gset
\echo :summary

\if :sc_dry_run
ROLLBACK;
\echo 'dry run: every instance planned and validated; nothing written (rolled back); -v live=true commits'
\else
COMMIT;
SELECT format('committed: %s instance(s) for actor %s; gate iu_core.auto_instantiate_enabled is %s',
              count(*), :'sc_actor',
              CASE WHEN fn_iu_core_gate('iu_core.auto_instantiate_enabled') THEN 'OPEN' ELSE 'closed' END) AS done,
       -- the next commands, with this run's connection, the actor quoted for a POSIX shell
       format('verify:  psql -X -v ON_ERROR_STOP=1 %s -v actor=%s -v n=%s -f sql/ops/scaleout/verify_batch.sql',
              :'ops_conn', '''' || replace(:'sc_actor', '''', '''\''''') || '''', :sc_n) AS next_verify,
       format('refresh: psql -X -v ON_ERROR_STOP=1 %s -v live=true -f sql/ops/envelope-refresh/refresh_stale.sql',
              :'ops_conn') AS next_refresh,
       format('undo:    psql -X -v ON_ERROR_STOP=1 %s -v actor=%s [-v live=true] -f sql/ops/scaleout/rollback_batch.sql',
              :'ops_conn', '''' || replace(:'sc_actor', '''', '''\''''') || '''') AS next_undo,
       (SELECT count(*) FROM iu_three_axis_envelope_dirty d
          JOIN iu_collection_template_instance_lineage x ON x.instance_collection_id = d.collection_id
         WHERE x.actor = :'sc_actor') AS dirty
  FROM iu_collection_template_instance_lineage l WHERE l.actor = :'sc_actor' \gset
\echo :done
\echo 'envelope cache:' :dirty 'collection(s) of the batch are dirty; refresh them now, or the envelope_backlog healthcheck turns red in 24 hours'
\echo :next_verify
\echo :next_refresh
\echo :next_undo
\endif
