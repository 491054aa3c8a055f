-- 038: the internal-only event boundary as one definition: the five facts
-- (fn_iu_event_boundary_facts), the assertion the ops proof script runs, the
-- healthcheck surface event_boundary_internal_only (position 100, evaluated on
-- every dot_iu_healthcheck() call), and the rollback path for an accidentally
-- registered route (fn_iu_event_boundary_unregister_internal_routes, recorded
-- in route_registry_removal_log).
--
-- The five facts for an event type (default iu.template.instance_auto_composed):
--   1 registry_row_exists  an event_type_registry row exists
--   2 lane_not_live        its delivery_lane is not 'live'
--   3 no_route             no route_registry row (enabled or not) keys it
--   4 delivery_disabled    iu_core.delivery_enabled is JSON false
--   5 live_routes_empty    iu_core.delivery_live_routes is the JSON string ""
--
-- SQLSTATEs: IU030 bad argument, IU031 boundary broken, IU032 removal left an
-- internal-lane route behind.

CREATE TABLE route_registry_removal_log (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  route_id         uuid NOT NULL,
  event_type       text NOT NULL,
  delivery_lane    text NOT NULL,
  route            text NOT NULL,
  enabled          boolean NOT NULL,
  route_created_at timestamptz NOT NULL,
  route_created_by text NOT NULL,
  removed_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  removed_by       text NOT NULL,
  reason           text NOT NULL
);

CREATE INDEX route_registry_removal_log_removed_at_idx ON route_registry_removal_log (removed_at);

COMMENT ON TABLE route_registry_removal_log IS
  'Routes removed by fn_iu_event_boundary_unregister_internal_routes: the whole route row as it was, who removed it, when and why (enough to re-insert it).';

CREATE FUNCTION fn_iu_event_boundary_facts(p_event_type text DEFAULT 'iu.template.instance_auto_composed')
RETURNS TABLE(fact_no int, fact text, statement text, ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
DECLARE
  v_lane       text;
  v_reg_in     text;
  v_found      boolean;
  v_routes     bigint;
  v_route_list text;
  v_cfg        iu_core_config%ROWTYPE;
  v_listed     text[];
BEGIN
  IF p_event_type IS NULL OR btrim(p_event_type) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU030',
      MESSAGE = 'event boundary refused: event type is empty',
      HINT = 'name one registered event type, e.g. iu.template.instance_auto_composed';
  END IF;

  SELECT e.delivery_lane, e.registered_in INTO v_lane, v_reg_in
    FROM event_type_registry e WHERE e.event_type = p_event_type;
  v_found := FOUND;

  -- 1 registry_row_exists
  fact_no := 1; fact := 'registry_row_exists'; statement := 'an event_type_registry row exists';
  ok := v_found;
  detail := CASE WHEN v_found
                 THEN format('event_type_registry row %s present (lane %s, registered in %s)', p_event_type, v_lane, v_reg_in)
                 ELSE format('no event_type_registry row for %s', p_event_type) END;
  RETURN NEXT;

  -- 2 lane_not_live (nothing to deliver on when the type is not registered: fact 1 reports that)
  fact_no := 2; fact := 'lane_not_live'; statement := 'delivery_lane <> ''live''';
  ok := v_lane IS DISTINCT FROM 'live';
  detail := CASE WHEN NOT v_found THEN format('%s is not registered, so it has no lane', p_event_type)
                 WHEN ok THEN format('delivery_lane of %s = %s', p_event_type, v_lane)
                 ELSE format('event_type_registry.delivery_lane of %s = live (registered in %s)', p_event_type, v_reg_in) END;
  RETURN NEXT;

  -- 3 no_route: any route row keyed to the type, enabled or not
  SELECT count(*),
         string_agg(format('route %s (%s, id %s, created by %s at %s)', x.route,
                           CASE WHEN x.enabled THEN 'enabled' ELSE 'disabled' END,
                           x.id, x.created_by, x.created_at), ', ' ORDER BY x.route, x.id)
    INTO v_routes, v_route_list
    FROM route_registry x WHERE x.event_type = p_event_type;
  fact_no := 3; fact := 'no_route'; statement := 'no route_registry row keys the event type';
  ok := v_routes = 0;
  detail := CASE WHEN ok THEN format('0 route_registry rows keyed to %s', p_event_type)
                 ELSE format('%s route_registry row(s) keyed to %s: %s', v_routes, p_event_type, v_route_list) END;
  RETURN NEXT;

  -- 4 delivery_disabled
  SELECT c.* INTO v_cfg FROM iu_core_config c WHERE c.key = 'iu_core.delivery_enabled';
  fact_no := 4; fact := 'delivery_disabled'; statement := 'iu_core.delivery_enabled is false';
  IF NOT FOUND THEN
    ok := false;
    detail := 'gate iu_core.delivery_enabled is missing from iu_core_config';
  ELSE
    ok := v_cfg.value = 'false'::jsonb;
    detail := CASE WHEN ok THEN 'gate iu_core.delivery_enabled = false'
                   ELSE format('gate iu_core.delivery_enabled = %s (set by %s at %s)',
                               v_cfg.value::text, v_cfg.updated_by, v_cfg.updated_at) END;
  END IF;
  RETURN NEXT;

  -- 5 live_routes_empty
  SELECT c.* INTO v_cfg FROM iu_core_config c WHERE c.key = 'iu_core.delivery_live_routes';
  fact_no := 5; fact := 'live_routes_empty'; statement := 'iu_core.delivery_live_routes is empty';
  IF NOT FOUND THEN
    ok := false;
    detail := 'gate iu_core.delivery_live_routes is missing from iu_core_config';
  ELSE
    ok := v_cfg.value = '""'::jsonb;
    IF ok THEN
      detail := 'gate iu_core.delivery_live_routes = ""';
    ELSE
      IF jsonb_typeof(v_cfg.value) = 'string' THEN
        SELECT coalesce(array_agg(btrim(x)), '{}') INTO v_listed
          FROM unnest(string_to_array(v_cfg.value #>> '{}', ',')) AS x;
      END IF;
      detail := format('gate iu_core.delivery_live_routes = %s (%s; set by %s at %s)', v_cfg.value::text,
                       CASE WHEN p_event_type = ANY (coalesce(v_listed, '{}')) THEN 'lists ' || p_event_type
                            ELSE 'does not list ' || p_event_type END,
                       v_cfg.updated_by, v_cfg.updated_at);
    END IF;
  END IF;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_event_boundary_facts(text) IS
  'The five internal-only boundary facts for an event type, one row each with ok and a detail naming the offending rows or gate values; empty type IU030.';

CREATE FUNCTION fn_iu_event_boundary_violations(p_event_type text DEFAULT 'iu.template.instance_auto_composed')
RETURNS TABLE(fact text, detail text)
LANGUAGE sql STABLE AS $fn$
  SELECT f.fact, f.detail FROM fn_iu_event_boundary_facts(p_event_type) AS f WHERE NOT f.ok ORDER BY f.fact_no
$fn$;

COMMENT ON FUNCTION fn_iu_event_boundary_violations(text) IS
  'The internal-only boundary facts that do not hold for an event type (none when the boundary holds).';

CREATE FUNCTION fn_iu_event_boundary_assert(p_event_type text DEFAULT 'iu.template.instance_auto_composed')
RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_broken text;
  v_n      int;
  v_lines  text;
BEGIN
  SELECT string_agg(format('%s (%s)', f.fact, f.detail), '; ' ORDER BY f.fact_no), count(*),
         string_agg(format('%s. %s: %s', f.fact_no, f.statement, f.detail), E'\n' ORDER BY f.fact_no)
    INTO v_broken, v_n, v_lines
    FROM fn_iu_event_boundary_facts(p_event_type) AS f
   WHERE NOT f.ok;
  IF v_n > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU031',
      MESSAGE = format('internal-only boundary broken for %s: %s of 5 facts fail: %s', p_event_type, v_n, v_broken),
      DETAIL = v_lines,
      HINT = 'routes: sql/ops/event-boundary/unregister_internal_routes.sql; gates: fn_iu_core_config_set inside a transaction (docs/runbook-event-boundary.md)';
  END IF;
  RETURN format('internal-only boundary holds for %s: 5 of 5 facts hold', p_event_type);
END
$fn$;

COMMENT ON FUNCTION fn_iu_event_boundary_assert(text) IS
  'Raises IU031 naming every broken internal-only boundary fact and its offending rows; returns a one-line summary when all five hold.';

-- Healthcheck: the five facts for the orchestrator's event type and for every
-- other internal-lane type, read at call time (no cache, no state kept between
-- calls). A gate opened in an uncommitted transaction elsewhere is invisible
-- here, so the surface cannot flap on a rolled-back toggle.
CREATE FUNCTION fn_iu_hc_event_boundary_internal_only() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_types  text[];
  v_broken text;
BEGIN
  SELECT array_agg(t.event_type ORDER BY t.event_type) INTO v_types
    FROM (SELECT 'iu.template.instance_auto_composed'::text AS event_type
          UNION
          SELECT e.event_type FROM event_type_registry e WHERE e.delivery_lane = 'internal') t;
  SELECT string_agg(format('%s: %s', v.fact, v.detail), '; ' ORDER BY v.first_no, v.detail)
    INTO v_broken
    FROM (SELECT f.fact, f.detail, min(f.fact_no) AS first_no
            FROM unnest(v_types) AS t(event_type)
           CROSS JOIN LATERAL fn_iu_event_boundary_facts(t.event_type) AS f
           WHERE NOT f.ok
           GROUP BY f.fact, f.detail) v;
  ok := v_broken IS NULL;
  IF ok THEN
    detail := format('internal-only boundary holds for %s internal event type(s) (%s): registered, not live, 0 routes, delivery_enabled=false, delivery_live_routes=""',
                     cardinality(v_types), array_to_string(v_types, ', '));
  ELSE
    detail := 'internal-only boundary broken: ' || v_broken;
  END IF;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_event_boundary_internal_only() IS
  'Healthcheck event_boundary_internal_only: the five boundary facts hold for iu.template.instance_auto_composed and every internal-lane event type; red names the offending route rows or gate values.';

SELECT fn_iu_healthcheck_register('event_boundary_internal_only', 'fn_iu_hc_event_boundary_internal_only', 100, '038',
  'Internal-only event boundary: internal event types registered, not live, routeless; delivery gates closed.');

-- Rollback path for an accidentally registered route: removes only routes keyed
-- to internal-lane event types (a live-lane route is never touched) and records
-- each removed row in route_registry_removal_log.
CREATE FUNCTION fn_iu_event_boundary_unregister_internal_routes(
  p_dry_run boolean DEFAULT true,
  p_actor   text    DEFAULT NULL,
  p_reason  text    DEFAULT 'internal-lane event types carry no route')
RETURNS TABLE(route_id uuid, event_type text, delivery_lane text, route text, enabled boolean,
              created_by text, created_at timestamptz, removed boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_left bigint;
BEGIN
  IF p_dry_run IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU030', MESSAGE = 'route unregister refused: p_dry_run is NULL';
  END IF;
  IF p_dry_run THEN
    RETURN QUERY
    SELECT r.id, r.event_type, e.delivery_lane, r.route, r.enabled, r.created_by, r.created_at, false
      FROM route_registry r
      JOIN event_type_registry e ON e.event_type = r.event_type
     WHERE e.delivery_lane = 'internal'
     ORDER BY r.event_type, r.route, r.id;
    RETURN;
  END IF;

  PERFORM fn_iu_assert_actor(p_actor);
  IF p_reason IS NULL OR btrim(p_reason) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU030', MESSAGE = 'route unregister refused: reason is empty';
  END IF;

  RETURN QUERY
  WITH gone AS (
    DELETE FROM route_registry r
     USING event_type_registry e
     WHERE e.event_type = r.event_type
       AND e.delivery_lane = 'internal'
    RETURNING r.id, r.event_type, e.delivery_lane, r.route, r.enabled, r.created_by, r.created_at
  ), logged AS (
    INSERT INTO route_registry_removal_log
      (route_id, event_type, delivery_lane, route, enabled, route_created_at, route_created_by, removed_by, reason)
    SELECT g.id, g.event_type, g.delivery_lane, g.route, g.enabled, g.created_at, g.created_by, p_actor, p_reason
      FROM gone g
    RETURNING route_registry_removal_log.route_id
  )
  SELECT g.id, g.event_type, g.delivery_lane, g.route, g.enabled, g.created_by, g.created_at, true
    FROM gone g
    JOIN logged l ON l.route_id = g.id
   ORDER BY g.event_type, g.route, g.id;

  SELECT count(*) INTO v_left
    FROM route_registry r JOIN event_type_registry e ON e.event_type = r.event_type
   WHERE e.delivery_lane = 'internal';
  IF v_left > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU032',
      MESSAGE = format('route unregister failed: %s internal-lane route(s) remain after removal', v_left);
  END IF;
END
$fn$;

COMMENT ON FUNCTION fn_iu_event_boundary_unregister_internal_routes(boolean, text, text) IS
  'Lists (dry run, default) or removes (live, actor required) every route keyed to an internal-lane event type, logging each removed row in route_registry_removal_log; live-lane routes are never touched.';
