-- 003: configuration and gates. Gate rows are inserted by the migration that
-- introduces the behaviour they gate (013, 024, 033, 035); this migration
-- ships the table, the accessors and the config_gates healthcheck surface.

CREATE TABLE iu_core_config (
  key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]*\.[a-z0-9_.]+$'),
  value       jsonb NOT NULL,
  description text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL DEFAULT current_user
);

COMMENT ON TABLE iu_core_config IS
  'IU core configuration and gates (iu_core.* keys); change values only through fn_iu_core_config_set, inside a transaction.';

CREATE FUNCTION fn_iu_core_config_get(p_key text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_value jsonb;
BEGIN
  SELECT c.value INTO v_value FROM iu_core_config c WHERE c.key = p_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'IU001',
      MESSAGE = format('config refused: unknown config key %s', coalesce(quote_literal(p_key), 'NULL')),
      HINT = 'known keys: ' || coalesce((SELECT string_agg(c.key, ', ' ORDER BY c.key) FROM iu_core_config c), 'none');
  END IF;
  RETURN v_value;
END
$fn$;

COMMENT ON FUNCTION fn_iu_core_config_get(text) IS
  'Returns the JSON value of a config key; an unknown key raises IU001 (never a silent NULL or false).';

CREATE FUNCTION fn_iu_core_gate(p_key text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_value jsonb := fn_iu_core_config_get(p_key);
BEGIN
  IF jsonb_typeof(v_value) <> 'boolean' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('config refused: gate %s holds a JSON %s, not a boolean', p_key, jsonb_typeof(v_value)),
      HINT = 'gates hold JSON true or false';
  END IF;
  RETURN v_value::boolean;
END
$fn$;

COMMENT ON FUNCTION fn_iu_core_gate(text) IS
  'Returns a gate as boolean; raises IU001 for an unknown key and IU006 when the value is not a JSON boolean.';

CREATE FUNCTION fn_iu_core_config_set(p_key text, p_value jsonb, p_actor text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_old jsonb;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
  SELECT c.value INTO v_old FROM iu_core_config c WHERE c.key = p_key FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'IU001',
      MESSAGE = format('config refused: unknown config key %s', coalesce(quote_literal(p_key), 'NULL')),
      HINT = 'known keys: ' || coalesce((SELECT string_agg(c.key, ', ' ORDER BY c.key) FROM iu_core_config c), 'none');
  END IF;
  IF p_value IS NULL OR jsonb_typeof(p_value) = 'null' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('config refused: value for %s is NULL', p_key);
  END IF;
  IF jsonb_typeof(p_value) <> jsonb_typeof(v_old) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('config refused: %s holds a JSON %s, got a JSON %s', p_key, jsonb_typeof(v_old), jsonb_typeof(p_value)),
      HINT = 'a key keeps its JSON type; gates take true or false';
  END IF;
  UPDATE iu_core_config c
     SET value = p_value, updated_at = now(), updated_by = p_actor
   WHERE c.key = p_key;
END
$fn$;

COMMENT ON FUNCTION fn_iu_core_config_set(text, jsonb, text) IS
  'Sets an existing config key to a value of the same JSON type, recording the actor; unknown key IU001, bad value IU006, bad actor IU003.';

-- Healthcheck surface: each shipped gate key is expected once the function it
-- governs exists, so the surface is green at every migration head.
CREATE FUNCTION fn_iu_hc_config_gates() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  r          record;
  v_value    jsonb;
  v_checked  int := 0;
  v_problems text[] := '{}';
  v_open     text[] := '{}';
BEGIN
  FOR r IN
    SELECT g.gkey, g.gtype, g.governs
      FROM (VALUES
        ('iu_core.three_axis_auto_refresh_enabled', 'boolean', 'fn_iu_three_axis_envelope_refresh_if_stale'),
        ('iu_core.auto_instantiate_enabled',        'boolean', 'dot_iu_auto_instantiate_from_event'),
        ('iu_core.delivery_enabled',                'boolean', 'fn_event_outbox_deliver'),
        ('iu_core.delivery_live_routes',            'string',  'fn_event_outbox_deliver'),
        ('iu_core.retention_enabled',               'boolean', 'fn_iu_core_retention_cleanup')
      ) AS g(gkey, gtype, governs)
     ORDER BY g.gkey
  LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_proc p
                               WHERE p.proname = r.governs
                                 AND p.pronamespace = 'public'::regnamespace);
    v_checked := v_checked + 1;
    SELECT c.value INTO v_value FROM iu_core_config c WHERE c.key = r.gkey;
    IF NOT FOUND THEN
      v_problems := v_problems || format('%s missing', r.gkey);
    ELSIF jsonb_typeof(v_value) <> r.gtype THEN
      v_problems := v_problems || format('%s is a JSON %s, expected %s', r.gkey, jsonb_typeof(v_value), r.gtype);
    ELSIF (r.gtype = 'boolean' AND v_value = 'true'::jsonb)
       OR (r.gtype = 'string' AND v_value <> '""'::jsonb) THEN
      v_open := v_open || format('%s=%s', r.gkey, v_value::text);
    END IF;
  END LOOP;
  -- any other *_enabled key must be a boolean too
  SELECT v_problems || coalesce(array_agg(format('%s is a JSON %s, expected boolean', c.key, jsonb_typeof(c.value)) ORDER BY c.key), '{}')
    INTO v_problems
    FROM iu_core_config c
   WHERE c.key LIKE 'iu\_core.%\_enabled' AND jsonb_typeof(c.value) <> 'boolean'
     AND c.key NOT IN ('iu_core.three_axis_auto_refresh_enabled', 'iu_core.auto_instantiate_enabled',
                       'iu_core.delivery_enabled', 'iu_core.retention_enabled');
  ok := cardinality(v_problems) = 0;
  IF ok THEN
    detail := format('%s gate keys present with expected JSON types; open: %s',
                     v_checked, coalesce(nullif(array_to_string(v_open, ', '), ''), 'none'));
  ELSE
    detail := 'bad gate keys: ' || array_to_string(v_problems, '; ');
  END IF;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_config_gates() IS
  'Healthcheck config_gates: every shipped gate key whose governed function exists is present with its JSON type; lists open gates.';

SELECT fn_iu_healthcheck_register('config_gates', 'fn_iu_hc_config_gates', 10, '003',
  'Shipped gate keys present with the right JSON types (boolean gates, string live-routes list).');
