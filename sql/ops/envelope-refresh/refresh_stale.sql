-- envelope-refresh/refresh_stale.sql: refresh every dirty envelope once
-- (fn_iu_three_axis_envelope_refresh_if_stale, migration 024), dry run first.
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/ops/envelope-refresh/refresh_stale.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v live=true [-v reason=after_scaleout] -f sql/ops/envelope-refresh/refresh_stale.sql
--
-- Variables:
--   live    default false: count the dirty collections and the oldest mark, refresh
--           them inside a transaction that is rolled back, print what it would do;
--           true: the same, committed
--   reason  the refresh-log reason (default ops_refresh_stale)
-- Any other known ops variable is refused (IU043).
--
-- What it changes (live=true only), in one transaction: recomputes the envelope of
-- every dirty collection, clears their dirty marks, writes one
-- iu_three_axis_envelope_refresh_log row (nothing at all when nothing is dirty).
-- Before COMMIT it checks no dirty mark is left. This is what keeps the
-- envelope_backlog healthcheck surface green after a scaleout or a bulk retire
-- with the auto-refresh gate closed (red once a mark is older than 24 hours).
-- Undo: nothing to undo (a refresh recomputes a cache from the pieces).

\set ops_script envelope-refresh/refresh_stale.sql
\set ops_accepts 'live reason'
\set ops_needs 'public.fn_iu_three_axis_envelope_refresh_if_stale(text)'
\set ops_needs_migration 024_create_fn_iu_three_axis_envelope_refresh_if_stale
\ir ../_lib/preamble.sql

\if :{?reason}
\else
  \set reason ops_refresh_stale
\endif

BEGIN;
SET LOCAL lock_timeout = '5s';
SELECT count(*) AS rs_dirty_before,
       coalesce(to_char(now() - min(d.marked_at), 'DD"d "HH24"h "MI"m"'), '-') AS rs_oldest,
       count(*) FILTER (WHERE d.marked_at < now() - interval '24 hours') AS rs_over_24h
  FROM iu_three_axis_envelope_dirty d \gset
SELECT fn_iu_three_axis_envelope_refresh_if_stale(:'reason') AS rs_refreshed_any \gset
SELECT count(*) AS rs_dirty_after FROM iu_three_axis_envelope_dirty \gset
SELECT :rs_dirty_after = 0 AS rs_clean \gset
\if :rs_clean
\else
  SELECT set_config('iu_ops.code', 'IU046', false) AS c,
         set_config('iu_ops.msg', format('refresh aborted: %s dirty collection(s) left after the refresh; rolled back', :rs_dirty_after), false) AS m,
         set_config('iu_ops.hint', 'see iu_three_axis_envelope_dirty and the envelope_backlog healthcheck line', false) AS h \gset ops_raise_
  \ir ../_lib/raise.sql
\endif

\if :ops_live
COMMIT;
\echo 'envelope refresh committed:' :rs_dirty_before 'dirty collection(s) refreshed (oldest mark' :rs_oldest 'old,' :rs_over_24h 'over 24 hours); 0 dirty left; reason' :reason
\else
ROLLBACK;
\echo 'envelope refresh (dry run):' :rs_dirty_before 'dirty collection(s) would be refreshed (oldest mark' :rs_oldest 'old,' :rs_over_24h 'over 24 hours); nothing was changed; -v live=true commits'
\endif
