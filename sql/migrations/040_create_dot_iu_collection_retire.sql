-- 040: bulk retire of one actor's template instances.
--
-- dot_iu_collection_retire(actor, dry_run default true) sets lifecycle_state
-- to 'retired' on every instance collection the actor created (an instance is
-- a collection with a lineage row; the actor is the lineage actor, matched
-- exactly). Pieces are never touched, nor other actors' collections. Nothing
-- is deleted. The lifecycle trigger of 024 does the envelope work: each
-- retired instance is marked dirty and, when iu_core.three_axis_auto_refresh_enabled
-- is true, refreshed. To undo a live run, set the same collections back to
-- 'active' (the counts name how many; the lineage actor names which).

CREATE FUNCTION dot_iu_collection_retire(p_actor text, p_dry_run boolean DEFAULT true)
RETURNS TABLE(actor text, dry_run boolean, instances bigint, already_retired bigint, to_retire bigint,
              retired bigint, auto_refresh_gate boolean, envelopes_dirty bigint, envelope_refreshes bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_instances bigint;
  v_already   bigint;
  v_retired   bigint := 0;
  v_gate      boolean;
  v_t0        timestamptz;
  v_refreshes bigint := 0;
  v_ids       uuid[] := '{}';
  v_dirty     bigint := 0;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
  IF p_dry_run IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'collection retire refused: p_dry_run is NULL';
  END IF;
  v_gate := fn_iu_core_gate('iu_core.three_axis_auto_refresh_enabled');

  SELECT count(*), count(*) FILTER (WHERE u.lifecycle_state = 'retired')
    INTO v_instances, v_already
    FROM iu_collection_template_instance_lineage l
    JOIN information_unit u ON u.id = l.instance_collection_id AND u.kind = 'collection'
   WHERE l.actor = p_actor;

  IF NOT p_dry_run THEN
    v_t0 := clock_timestamp();
    WITH done AS (
      UPDATE information_unit u
         SET lifecycle_state = 'retired'
        FROM iu_collection_template_instance_lineage l
       WHERE l.instance_collection_id = u.id
         AND l.actor = p_actor
         AND u.kind = 'collection'
         AND u.lifecycle_state <> 'retired'
      RETURNING u.id
    )
    SELECT coalesce(array_agg(d.id), '{}') INTO v_ids FROM done d;
    v_retired := cardinality(v_ids);
    -- refresh rows the lifecycle trigger wrote for these instances (gate open)
    SELECT count(*) INTO v_refreshes
      FROM iu_three_axis_envelope_refresh_log g
     WHERE g.occurred_at >= v_t0 AND g.refreshed_collections && v_ids;
    SELECT count(*) INTO v_dirty FROM iu_three_axis_envelope_dirty d WHERE d.collection_id = ANY (v_ids);
  END IF;

  actor              := p_actor;
  dry_run            := p_dry_run;
  instances          := v_instances;
  already_retired    := v_already;
  to_retire          := v_instances - v_already;
  retired            := v_retired;
  auto_refresh_gate  := v_gate;
  envelopes_dirty    := v_dirty;
  envelope_refreshes := v_refreshes;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION dot_iu_collection_retire(text, boolean) IS
  'Operator command: retire every instance collection of one actor (lineage actor, exact match); dry run (default) only counts. Never pieces, never other actors; the 024 lifecycle trigger marks envelopes dirty or refreshes them per iu_core.three_axis_auto_refresh_enabled.';
