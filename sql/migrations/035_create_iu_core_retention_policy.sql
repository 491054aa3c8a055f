-- 035: retention policies, their validation trigger, the cleanup function and
-- the gate iu_core.retention_enabled (shipped false).

INSERT INTO iu_core_config (key, value, description) VALUES
  ('iu_core.retention_enabled', 'false'::jsonb,
   'Gate: live fn_iu_core_retention_cleanup is refused unless true (dry runs are always allowed).');

CREATE TABLE iu_core_retention_policy (
  table_name       text PRIMARY KEY,
  timestamp_column text NOT NULL,
  retain           interval NOT NULL CHECK (retain > interval '0'),
  enabled          boolean NOT NULL DEFAULT true,
  description      text,
  registered_in    text
);

COMMENT ON TABLE iu_core_retention_policy IS
  'Retention policies: rows of public.table_name whose timestamp_column is older than now - retain are expired.';

CREATE FUNCTION fn_iu_public_column_type(p_table_name text, p_column text,
                                         OUT table_exists boolean, OUT column_type regtype)
LANGUAGE sql STABLE AS $fn$
  SELECT t.oid IS NOT NULL,
         (SELECT a.atttypid::regtype FROM pg_attribute a
           WHERE a.attrelid = t.oid AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped)
    FROM (SELECT (SELECT c.oid FROM pg_class c
                   WHERE c.relname = p_table_name AND c.relnamespace = 'public'::regnamespace
                     AND c.relkind IN ('r', 'p')) AS oid) t
$fn$;

COMMENT ON FUNCTION fn_iu_public_column_type(text, text) IS
  'Whether table public.<table> exists, and the type of its column (NULL when absent); used to validate policy columns.';

CREATE FUNCTION fn_iu_retention_policy_problem(p_table_name text, p_timestamp_column text) RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_exists boolean;
  v_type   regtype;
BEGIN
  IF p_table_name IS NULL OR p_timestamp_column IS NULL THEN
    RETURN 'table_name and timestamp_column are required';
  END IF;
  SELECT t.table_exists, t.column_type INTO v_exists, v_type
    FROM fn_iu_public_column_type(p_table_name, p_timestamp_column) t;
  IF NOT v_exists THEN
    RETURN format('table public.%I does not exist', p_table_name);
  END IF;
  IF v_type IS NULL THEN
    RETURN format('column %I does not exist on public.%I', p_timestamp_column, p_table_name);
  END IF;
  IF v_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
    RETURN format('column public.%I.%I is %s, not a timestamp', p_table_name, p_timestamp_column, v_type);
  END IF;
  RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION fn_iu_retention_policy_problem(text, text) IS
  'Returns why a retention policy target is invalid (missing table, missing or non-timestamp column), or NULL when valid.';

CREATE FUNCTION fn_iu_trg_retention_policy_validate() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  v_problem text := fn_iu_retention_policy_problem(NEW.table_name, NEW.timestamp_column);
BEGIN
  IF v_problem IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU007',
      MESSAGE = 'retention policy refused: ' || v_problem,
      HINT = 'a policy names an existing public table and one of its timestamp columns';
  END IF;
  RETURN NEW;
END
$fn$;

COMMENT ON FUNCTION fn_iu_trg_retention_policy_validate() IS
  'Trigger function: refuses (IU007) a retention policy whose table or timestamp column does not exist.';

CREATE TRIGGER trg_iu_core_retention_policy_validate
  BEFORE INSERT OR UPDATE ON iu_core_retention_policy
  FOR EACH ROW EXECUTE FUNCTION fn_iu_trg_retention_policy_validate();

COMMENT ON TRIGGER trg_iu_core_retention_policy_validate ON iu_core_retention_policy IS
  'Validates the target table and timestamp column of every retention policy.';

INSERT INTO iu_core_retention_policy (table_name, timestamp_column, retain, enabled, description, registered_in) VALUES
  ('iu_three_axis_envelope_refresh_log',       'occurred_at', interval '90 days',  true, 'Envelope refresh log.',                   '035'),
  ('iu_three_axis_envelope_trigger_error_log', 'occurred_at', interval '30 days',  true, 'Swallowed envelope trigger faults.',      '035'),
  ('iu_auto_instantiate_event_log',            'occurred_at', interval '180 days', true, 'Auto-instantiate audit trail.',           '035'),
  ('event_outbox_delivery_log',                'occurred_at', interval '30 days',  true, 'Outbox delivery log.',                    '035');

CREATE FUNCTION fn_iu_core_retention_cleanup(p_dry_run boolean DEFAULT true, p_now timestamptz DEFAULT now())
RETURNS TABLE(table_name text, horizon timestamptz, expired_rows bigint, deleted_rows bigint, dry_run boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  r       record;
  v_h     timestamptz;
  v_exp   bigint;
  v_del   bigint;
BEGIN
  IF p_dry_run IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'retention cleanup refused: p_dry_run is NULL';
  END IF;
  IF p_now IS NULL OR NOT isfinite(p_now) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'retention cleanup refused: p_now must be a finite timestamp';
  END IF;
  IF NOT p_dry_run AND NOT fn_iu_core_gate('iu_core.retention_enabled') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU002',
      MESSAGE = 'retention cleanup refused: gate iu_core.retention_enabled is false',
      HINT = 'run the dry run first (p_dry_run => true); enabling retention needs explicit authorization';
  END IF;
  FOR r IN
    SELECT p.table_name AS tname, p.timestamp_column AS tcol, p.retain AS keep
      FROM iu_core_retention_policy p
     WHERE p.enabled
     ORDER BY p.table_name
  LOOP
    v_h := p_now - r.keep;
    EXECUTE format('SELECT count(*) FROM public.%I WHERE %I < $1', r.tname, r.tcol) INTO v_exp USING v_h;
    v_del := 0;
    IF NOT p_dry_run THEN
      EXECUTE format('DELETE FROM public.%I WHERE %I < $1', r.tname, r.tcol) USING v_h;
      GET DIAGNOSTICS v_del = ROW_COUNT;
    END IF;
    table_name   := r.tname;
    horizon      := v_h;
    expired_rows := v_exp;
    deleted_rows := v_del;
    dry_run      := p_dry_run;
    RETURN NEXT;
  END LOOP;
END
$fn$;

COMMENT ON FUNCTION fn_iu_core_retention_cleanup(boolean, timestamptz) IS
  'Per enabled policy: rows older than p_now - retain. Dry run (default) counts only; live requires gate iu_core.retention_enabled (else IU002) and deletes.';

CREATE FUNCTION fn_iu_hc_retention_policies() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_total    bigint;
  v_enabled  bigint;
  v_problems text;
BEGIN
  SELECT count(*), count(*) FILTER (WHERE p.enabled) INTO v_total, v_enabled FROM iu_core_retention_policy p;
  SELECT string_agg(format('policy %s: %s', p.table_name, fn_iu_retention_policy_problem(p.table_name, p.timestamp_column)),
                    '; ' ORDER BY p.table_name)
    INTO v_problems
    FROM iu_core_retention_policy p
   WHERE fn_iu_retention_policy_problem(p.table_name, p.timestamp_column) IS NOT NULL;
  ok := v_problems IS NULL;
  detail := CASE WHEN ok
    THEN format('%s retention policies (%s enabled), all tables and timestamp columns present; retention gate %s',
                v_total, v_enabled,
                coalesce((SELECT CASE c.value WHEN 'true'::jsonb THEN 'open' WHEN 'false'::jsonb THEN 'closed' ELSE 'invalid' END
                            FROM iu_core_config c WHERE c.key = 'iu_core.retention_enabled'), 'missing'))
    ELSE v_problems END;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_retention_policies() IS
  'Healthcheck retention_policies: every policy''s table and timestamp column exist; names the broken policy otherwise.';

SELECT fn_iu_healthcheck_register('retention_policies', 'fn_iu_hc_retention_policies', 80, '035',
  'Every retention policy names an existing table and timestamp column.');
