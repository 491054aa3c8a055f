-- 013: delivery worker and the two delivery gates.

INSERT INTO iu_core_config (key, value, description) VALUES
  ('iu_core.delivery_enabled', 'false'::jsonb,
   'Gate: fn_event_outbox_deliver delivers nothing unless true.'),
  ('iu_core.delivery_live_routes', '""'::jsonb,
   'JSON string, comma-separated event types the worker may deliver (live lane + enabled route still required).');

CREATE FUNCTION fn_event_outbox_deliver(p_limit int DEFAULT 100) RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
  v_routes jsonb;
  v_types  text[];
  v_n      int := 0;
  r        record;
BEGIN
  IF p_limit IS NULL OR p_limit < 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('delivery refused: p_limit must be a positive integer (got %s)', coalesce(p_limit::text, 'NULL'));
  END IF;
  IF NOT fn_iu_core_gate('iu_core.delivery_enabled') THEN
    RETURN 0;
  END IF;
  v_routes := fn_iu_core_config_get('iu_core.delivery_live_routes');
  IF jsonb_typeof(v_routes) <> 'string' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('delivery refused: iu_core.delivery_live_routes holds a JSON %s, not a string', jsonb_typeof(v_routes));
  END IF;
  SELECT coalesce(array_agg(s.t), '{}') INTO v_types
    FROM (SELECT btrim(x) AS t FROM unnest(string_to_array(v_routes #>> '{}', ',')) AS x) s
   WHERE s.t <> '';
  IF cardinality(v_types) = 0 THEN
    RETURN 0;
  END IF;
  FOR r IN
    SELECT o.id AS oid, o.event_type AS etype
      FROM event_outbox o
      JOIN event_type_registry e ON e.event_type = o.event_type
     WHERE o.delivered_at IS NULL
       AND e.delivery_lane = 'live'
       AND o.event_type = ANY (v_types)
       AND EXISTS (SELECT 1 FROM route_registry rr WHERE rr.event_type = o.event_type AND rr.enabled)
     ORDER BY o.created_at, o.id
     LIMIT p_limit
     FOR UPDATE OF o SKIP LOCKED
  LOOP
    INSERT INTO event_outbox_delivery_log (outbox_id, event_type, route)
    SELECT r.oid, r.etype, rr.route
      FROM route_registry rr
     WHERE rr.event_type = r.etype AND rr.enabled
     ORDER BY rr.route;
    UPDATE event_outbox o SET delivered_at = clock_timestamp() WHERE o.id = r.oid;
    v_n := v_n + 1;
  END LOOP;
  RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION fn_event_outbox_deliver(int) IS
  'Delivery worker: with iu_core.delivery_enabled, delivers undelivered live-lane events listed in iu_core.delivery_live_routes that have an enabled route (one log row per route); returns events delivered.';
