-- 039: actor_column on iu_core_retention_policy, validated at registration,
-- and actor-scoped pruning through the central cleanup.
--
-- A policy may name the column of its table that holds the actor
-- (iu_auto_instantiate_event_log.triggered_by). A name that is not an existing
-- text column of the policy's table is refused when the policy row is inserted
-- or updated (IU050), never discovered at cleanup time.
--
-- fn_iu_core_retention_cleanup(boolean, timestamptz) from 035 is kept as it is,
-- so every existing call (0, 1 or 2 arguments, positional or named) resolves
-- to it unchanged. Actor-scoped pruning is the 3-argument overload
-- fn_iu_core_retention_cleanup(p_dry_run, p_now, p_actor): all three arguments
-- are required (no defaults), which keeps every shorter call unambiguous.

ALTER TABLE iu_core_retention_policy ADD COLUMN actor_column text;

COMMENT ON COLUMN iu_core_retention_policy.actor_column IS
  'Text column of table_name that holds the actor (NULL: the table has none); used by actor-scoped fn_iu_core_retention_cleanup(p_dry_run, p_now, p_actor).';

CREATE FUNCTION fn_iu_retention_policy_actor_column_problem(p_table_name text, p_actor_column text) RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_exists boolean;
  v_type   regtype;
BEGIN
  IF p_actor_column IS NULL THEN
    RETURN NULL;  -- no actor column: actor-scoped cleanup skips the table
  END IF;
  IF btrim(p_actor_column) = '' THEN
    RETURN format('actor column of public.%I is empty (use NULL for a table without one)', p_table_name);
  END IF;
  SELECT t.table_exists, t.column_type INTO v_exists, v_type
    FROM fn_iu_public_column_type(p_table_name, p_actor_column) t;
  IF NOT v_exists THEN
    RETURN format('table public.%I does not exist', p_table_name);
  END IF;
  IF v_type IS NULL THEN
    RETURN format('actor column %I does not exist on public.%I', p_actor_column, p_table_name);
  END IF;
  IF v_type NOT IN ('text'::regtype, 'character varying'::regtype) THEN
    RETURN format('actor column public.%I.%I is %s, not text', p_table_name, p_actor_column, v_type);
  END IF;
  RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION fn_iu_retention_policy_actor_column_problem(text, text) IS
  'Returns why a policy''s actor column is invalid (empty name, missing table or column, not text), or NULL when valid or absent.';

CREATE FUNCTION fn_iu_trg_retention_policy_validate_actor_column() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  v_problem text := fn_iu_retention_policy_actor_column_problem(NEW.table_name, NEW.actor_column);
BEGIN
  IF v_problem IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU050',
      MESSAGE = 'retention policy refused: ' || v_problem,
      HINT = 'actor_column names an existing text column of the policy''s table, or is NULL';
  END IF;
  RETURN NEW;
END
$fn$;

COMMENT ON FUNCTION fn_iu_trg_retention_policy_validate_actor_column() IS
  'Trigger function: refuses (IU050) a retention policy whose actor_column is not an existing text column of its table.';

CREATE TRIGGER trg_iu_core_retention_policy_validate_actor_column
  BEFORE INSERT OR UPDATE ON iu_core_retention_policy
  FOR EACH ROW EXECUTE FUNCTION fn_iu_trg_retention_policy_validate_actor_column();

COMMENT ON TRIGGER trg_iu_core_retention_policy_validate_actor_column ON iu_core_retention_policy IS
  'Validates the actor column of every retention policy at registration (insert or update).';

DO $mig$
BEGIN
  UPDATE iu_core_retention_policy p
     SET actor_column = 'triggered_by'
   WHERE p.table_name = 'iu_auto_instantiate_event_log';
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'IU050',
      MESSAGE = '039 refused: no retention policy for iu_auto_instantiate_event_log (registered by 035)';
  END IF;
END
$mig$;

CREATE FUNCTION fn_iu_core_retention_cleanup(p_dry_run boolean, p_now timestamptz, p_actor text)
RETURNS TABLE(table_name text, horizon timestamptz, actor_column text, expired_rows bigint, deleted_rows bigint,
              dry_run boolean, skipped boolean, skip_reason text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  r       record;
  v_h     timestamptz;
  v_exp   bigint;
  v_del   bigint;
  v_prob  text;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
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
  -- a column dropped or renamed after registration is named before anything is deleted
  SELECT string_agg(format('policy %s: %s', p.table_name,
                           fn_iu_retention_policy_actor_column_problem(p.table_name, p.actor_column)), '; '
                    ORDER BY p.table_name)
    INTO v_prob
    FROM iu_core_retention_policy p
   WHERE p.enabled
     AND fn_iu_retention_policy_actor_column_problem(p.table_name, p.actor_column) IS NOT NULL;
  IF v_prob IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU051',
      MESSAGE = 'retention cleanup refused: actor column no longer valid: ' || v_prob,
      HINT = 'fix the policy (UPDATE iu_core_retention_policy SET actor_column = ...) or the table';
  END IF;
  FOR r IN
    SELECT p.table_name AS tname, p.timestamp_column AS tcol, p.actor_column AS acol, p.retain AS keep
      FROM iu_core_retention_policy p
     WHERE p.enabled
     ORDER BY p.table_name
  LOOP
    v_h := p_now - r.keep;
    table_name   := r.tname;
    horizon      := v_h;
    actor_column := r.acol;
    dry_run      := p_dry_run;
    IF r.acol IS NULL THEN
      expired_rows := NULL;
      deleted_rows := 0;
      skipped      := true;
      skip_reason  := format('public.%I has no actor column', r.tname);
      RETURN NEXT;
      CONTINUE;
    END IF;
    EXECUTE format('SELECT count(*) FROM public.%I WHERE %I < $1 AND %I = $2', r.tname, r.tcol, r.acol)
      INTO v_exp USING v_h, p_actor;
    v_del := 0;
    IF NOT p_dry_run THEN
      EXECUTE format('DELETE FROM public.%I WHERE %I < $1 AND %I = $2', r.tname, r.tcol, r.acol)
        USING v_h, p_actor;
      GET DIAGNOSTICS v_del = ROW_COUNT;
    END IF;
    expired_rows := v_exp;
    deleted_rows := v_del;
    skipped      := false;
    skip_reason  := NULL;
    RETURN NEXT;
  END LOOP;
END
$fn$;

COMMENT ON FUNCTION fn_iu_core_retention_cleanup(boolean, timestamptz, text) IS
  'Actor-scoped retention: per enabled policy with an actor column, that actor''s rows older than p_now - retain (dry run counts, live deletes with gate iu_core.retention_enabled, else IU002); policies without an actor column are reported skipped.';
