-- Envelope auto-refresh probe (migration 036): does one auto-composed instance
-- refresh the envelope cache through trg_iu_lineage_envelope_refresh?
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/ops/envelope-refresh/probe.sql \
--               [-v template=WF-ONBOARD] [-v actor=iu-core-envelope-probe]
--          template: a template code in iu_collection_template (default: the first by code);
--                    the orchestrator takes its latest version
--          actor:    the actor recorded on the probe's rows (default iu-core-envelope-probe)
-- changes: nothing. In one transaction it opens iu_core.three_axis_auto_refresh_enabled and
--          iu_core.auto_instantiate_enabled, runs one live dot_iu_auto_instantiate_from_event,
--          checks the refresh log grew by exactly one row with reason iu_auto_instantiate_trigger
--          covering the new instance, whose cached envelope equals its recomputation, then
--          ROLLBACK; afterwards it checks the refresh-log row count and both gates are back.
-- exit:    0 every step as expected; 3 a step differed or a variable is bad (the message names
--          it, SQLSTATE IU010 for a failed step, IU011 for a bad variable); nothing is written.
-- undo:    nothing to undo (the probe always rolls back).
-- Variables other than template and actor are refused (IU043); no -v live: it never commits.

\set ops_script envelope-refresh/probe.sql
\set ops_accepts 'template actor'
\set ops_needs 'public.fn_iu_trg_lineage_envelope_refresh()'
\set ops_needs_migration 036_create_trg_iu_lineage_envelope_refresh
\ir ../_lib/preamble.sql

\if :{?template}
\else
  \set template ''
\endif
\if :{?actor}
\else
  \set actor 'iu-core-envelope-probe'
\endif

-- Before: read outside any transaction (the accessor raises IU001 on a missing gate key).
SELECT count(*) AS before_refresh_rows FROM iu_three_axis_envelope_refresh_log \gset
SELECT fn_iu_core_config_get('iu_core.three_axis_auto_refresh_enabled')::text AS before_refresh_gate,
       fn_iu_core_config_get('iu_core.auto_instantiate_enabled')::text AS before_instantiate_gate \gset

BEGIN;

-- Inputs reach PL/pgSQL as transaction-local settings (psql does not
-- interpolate inside dollar quotes); they vanish with the ROLLBACK.
SELECT set_config('iu_probe.template', :'template', true) AS t,
       set_config('iu_probe.actor', :'actor', true) AS a,
       set_config('iu_probe.before_refresh_rows', :'before_refresh_rows', true) AS r \gset probe_input_

DO $probe$
DECLARE
  v_template text := current_setting('iu_probe.template');
  v_actor    text := current_setting('iu_probe.actor');
BEGIN
  BEGIN
    PERFORM fn_iu_assert_actor(v_actor);
  EXCEPTION WHEN sqlstate 'IU003' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU011', MESSAGE = format('envelope probe refused: -v actor: %s', SQLERRM);
  END;
  IF v_template = '' THEN
    SELECT t.code INTO v_template FROM iu_collection_template t ORDER BY t.code, t.version LIMIT 1;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'IU011',
        MESSAGE = 'envelope probe refused: no template in iu_collection_template to instantiate (pass -v template=CODE)';
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM iu_collection_template t WHERE t.code = v_template) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU011',
      MESSAGE = format('envelope probe refused: -v template: unknown template code %L', v_template),
      HINT = 'list templates with: select code, version, kind from iu_collection_template order by 1, 2';
  END IF;
  PERFORM set_config('iu_probe.template', v_template, true);
END
$probe$;

-- Gates open inside this transaction only.
SELECT fn_iu_core_config_set('iu_core.three_axis_auto_refresh_enabled', 'true'::jsonb, :'actor') AS g1,
       fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, :'actor') AS g2 \gset probe_gate_

-- One live orchestrator call.
SELECT i.instance_id AS instance_id, i.instance_code AS instance_code, current_setting('iu_probe.template') AS template
  FROM dot_iu_auto_instantiate_from_event(current_setting('iu_probe.template'), :'actor', false) AS i \gset probe_
SELECT set_config('iu_probe.instance_id', :'probe_instance_id', true) AS i \gset probe_input_

DO $probe$
DECLARE
  v_before   bigint := current_setting('iu_probe.before_refresh_rows')::bigint;
  v_instance uuid   := current_setting('iu_probe.instance_id')::uuid;
  v_after    bigint;
  v_log      record;
  v_cached   record;
  v_computed record;
BEGIN
  SELECT count(*) INTO v_after FROM iu_three_axis_envelope_refresh_log;
  IF v_after <> v_before + 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU010',
      MESSAGE = format('envelope probe failed: refresh log %s -> %s rows after one instantiation (expected +1)',
                       v_before, v_after),
      HINT = 'is trg_iu_lineage_envelope_refresh present and enabled? see the envelope_lineage_trigger healthcheck line';
  END IF;
  -- the row this transaction wrote (occurred_at is clock time, now() the transaction start)
  SELECT l.reason, l.refreshed_count, l.refreshed_collections INTO v_log
    FROM iu_three_axis_envelope_refresh_log l
   WHERE l.occurred_at >= now()
   ORDER BY l.occurred_at DESC
   LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'IU010',
      MESSAGE = 'envelope probe failed: no refresh-log row written by this transaction';
  END IF;
  IF v_log.reason IS DISTINCT FROM 'iu_auto_instantiate_trigger' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU010',
      MESSAGE = format('envelope probe failed: the new refresh-log row has reason %L (expected iu_auto_instantiate_trigger)',
                       v_log.reason);
  END IF;
  IF NOT v_instance = ANY (v_log.refreshed_collections) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU010',
      MESSAGE = format('envelope probe failed: the new refresh-log row does not cover instance %s', v_instance);
  END IF;
  IF EXISTS (SELECT 1 FROM iu_three_axis_envelope_dirty d WHERE d.collection_id = v_instance) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU010', MESSAGE = format('envelope probe failed: instance %s is still dirty', v_instance);
  END IF;
  SELECT e.axis_a_count AS a, e.axis_b_count AS b, e.axis_c_count AS c INTO v_cached
    FROM iu_three_axis_envelope e WHERE e.collection_id = v_instance;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'IU010', MESSAGE = format('envelope probe failed: instance %s has no cached envelope', v_instance);
  END IF;
  SELECT x.axis_a_count AS a, x.axis_b_count AS b, x.axis_c_count AS c INTO v_computed
    FROM fn_iu_three_axis_envelope_compute(v_instance) x;
  IF (v_cached.a, v_cached.b, v_cached.c) IS DISTINCT FROM (v_computed.a, v_computed.b, v_computed.c) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU010',
      MESSAGE = format('envelope probe failed: instance %s cached envelope %s/%s/%s, recomputed %s/%s/%s', v_instance,
                       v_cached.a, v_cached.b, v_cached.c, v_computed.a, v_computed.b, v_computed.c);
  END IF;
END
$probe$;

SELECT count(*) AS inside_refresh_rows FROM iu_three_axis_envelope_refresh_log \gset
SELECT format('%s/%s/%s', e.axis_a_count, e.axis_b_count, e.axis_c_count) AS inside_envelope
  FROM iu_three_axis_envelope e WHERE e.collection_id = :'probe_instance_id'::uuid \gset

ROLLBACK;

-- After: the transaction left no trace.
SELECT count(*) AS after_refresh_rows,
       count(*) = :before_refresh_rows AS rows_back
  FROM iu_three_axis_envelope_refresh_log \gset
SELECT fn_iu_core_config_get('iu_core.three_axis_auto_refresh_enabled')::text AS after_refresh_gate,
       fn_iu_core_config_get('iu_core.auto_instantiate_enabled')::text AS after_instantiate_gate,
       fn_iu_core_config_get('iu_core.three_axis_auto_refresh_enabled')::text = :'before_refresh_gate'
         AND fn_iu_core_config_get('iu_core.auto_instantiate_enabled')::text = :'before_instantiate_gate' AS gates_back,
       NOT EXISTS (SELECT 1 FROM information_unit u WHERE u.id = :'probe_instance_id'::uuid) AS instance_gone \gset

\echo 'envelope refresh probe (036): template' :probe_template 'actor' :actor
\echo '  inside the transaction: instance' :probe_instance_code 'envelope' :inside_envelope
\echo '  refresh log rows:' :before_refresh_rows '->' :inside_refresh_rows '(expected +1, reason iu_auto_instantiate_trigger) -> after ROLLBACK' :after_refresh_rows
\echo '  gate iu_core.three_axis_auto_refresh_enabled:' :before_refresh_gate '-> after ROLLBACK' :after_refresh_gate
\echo '  gate iu_core.auto_instantiate_enabled:' :before_instantiate_gate '-> after ROLLBACK' :after_instantiate_gate

\if :rows_back
\else
  \echo 'envelope refresh probe FAILED: refresh log row count not back after ROLLBACK'
  DO $probe$ BEGIN RAISE EXCEPTION USING ERRCODE = 'IU010',
    MESSAGE = 'envelope probe failed: refresh log row count differs after ROLLBACK'; END $probe$;
\endif
\if :gates_back
\else
  \echo 'envelope refresh probe FAILED: a gate is not back at its value after ROLLBACK'
  DO $probe$ BEGIN RAISE EXCEPTION USING ERRCODE = 'IU010',
    MESSAGE = 'envelope probe failed: gate value differs after ROLLBACK'; END $probe$;
\endif
\if :instance_gone
\else
  \echo 'envelope refresh probe FAILED: the probe instance survived the ROLLBACK'
  DO $probe$ BEGIN RAISE EXCEPTION USING ERRCODE = 'IU010',
    MESSAGE = 'envelope probe failed: the probe instance exists after ROLLBACK'; END $probe$;
\endif
\echo 'envelope refresh probe: OK (refresh log +1 inside the transaction; row count and gates back after ROLLBACK)'
