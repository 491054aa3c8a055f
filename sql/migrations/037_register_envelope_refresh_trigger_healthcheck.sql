-- 037: healthcheck surface envelope_lineage_trigger for the 036 trigger:
-- present, enabled, AFTER INSERT FOR EACH ROW, bound to its function and the
-- only trigger calling it; red while the error log holds a fault of the
-- trigger from the last 24 hours. Revert:
-- sql/migrations/down/037_register_envelope_refresh_trigger_healthcheck.down.sql.

CREATE FUNCTION fn_iu_hc_envelope_lineage_trigger() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  c_table    constant text := 'iu_collection_template_instance_lineage';
  c_trigger  constant text := 'trg_iu_lineage_envelope_refresh';
  c_function constant text := 'fn_iu_trg_lineage_envelope_refresh';
  -- pg_trigger.tgtype bits: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32, INSTEAD 64
  c_after_insert_row constant int := 5;
  v_found    record;
  v_others   text;
  v_problems text[] := '{}';
  v_faults   bigint;
  v_latest   record;
  v_gate     text;
BEGIN
  SELECT t.tgenabled AS en, t.tgtype::int AS ttype, p.proname AS fname INTO v_found
    FROM pg_trigger t
    JOIN pg_proc p ON p.oid = t.tgfoid
   WHERE t.tgrelid = to_regclass(format('public.%I', c_table))
     AND t.tgname = c_trigger
     AND NOT t.tgisinternal;
  IF NOT FOUND THEN
    v_problems := v_problems || format('trigger %s on %s missing', c_trigger, c_table);
  ELSE
    IF v_found.en NOT IN ('O', 'A') THEN
      v_problems := v_problems || format('trigger %s on %s not enabled (tgenabled=%s)', c_trigger, c_table, v_found.en);
    END IF;
    IF v_found.fname <> c_function THEN
      v_problems := v_problems || format('trigger %s on %s calls %s, expected %s', c_trigger, c_table, v_found.fname, c_function);
    END IF;
    IF v_found.ttype <> c_after_insert_row THEN
      v_problems := v_problems || format('trigger %s on %s has tgtype %s, expected %s (AFTER INSERT FOR EACH ROW)',
                                         c_trigger, c_table, v_found.ttype, c_after_insert_row);
    END IF;
  END IF;

  -- a second trigger calling the refresh function would refresh twice per instance (a storm)
  SELECT string_agg(format('%s on %s', t.tgname, t.tgrelid::regclass), ', ' ORDER BY t.tgname) INTO v_others
    FROM pg_trigger t
    JOIN pg_proc p ON p.oid = t.tgfoid
   WHERE p.proname = c_function
     AND p.pronamespace = 'public'::regnamespace
     AND NOT t.tgisinternal
     AND NOT (t.tgname = c_trigger AND t.tgrelid = to_regclass(format('public.%I', c_table)));
  IF v_others IS NOT NULL THEN
    v_problems := v_problems || format('other trigger(s) call %s: %s', c_function, v_others);
  END IF;

  SELECT count(*) INTO v_faults
    FROM iu_three_axis_envelope_trigger_error_log e
   WHERE e.source = c_trigger AND e.occurred_at > now() - interval '24 hours';
  IF v_faults > 0 THEN
    SELECT e.occurred_at AS at, e.sqlstate AS state, e.message AS msg INTO v_latest
      FROM iu_three_axis_envelope_trigger_error_log e
     WHERE e.source = c_trigger AND e.occurred_at > now() - interval '24 hours'
     ORDER BY e.occurred_at DESC, e.id
     LIMIT 1;
    v_problems := v_problems || format('%s refresh fault(s) in the last 24 hours, latest %s %s: %s',
                                       v_faults, v_latest.at, coalesce(v_latest.state, '?'), left(v_latest.msg, 200));
  END IF;

  SELECT CASE c.value WHEN 'true'::jsonb THEN 'open' WHEN 'false'::jsonb THEN 'closed' ELSE 'invalid' END INTO v_gate
    FROM iu_core_config c WHERE c.key = 'iu_core.three_axis_auto_refresh_enabled';
  ok := cardinality(v_problems) = 0;
  detail := CASE WHEN ok
    THEN format('%s on %s present, enabled, AFTER INSERT FOR EACH ROW, bound to %s; 0 refresh faults in the last 24 hours; auto-refresh gate %s',
                c_trigger, c_table, c_function, coalesce(v_gate, 'missing'))
    ELSE array_to_string(v_problems, '; ') END;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_envelope_lineage_trigger() IS
  'Healthcheck envelope_lineage_trigger: the 036 trigger exists, is enabled, AFTER INSERT FOR EACH ROW, calls fn_iu_trg_lineage_envelope_refresh (and nothing else does); red while a fault of it from the last 24 hours is logged.';

SELECT fn_iu_healthcheck_register('envelope_lineage_trigger', 'fn_iu_hc_envelope_lineage_trigger', 90, '037',
  'Lineage envelope-refresh trigger (036) present, enabled, AFTER INSERT FOR EACH ROW, bound to its function; red on a logged refresh fault in the last 24 hours.');
