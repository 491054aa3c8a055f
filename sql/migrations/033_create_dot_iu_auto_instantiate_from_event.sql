-- 033: auto-instantiate orchestrator, its gate (shipped false), its event type
-- (internal lane, no route) and the rollback-by-actor commands.

INSERT INTO iu_core_config (key, value, description) VALUES
  ('iu_core.auto_instantiate_enabled', 'false'::jsonb,
   'Gate: live dot_iu_auto_instantiate_from_event calls are refused unless true (dry runs are always allowed).');

INSERT INTO event_type_registry (event_type, delivery_lane, registered_in, description) VALUES
  ('iu.template.instance_auto_composed', 'internal', '033',
   'A template instance was composed by dot_iu_auto_instantiate_from_event; internal only, no route.');

CREATE FUNCTION dot_iu_auto_instantiate_from_event(
  p_template_code    text,
  p_actor            text,
  p_dry_run          boolean DEFAULT true,
  p_template_version int     DEFAULT NULL,
  p_instance_code    text    DEFAULT NULL)
RETURNS TABLE(instance_id uuid, instance_code text, template_kind text,
              digest_matches_template boolean, dry_run boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  t         iu_collection_template%ROWTYPE;
  v_code    text;
  v_id      uuid;
  v_digest  text;
  v_match   boolean;
  v_lineage uuid;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
  IF p_dry_run IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'auto-instantiate refused: p_dry_run is NULL';
  END IF;
  IF p_template_code IS NULL OR btrim(p_template_code) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'auto-instantiate refused: template code is empty';
  END IF;
  IF p_template_version IS NOT NULL AND p_template_version < 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('auto-instantiate refused: template version must be positive (got %s)', p_template_version);
  END IF;
  IF p_instance_code IS NOT NULL AND btrim(p_instance_code) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'auto-instantiate refused: instance code is empty';
  END IF;

  SELECT ct.* INTO t
    FROM iu_collection_template ct
   WHERE ct.code = p_template_code
     AND (p_template_version IS NULL OR ct.version = p_template_version)
   ORDER BY ct.version DESC
   LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'IU004',
      MESSAGE = format('auto-instantiate refused: unknown template %s%s', p_template_code,
                       CASE WHEN p_template_version IS NULL THEN '' ELSE '@' || p_template_version END),
      HINT = 'list templates with: select code, version, kind from iu_collection_template order by 1, 2';
  END IF;

  IF NOT p_dry_run AND NOT fn_iu_core_gate('iu_core.auto_instantiate_enabled') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU002',
      MESSAGE = 'auto-instantiate refused: gate iu_core.auto_instantiate_enabled is false',
      HINT = 'open the gate inside the same transaction with fn_iu_core_config_set(''iu_core.auto_instantiate_enabled'', ''true'', actor), or run with p_dry_run => true';
  END IF;

  v_code := coalesce(p_instance_code,
                     format('%s-v%s-%s', t.code, t.version, substr(md5(gen_random_uuid()::text), 1, 8)));

  IF p_dry_run THEN
    PERFORM fn_iu_compose_validate(v_code, t.piece_codes);
    v_digest := fn_iu_pieces_digest(t.piece_codes);
    v_match  := v_digest = t.template_digest;
    INSERT INTO iu_auto_instantiate_event_log
      (template_code, template_version, instance_collection_id, instance_code,
       triggered_by, dry_run, digest_matches_template, detail)
    VALUES
      (t.code, t.version, NULL, v_code, p_actor, true, v_match,
       jsonb_build_object('template_kind', t.kind, 'piece_count', cardinality(t.piece_codes),
                          'template_digest', t.template_digest, 'instance_digest', v_digest));
    RETURN QUERY SELECT NULL::uuid, v_code, t.kind, v_match, true;
    RETURN;
  END IF;

  v_id     := fn_iu_compose(v_code, t.piece_codes, p_actor);
  v_digest := fn_iu_membership_digest(v_id);
  v_match  := v_digest = t.template_digest;

  INSERT INTO iu_collection_template_instance_lineage
    (instance_collection_id, template_id, template_code, template_version,
     template_digest, instance_digest, actor)
  VALUES (v_id, t.id, t.code, t.version, t.template_digest, v_digest, p_actor)
  RETURNING id INTO v_lineage;

  INSERT INTO iu_auto_instantiate_event_log
    (template_code, template_version, instance_collection_id, instance_code,
     triggered_by, dry_run, digest_matches_template, detail)
  VALUES
    (t.code, t.version, v_id, v_code, p_actor, false, v_match,
     jsonb_build_object('template_kind', t.kind, 'piece_count', cardinality(t.piece_codes),
                        'template_digest', t.template_digest, 'instance_digest', v_digest,
                        'lineage_id', v_lineage));

  INSERT INTO event_outbox (event_type, aggregate_id, payload)
  VALUES ('iu.template.instance_auto_composed', v_id,
          jsonb_build_object('instance_id', v_id, 'instance_code', v_code,
                             'template_code', t.code, 'template_version', t.version,
                             'actor', p_actor));

  RETURN QUERY SELECT v_id, v_code, t.kind, v_match, false;
END
$fn$;

COMMENT ON FUNCTION dot_iu_auto_instantiate_from_event(text, text, boolean, int, text) IS
  'Operator command: instantiate a template (latest version by default). Dry run writes one audit row; live (gate iu_core.auto_instantiate_enabled) writes collection, memberships, lineage, audit and one outbox event.';

CREATE FUNCTION fn_iu_auto_instantiate_rollback_by_actor(p_actor text, p_dry_run boolean DEFAULT true)
RETURNS TABLE(table_name text, affected_rows bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_ids   uuid[];
  v_env   bigint;
  v_dirty bigint;
  v_mem   bigint;
  v_out   bigint;
  v_aud   bigint;
  v_lin   bigint;
  v_unit  bigint;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
  IF p_dry_run IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'rollback refused: p_dry_run is NULL';
  END IF;

  SELECT coalesce(array_agg(l.instance_collection_id ORDER BY l.instance_collection_id), '{}')
    INTO v_ids
    FROM iu_collection_template_instance_lineage l
   WHERE l.actor = p_actor;

  SELECT count(*) INTO v_env   FROM iu_three_axis_envelope e       WHERE e.collection_id = ANY (v_ids);
  SELECT count(*) INTO v_dirty FROM iu_three_axis_envelope_dirty d WHERE d.collection_id = ANY (v_ids);
  SELECT count(*) INTO v_mem   FROM iu_piece_membership m          WHERE m.collection_id = ANY (v_ids);
  SELECT count(*) INTO v_out   FROM event_outbox o                 WHERE o.aggregate_id = ANY (v_ids);
  SELECT count(*) INTO v_aud   FROM iu_auto_instantiate_event_log a WHERE a.triggered_by = p_actor;
  SELECT count(*) INTO v_lin   FROM iu_collection_template_instance_lineage l WHERE l.actor = p_actor;
  SELECT count(*) INTO v_unit  FROM information_unit u WHERE u.id = ANY (v_ids) AND u.kind = 'collection';

  IF NOT p_dry_run THEN
    DELETE FROM iu_three_axis_envelope e WHERE e.collection_id = ANY (v_ids);
    GET DIAGNOSTICS v_env = ROW_COUNT;
    DELETE FROM iu_piece_membership m WHERE m.collection_id = ANY (v_ids);
    GET DIAGNOSTICS v_mem = ROW_COUNT;
    -- also removes the marks the membership deletes just wrote; the reported
    -- count stays the pre-existing marks, matching the dry run
    DELETE FROM iu_three_axis_envelope_dirty d WHERE d.collection_id = ANY (v_ids);
    DELETE FROM event_outbox o WHERE o.aggregate_id = ANY (v_ids);
    GET DIAGNOSTICS v_out = ROW_COUNT;
    DELETE FROM iu_auto_instantiate_event_log a WHERE a.triggered_by = p_actor;
    GET DIAGNOSTICS v_aud = ROW_COUNT;
    DELETE FROM iu_collection_template_instance_lineage l WHERE l.actor = p_actor;
    GET DIAGNOSTICS v_lin = ROW_COUNT;
    DELETE FROM information_unit u WHERE u.id = ANY (v_ids) AND u.kind = 'collection';
    GET DIAGNOSTICS v_unit = ROW_COUNT;
  END IF;

  RETURN QUERY
  SELECT x.t, x.n FROM (VALUES
    (1, 'iu_three_axis_envelope',                  v_env),
    (2, 'iu_three_axis_envelope_dirty',            v_dirty),
    (3, 'iu_piece_membership',                     v_mem),
    (4, 'event_outbox',                            v_out),
    (5, 'iu_auto_instantiate_event_log',           v_aud),
    (6, 'iu_collection_template_instance_lineage', v_lin),
    (7, 'information_unit',                        v_unit)
  ) AS x(o, t, n)
  ORDER BY x.o;
END
$fn$;

COMMENT ON FUNCTION fn_iu_auto_instantiate_rollback_by_actor(text, boolean) IS
  'Counts (dry run) or deletes (live) exactly one actor''s template instances and their envelope, dirty, membership, outbox, audit and lineage rows; one row per table.';

CREATE FUNCTION dot_iu_auto_instantiate_rollback_by_actor(p_actor text, p_dry_run boolean DEFAULT true)
RETURNS TABLE(table_name text, affected_rows bigint)
LANGUAGE sql AS $fn$
  SELECT r.table_name, r.affected_rows FROM fn_iu_auto_instantiate_rollback_by_actor(p_actor, p_dry_run) AS r
$fn$;

COMMENT ON FUNCTION dot_iu_auto_instantiate_rollback_by_actor(text, boolean) IS
  'Operator command: rollback-by-actor (dry run by default); see fn_iu_auto_instantiate_rollback_by_actor.';
