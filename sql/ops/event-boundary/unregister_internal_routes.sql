-- unregister_internal_routes.sql — rollback path for an accidentally registered
-- route on an internal-lane event type.
--
-- Usage:
--   dry run (default, changes nothing; lists what a live run would remove):
--     psql -X -v ON_ERROR_STOP=1 -f sql/ops/event-boundary/unregister_internal_routes.sql
--   live (removes them, in one transaction, BEGIN … COMMIT):
--     psql -X -v ON_ERROR_STOP=1 -v live=true -v actor=<your name> [-v reason='<why>'] \
--          -f sql/ops/event-boundary/unregister_internal_routes.sql
--
-- Changes (live only): deletes every route_registry row keyed to an event type
-- whose event_type_registry.delivery_lane is 'internal', and records each removed
-- row whole in route_registry_removal_log (removed_by = actor, reason). Routes of
-- live-lane event types are never touched; gates are not changed (close them
-- with fn_iu_core_config_set, see docs/runbook-event-boundary.md). A live run
-- with nothing to remove writes nothing.
--
-- Undo (re-registers the routes, i.e. re-opens what this removed; think twice):
--   INSERT INTO route_registry (id, event_type, route, enabled, created_at, created_by)
--   SELECT l.route_id, l.event_type, l.route, l.enabled, l.route_created_at, l.route_created_by
--     FROM route_registry_removal_log l WHERE l.removed_by = '<actor>' AND l.removed_at >= '<when>';
--
-- Exit: 0 on success; non-zero with ERROR IU030 (bad -v value), IU003 (bad
-- actor) or IU032 (an internal-lane route remained) — nothing is committed then.

\set ON_ERROR_STOP 1
\set QUIET 1
\if :{?live}
\else
  \set live false
\endif
\if :{?actor}
\else
  \set actor ''
\endif
\if :{?reason}
\else
  \set reason 'accidental route registration on an internal-lane event type'
\endif

SELECT to_regprocedure('public.fn_iu_event_boundary_unregister_internal_routes(boolean,text,text)') IS NOT NULL
       AS iu_unreg_ready \gset
\if :iu_unreg_ready
\else
  DO $$ BEGIN
    RAISE EXCEPTION USING ERRCODE = 'IU030',
      MESSAGE = 'unregister_internal_routes refused: migration 038_register_event_boundary_healthcheck is not applied',
      HINT = 'apply the migrations first (make migrate DSN=...)';
  END $$;
\endif

-- validate the variables (nothing written yet)
SELECT set_config('iu_unreg.live', :'live', false) AS live,
       set_config('iu_unreg.actor', :'actor', false) AS actor,
       set_config('iu_unreg.reason', :'reason', false) AS reason \gset iu_unreg_arg_
DO $$
DECLARE
  v_live text := lower(current_setting('iu_unreg.live'));
BEGIN
  IF v_live NOT IN ('true', 'false', 'on', 'off', 'yes', 'no', '1', '0') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU030',
      MESSAGE = format('unregister_internal_routes refused: -v live must be true or false (got %L)', current_setting('iu_unreg.live'));
  END IF;
  IF v_live IN ('true', 'on', 'yes', '1') THEN
    IF current_setting('iu_unreg.actor') = '' THEN
      RAISE EXCEPTION USING ERRCODE = 'IU030',
        MESSAGE = 'unregister_internal_routes refused: a live run needs -v actor=<your name>';
    END IF;
    PERFORM fn_iu_assert_actor(current_setting('iu_unreg.actor'));
    IF btrim(current_setting('iu_unreg.reason')) = '' THEN
      RAISE EXCEPTION USING ERRCODE = 'IU030', MESSAGE = 'unregister_internal_routes refused: -v reason is empty';
    END IF;
  END IF;
END $$;
SELECT lower(:'live') IN ('true', 'on', 'yes', '1') AS iu_unreg_live \gset

BEGIN;
SELECT set_config('lock_timeout', '5s', true) AS lock_timeout,
       set_config('statement_timeout', '60s', true) AS statement_timeout \gset iu_unreg_tx_
-- no route can be added or changed between the count and the removal
LOCK TABLE route_registry IN SHARE ROW EXCLUSIVE MODE;

SELECT count(*) FILTER (WHERE e.delivery_lane = 'internal') AS iu_unreg_internal_before,
       count(*) FILTER (WHERE e.delivery_lane <> 'internal') AS iu_unreg_other_before
  FROM route_registry r JOIN event_type_registry e ON e.event_type = r.event_type \gset

\if :iu_unreg_live
  \echo 'unregister_internal_routes LIVE: removing' :iu_unreg_internal_before 'route(s) keyed to internal-lane event types'
  SELECT u.event_type, u.delivery_lane, u.route, u.enabled, u.route_id, u.created_by, u.created_at,
         CASE WHEN u.removed THEN 'removed' ELSE 'kept' END AS action
    FROM fn_iu_event_boundary_unregister_internal_routes(false, :'actor', :'reason') AS u;
  SELECT count(*) FILTER (WHERE e.delivery_lane = 'internal') AS iu_unreg_internal_after,
         :iu_unreg_internal_before - count(*) FILTER (WHERE e.delivery_lane = 'internal') AS iu_unreg_removed,
         count(*) FILTER (WHERE e.delivery_lane <> 'internal') AS iu_unreg_other_after
    FROM route_registry r JOIN event_type_registry e ON e.event_type = r.event_type \gset
  COMMIT;
  \echo 'unregister_internal_routes LIVE done: removed=':iu_unreg_removed 'internal_routes_left=':iu_unreg_internal_after 'other_lane_routes_kept=':iu_unreg_other_after 'other_lane_routes_before=':iu_unreg_other_before 'logged_in=route_registry_removal_log' 'actor=':actor
\else
  \echo 'unregister_internal_routes DRY RUN: routes keyed to internal-lane event types (a live run removes exactly these)'
  SELECT u.event_type, u.delivery_lane, u.route, u.enabled, u.route_id, u.created_by, u.created_at,
         'would remove' AS action
    FROM fn_iu_event_boundary_unregister_internal_routes(true) AS u;
  ROLLBACK;
  \echo 'unregister_internal_routes DRY RUN done: would_remove=':iu_unreg_internal_before 'other_lane_routes_untouched=':iu_unreg_other_before
  \echo 'nothing changed; to remove them: -v live=true -v actor=<your name>'
\endif

-- the boundary as the healthcheck sees it now (gates are reported, never changed here)
SELECT h.ok AS boundary_ok, h.detail AS boundary FROM fn_iu_hc_event_boundary_internal_only() AS h;
