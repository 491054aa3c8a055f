-- 042: bounded scaleout through the orchestrator (package E).
--
-- fn_iu_bounded_scaleout(n, actor, workflow_share, bound, dry_run) runs N calls
-- of dot_iu_auto_instantiate_from_event in the caller's transaction: workflow
-- and file templates mixed (2:1 by default), actor iu-core-<N>x-bulk by
-- default, the gate iu_core.auto_instantiate_enabled opened inside the
-- transaction and its row restored exactly (value, updated_at, updated_by)
-- before returning. Any failure raises, so the whole batch and the gate toggle
-- go with the transaction. One actor addresses one batch: an actor that already
-- has instances or audit rows is refused, so rollback-by-actor removes exactly
-- the batch. Concurrent live batches serialize on the gate row (FOR UPDATE).
-- sql/ops/scaleout/run_bounded_scaleout.sql is the operator wrapper.
--
-- Refusals: IU020 bad N, IU021 bad argument (bound, share, dry run), IU022 the
-- actor already has rows, IU023 the gate is already open, IU024 no
-- instantiable template of a kind the mix needs, IU025 the batch is not what
-- was planned (postcondition); bad actors raise IU003 (fn_iu_assert_actor).

CREATE FUNCTION fn_iu_bounded_scaleout_check(
  p_n              int,
  p_actor          text,
  p_workflow_share numeric,
  p_bound          int,
  p_dry_run        boolean)
RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_actor   text;
  v_lineage bigint;
  v_audit   bigint;
BEGIN
  IF p_bound IS NULL OR p_bound < 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU021',
      MESSAGE = format('scaleout refused: bound must be a positive integer (got %s)', coalesce(p_bound::text, 'NULL'));
  END IF;
  IF p_n IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU020',
      MESSAGE = 'scaleout refused: N is NULL',
      HINT = format('pass a whole number of instances in 1..%s', p_bound);
  END IF;
  IF p_n < 1 OR p_n > p_bound THEN
    RAISE EXCEPTION USING ERRCODE = 'IU020',
      MESSAGE = format('scaleout refused: N=%s is outside 1..%s', p_n, p_bound),
      HINT = CASE WHEN p_n > p_bound
                  THEN format('a batch above %s instances needs the bound raised explicitly (p_bound, psql -v bound=)', p_bound)
                  ELSE 'N counts instances; it is at least 1' END;
  END IF;
  IF p_workflow_share IS NULL OR p_workflow_share < 0 OR p_workflow_share > 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU021',
      MESSAGE = format('scaleout refused: workflow share must be in 0..1 (got %s)', coalesce(p_workflow_share::text, 'NULL')),
      HINT = 'the share of workflow instances; 2/3 (2 workflow : 1 file) by default';
  END IF;
  IF p_dry_run IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU021', MESSAGE = 'scaleout refused: dry_run is NULL';
  END IF;

  v_actor := coalesce(p_actor, format('iu-core-%sx-bulk', p_n));
  PERFORM fn_iu_assert_actor(v_actor);

  SELECT count(*) INTO v_lineage FROM iu_collection_template_instance_lineage l WHERE l.actor = v_actor;
  SELECT count(*) INTO v_audit FROM iu_auto_instantiate_event_log a WHERE a.triggered_by = v_actor;
  IF v_lineage > 0 OR v_audit > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU022',
      MESSAGE = format('scaleout refused: actor %L already has %s instance(s) and %s audit row(s)',
                       left(v_actor, 60), v_lineage, v_audit),
      HINT = 'one actor addresses one batch: choose another actor, or remove the old batch with dot_iu_auto_instantiate_rollback_by_actor(actor, true) then (actor, false)';
  END IF;

  IF fn_iu_core_gate('iu_core.auto_instantiate_enabled') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU023',
      MESSAGE = 'scaleout refused: gate iu_core.auto_instantiate_enabled is already open',
      HINT = 'the batch opens and closes the gate inside its own transaction; close the gate (or let the other run finish) first';
  END IF;
  RETURN v_actor;
END
$fn$;

COMMENT ON FUNCTION fn_iu_bounded_scaleout_check(int, text, numeric, int, boolean) IS
  'Validates a bounded scaleout and returns the resolved actor (default iu-core-<N>x-bulk): N in 1..bound (IU020), bound/share/dry run (IU021), actor (IU003), actor without rows (IU022), gate closed (IU023). Writes nothing.';

CREATE FUNCTION fn_iu_bounded_scaleout_templates()
RETURNS TABLE(kind text, rn int, cnt int, code text, version int, piece_count int)
LANGUAGE sql STABLE AS $fn$
  SELECT t.kind,
         (row_number() OVER (PARTITION BY t.kind ORDER BY t.code, t.version))::int,
         (count(*) OVER (PARTITION BY t.kind))::int,
         t.code, t.version, cardinality(t.piece_codes)
    FROM iu_collection_template t
   WHERE NOT EXISTS (SELECT 1
                       FROM unnest(t.piece_codes) AS pc(code)
                       LEFT JOIN information_unit u ON u.code = pc.code
                      WHERE u.id IS NULL OR u.kind <> 'piece' OR u.lifecycle_state <> 'active')
$fn$;

COMMENT ON FUNCTION fn_iu_bounded_scaleout_templates() IS
  'Instantiable templates (every piece exists, is a piece and is active) per kind, numbered rn 1..cnt in code, version order; the pool a bounded scaleout cycles through.';

CREATE FUNCTION fn_iu_bounded_scaleout_plan(p_n int, p_workflow_share numeric DEFAULT 2 / 3.0)
RETURNS TABLE(ordinal int, template_code text, template_version int, template_kind text, piece_count int)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
DECLARE
  v_wf      int;
  v_have_wf bigint;
  v_have_fi bigint;
BEGIN
  IF p_n IS NULL OR p_n < 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU020',
      MESSAGE = format('scaleout plan refused: N must be at least 1 (got %s)', coalesce(p_n::text, 'NULL'));
  END IF;
  IF p_workflow_share IS NULL OR p_workflow_share < 0 OR p_workflow_share > 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU021',
      MESSAGE = format('scaleout plan refused: workflow share must be in 0..1 (got %s)', coalesce(p_workflow_share::text, 'NULL'));
  END IF;

  -- workflow instances: round(N * share); a mixed share keeps both kinds once N >= 2
  v_wf := round(p_n * p_workflow_share)::int;
  IF p_workflow_share > 0 AND p_workflow_share < 1 AND p_n >= 2 THEN
    v_wf := greatest(1, least(p_n - 1, v_wf));
  END IF;

  SELECT count(*) FILTER (WHERE x.kind = 'workflow'), count(*) FILTER (WHERE x.kind = 'file')
    INTO v_have_wf, v_have_fi
    FROM fn_iu_bounded_scaleout_templates() AS x;
  IF v_wf > 0 AND v_have_wf = 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU024',
      MESSAGE = format('scaleout refused: %s workflow instance(s) planned but no workflow template is instantiable', v_wf),
      HINT = 'a template is instantiable when all its pieces exist and are active; or pass workflow share 0';
  END IF;
  IF p_n - v_wf > 0 AND v_have_fi = 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU024',
      MESSAGE = format('scaleout refused: %s file instance(s) planned but no file template is instantiable', p_n - v_wf),
      HINT = 'a template is instantiable when all its pieces exist and are active; or pass workflow share 1';
  END IF;

  -- slot k is a workflow slot when ceil(k*wf/N) steps up (kinds interleave
  -- evenly, a workflow first); each kind cycles through its templates in (code, version) order
  RETURN QUERY
  SELECT s.k, x.code, x.version, x.kind, x.piece_count
    FROM (SELECT g.k,
                 (g.k::bigint * v_wf + p_n - 1) / p_n > ((g.k - 1)::bigint * v_wf + p_n - 1) / p_n AS is_wf,
                 ((g.k::bigint * v_wf + p_n - 1) / p_n)::int AS wf_so_far
            FROM generate_series(1, p_n) AS g(k)) s
    JOIN fn_iu_bounded_scaleout_templates() AS x
      ON x.kind = CASE WHEN s.is_wf THEN 'workflow' ELSE 'file' END
     AND x.rn = ((CASE WHEN s.is_wf THEN s.wf_so_far ELSE s.k - s.wf_so_far END) - 1) % x.cnt + 1
   ORDER BY s.k;
END
$fn$;

COMMENT ON FUNCTION fn_iu_bounded_scaleout_plan(int, numeric) IS
  'The deterministic plan of a bounded scaleout: slot 1..N, its template code@version, kind and piece count; round(N*share) workflow slots (both kinds once N >= 2 with a mixed share) evenly interleaved (a workflow first), each kind cycling through its instantiable templates in code, version order.';

CREATE FUNCTION fn_iu_bounded_scaleout_assert(p_actor text, p_n int, p_dry_run boolean) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_lineage  bigint;
  v_audit    bigint;
  v_matched  bigint;
  v_other    bigint;
  v_problems text[] := '{}';
  v_expect   bigint := CASE WHEN p_dry_run THEN 0 ELSE p_n END;
BEGIN
  SELECT count(*) INTO v_lineage FROM iu_collection_template_instance_lineage l WHERE l.actor = p_actor;
  SELECT count(*) FILTER (WHERE a.dry_run = p_dry_run),
         count(*) FILTER (WHERE a.dry_run = p_dry_run AND a.digest_matches_template),
         count(*) FILTER (WHERE a.dry_run IS DISTINCT FROM p_dry_run)
    INTO v_audit, v_matched, v_other
    FROM iu_auto_instantiate_event_log a WHERE a.triggered_by = p_actor;
  IF v_lineage <> v_expect THEN
    v_problems := v_problems || format('%s lineage rows, expected %s', v_lineage, v_expect);
  END IF;
  IF v_audit <> p_n OR v_other <> 0 THEN
    v_problems := v_problems || format('%s %s audit rows (and %s others), expected %s',
                                       v_audit, CASE WHEN p_dry_run THEN 'dry-run' ELSE 'live' END, v_other, p_n);
  END IF;
  IF v_matched <> v_audit THEN
    v_problems := v_problems || format('%s of %s instances do not match their template digest', v_audit - v_matched, v_audit);
  END IF;
  IF fn_iu_core_gate('iu_core.auto_instantiate_enabled') THEN
    v_problems := v_problems || 'gate iu_core.auto_instantiate_enabled is still open'::text;
  END IF;
  IF cardinality(v_problems) > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU025',
      MESSAGE = format('scaleout aborted: batch of actor %L is not as planned: %s', left(p_actor, 60),
                       array_to_string(v_problems, '; ')),
      HINT = 'nothing of the batch is kept: the whole transaction is rolled back';
  END IF;
END
$fn$;

COMMENT ON FUNCTION fn_iu_bounded_scaleout_assert(text, int, boolean) IS
  'Postcondition of a bounded scaleout: exactly N audit rows (and N lineage rows when live) for the actor, all digest-matched, gate closed; raises IU025 otherwise.';

CREATE FUNCTION fn_iu_bounded_scaleout_replan() RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
  v_table text;
  v_n     int := 0;
BEGIN
  -- the tables a batch grows, where this role may analyze them (owner or superuser)
  FOR v_table IN
    SELECT c.relname
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace
       AND c.relname IN ('information_unit', 'iu_piece_membership', 'iu_three_axis_envelope_dirty',
                         'iu_collection_template_instance_lineage', 'iu_auto_instantiate_event_log', 'event_outbox')
       AND (pg_has_role(c.relowner, 'USAGE')
            OR EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = current_user AND r.rolsuper))
     ORDER BY c.relname
  LOOP
    EXECUTE format('ANALYZE public.%I', v_table);
    v_n := v_n + 1;
  END LOOP;
  -- plans cached for this session (SQL-function bodies kept for the whole
  -- transaction among them) are re-planned on next use, against the new sizes
  DISCARD PLANS;
  RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION fn_iu_bounded_scaleout_replan() IS
  'Refreshes planner statistics of the tables a bounded scaleout grows (those this role may analyze) and discards the session''s cached plans, so plans made for the tiny pre-batch tables are re-planned as a large batch grows them in one transaction; returns how many tables were analyzed.';

CREATE FUNCTION fn_iu_bounded_scaleout(
  p_n              int,
  p_actor          text    DEFAULT NULL,
  p_workflow_share numeric DEFAULT 2 / 3.0,
  p_bound          int     DEFAULT 40,
  p_dry_run        boolean DEFAULT false)
RETURNS TABLE(ordinal int, instance_id uuid, instance_code text, template_code text, template_version int,
              template_kind text, digest_matches_template boolean, dry_run boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_actor  text;
  v_gate   iu_core_config%ROWTYPE;
  v_prefix text;
  v_width  int;
  r        record;
  x        record;
BEGIN
  v_actor  := fn_iu_bounded_scaleout_check(p_n, p_actor, p_workflow_share, p_bound, p_dry_run);
  -- instance codes are deterministic per (actor, slot): a re-run after a
  -- rollback-by-actor recreates the same ids
  v_prefix := 'SCALE-' || substr(md5(v_actor), 1, 12);
  v_width  := greatest(4, length(p_n::text));

  IF NOT p_dry_run THEN
    SELECT c.* INTO v_gate FROM iu_core_config c WHERE c.key = 'iu_core.auto_instantiate_enabled' FOR UPDATE;
    PERFORM fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, v_actor);
  END IF;

  FOR r IN SELECT p.* FROM fn_iu_bounded_scaleout_plan(p_n, p_workflow_share) AS p ORDER BY p.ordinal LOOP
    SELECT o.* INTO x
      FROM dot_iu_auto_instantiate_from_event(
             r.template_code, v_actor, p_dry_run, r.template_version,
             format('%s-%s-%s-v%s', v_prefix, lpad(r.ordinal::text, v_width, '0'), r.template_code, r.template_version)) AS o;
    ordinal                 := r.ordinal;
    instance_id             := x.instance_id;
    instance_code           := x.instance_code;
    template_code           := r.template_code;
    template_version        := r.template_version;
    template_kind           := x.template_kind;
    digest_matches_template := x.digest_matches_template;
    dry_run                 := x.dry_run;
    RETURN NEXT;
    -- large batches: re-plan as the tables grow (at 256, 512, 1024, … instances);
    -- plans cached for the tiny pre-batch tables would scan, making N^2 work
    IF r.ordinal >= 256 AND (r.ordinal & (r.ordinal - 1)) = 0 THEN
      PERFORM fn_iu_bounded_scaleout_replan();
    END IF;
  END LOOP;

  IF NOT p_dry_run THEN
    -- restore the gate row exactly as it was: closed, and no trace of the toggle
    UPDATE iu_core_config c
       SET value = v_gate.value, updated_at = v_gate.updated_at, updated_by = v_gate.updated_by
     WHERE c.key = v_gate.key;
  END IF;

  PERFORM fn_iu_bounded_scaleout_assert(v_actor, p_n, p_dry_run);
  RETURN;
END
$fn$;

COMMENT ON FUNCTION fn_iu_bounded_scaleout(int, text, numeric, int, boolean) IS
  'Bounded scaleout: N (1..bound, bound 40 unless raised) dot_iu_auto_instantiate_from_event calls in the caller''s transaction, workflow/file mixed by share (2/3), actor iu-core-<N>x-bulk by default, gate opened and its row restored inside; returns one row per instance; any failure raises and keeps nothing.';

CREATE FUNCTION fn_iu_bounded_scaleout_args(
  p_n              text,
  p_actor          text,
  p_workflow_share text,
  p_bound          text,
  p_dry_run        text)
RETURNS TABLE(n int, actor text, workflow_share numeric, bound int, dry_run text)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
DECLARE
  v_n     text := btrim(coalesce(p_n, ''));
  v_share text := btrim(coalesce(p_workflow_share, ''));
  v_bound text := btrim(coalesce(p_bound, ''));
  v_dry   text := lower(btrim(coalesce(p_dry_run, '')));
  v_parts text[];
BEGIN
  IF v_n = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU020',
      MESSAGE = 'scaleout refused: N is required',
      HINT = 'psql -X -v ON_ERROR_STOP=1 -v n=30 -f sql/ops/scaleout/run_bounded_scaleout.sql';
  END IF;
  IF v_n !~ '^[0-9]{1,9}$' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU020',
      MESSAGE = format('scaleout refused: N must be a whole number, got %L', left(p_n, 60));
  END IF;
  n := v_n::int;

  IF v_bound = '' THEN
    bound := 40;
  ELSIF v_bound ~ '^[0-9]{1,9}$' THEN
    bound := v_bound::int;
  ELSE
    RAISE EXCEPTION USING ERRCODE = 'IU021',
      MESSAGE = format('scaleout refused: bound must be a whole number, got %L', left(p_bound, 60));
  END IF;

  IF v_share = '' THEN
    workflow_share := 2 / 3.0;
  ELSIF v_share ~ '^[0-9]{1,6}:[0-9]{1,6}$' THEN
    v_parts := string_to_array(v_share, ':');
    IF v_parts[1]::int + v_parts[2]::int = 0 THEN
      RAISE EXCEPTION USING ERRCODE = 'IU021', MESSAGE = 'scaleout refused: workflow share 0:0 names no instances';
    END IF;
    workflow_share := v_parts[1]::numeric / (v_parts[1]::int + v_parts[2]::int);
  ELSIF v_share ~ '^([0-9]+(\.[0-9]*)?|\.[0-9]+)$' THEN
    workflow_share := v_share::numeric;
  ELSE
    RAISE EXCEPTION USING ERRCODE = 'IU021',
      MESSAGE = format('scaleout refused: workflow share must be a fraction in 0..1 or a ratio w:f, got %L', left(p_workflow_share, 60));
  END IF;

  IF v_dry IN ('', 'false', 'f', 'no', 'n', 'off', '0') THEN
    dry_run := 'false';
  ELSIF v_dry IN ('true', 't', 'yes', 'y', 'on', '1') THEN
    dry_run := 'true';
  ELSE
    RAISE EXCEPTION USING ERRCODE = 'IU021',
      MESSAGE = format('scaleout refused: dry_run must be true or false, got %L', left(p_dry_run, 60));
  END IF;

  actor := fn_iu_bounded_scaleout_check(n, p_actor, workflow_share, bound, dry_run::boolean);
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_bounded_scaleout_args(text, text, text, text, text) IS
  'Parses and validates the text arguments of run_bounded_scaleout.sql (N, actor or NULL for the default, workflow share as 0..1 or w:f, bound, dry run); returns them typed or raises (IU020/IU021/IU003/IU022/IU023). Writes nothing.';
