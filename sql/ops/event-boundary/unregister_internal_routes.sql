-- unregister_internal_routes.sql — rollback path for an accidentally registered
-- route on an internal-lane event type.
--
-- Usage:
--   dry run (default, changes nothing; lists what a live run would remove):
--     psql -X -v ON_ERROR_STOP=1 -f sql/ops/event-boundary/unregister_internal_routes.sql
--   live (removes them, in one transaction, BEGIN … COMMIT):
--     psql -X -v ON_ERROR_STOP=1 -v live=true -v actor=<your name> [-v reason='<why>'] \
--          [-v allow_empty=true] -f sql/ops/event-boundary/unregister_internal_routes.sql
--
-- Changes (live only): deletes every route_registry row keyed to an event type
-- whose event_type_registry.delivery_lane is 'internal', and records each removed
-- row whole in route_registry_removal_log (removed_by = actor, reason). Routes of
-- live-lane event types are never touched; gates are not changed (close them
-- with fn_iu_core_config_set, see docs/runbook-event-boundary.md). A live run
-- with nothing to remove is refused (IU045, exit 3, nothing written) unless
-- -v allow_empty=true, for automation that runs it whether or not a route exists.
-- Variables: live, actor, reason, allow_empty; any other known ops variable is
-- refused (IU043).
--
-- Undo (re-registers the routes, i.e. re-opens what this removed; think twice):
--   INSERT INTO route_registry (id, event_type, route, enabled, created_at, created_by)
--   SELECT l.route_id, l.event_type, l.route, l.enabled, l.route_created_at, l.route_created_by
--     FROM route_registry_removal_log l WHERE l.removed_by = '<actor>' AND l.removed_at >= '<when>';
--
-- Exit: 0 on success; non-zero with ERROR IU030 (bad -v value), IU043 (bad or
-- refused variable), IU003 (bad actor), IU045 (live run with nothing to remove)
-- or IU032 (an internal-lane route remained) — nothing is committed then.

\set ops_script event-boundary/unregister_internal_routes.sql
\set ops_accepts 'live actor reason allow_empty'
\set ops_needs 'public.fn_iu_event_boundary_unregister_internal_routes(boolean,text,text)'
\set ops_needs_migration 038_register_event_boundary_healthcheck
\ir ../_lib/preamble.sql
\if :{?actor}
\else
  \set actor ''
\endif
\if :{?reason}
\else
  \set reason 'accidental route registration on an internal-lane event type'
\endif

-- validate the variables (nothing written yet)
SELECT set_config('iu_unreg.live', :'live', false) AS live,
       set_config('iu_unreg.actor', :'actor', false) AS actor,
       set_config('iu_unreg.reason', :'reason', false) AS reason \gset iu_unreg_arg_
DO $$
DECLARE
  v_live text := lower(current_setting('iu_unreg.live'));
BEGIN
  IF btrim(v_live) = 'true' THEN
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
SELECT :'ops_live'::boolean AS iu_unreg_live \gset

BEGIN;
SELECT set_config('lock_timeout', '5s', true) AS lock_timeout,
       set_config('statement_timeout', '60s', true) AS statement_timeout \gset iu_unreg_tx_
-- no route can be added or changed between the count and the removal
LOCK TABLE route_registry IN SHARE ROW EXCLUSIVE MODE;

SELECT count(*) FILTER (WHERE e.delivery_lane = 'internal') AS iu_unreg_internal_before,
       count(*) FILTER (WHERE e.delivery_lane <> 'internal') AS iu_unreg_other_before
  FROM route_registry r JOIN event_type_registry e ON e.event_type = r.event_type \gset

SELECT :iu_unreg_internal_before = 0 AS iu_unreg_empty \gset
\if :iu_unreg_live
  \if :iu_unreg_empty
    \if :ops_allow_empty
    \else
      SELECT set_config('iu_ops.code', 'IU045', false) AS c,
             set_config('iu_ops.msg', 'unregister_internal_routes refused: no route is keyed to an internal-lane event type; nothing was removed', false) AS m,
             set_config('iu_ops.hint', format('see what is registered with the dry run: psql -X -v ON_ERROR_STOP=1 %s -f sql/ops/event-boundary/unregister_internal_routes.sql (-v allow_empty=true accepts an empty live run)', :'ops_conn'), false) AS h \gset ops_raise_
      \ir ../_lib/raise.sql
    \endif
  \endif
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
