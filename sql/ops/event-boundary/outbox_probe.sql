-- outbox_probe.sql — BEGIN/ROLLBACK probe: an internal event is never delivered.
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 [-v event_type=iu.template.instance_auto_composed] \
--        [-v open_gates=false|true] -f sql/ops/event-boundary/outbox_probe.sql
--
-- Inside ONE transaction that always ends in ROLLBACK: (open_gates=true only:
-- set iu_core.delivery_enabled = true and iu_core.delivery_live_routes = the
-- event type), insert one event_outbox row of the event type, run the delivery
-- worker fn_event_outbox_deliver(1000), show the delivery log unchanged for the
-- type and the probe row still undelivered; then ROLLBACK and show that neither
-- the probe row nor any gate change is left.
-- Prints one `probe inside:` and one `probe after rollback:` line; exits 0 when
-- the probe was not delivered and left no trace, otherwise ERROR IU036
-- (delivered) / IU037 (trace left) and a non-zero exit.
--
-- Changes: nothing (ROLLBACK; an error ends the session, which rolls back too).
-- Undo: nothing to undo.
-- Variables other than event_type and open_gates are refused (IU043).

\set ops_script event-boundary/outbox_probe.sql
\set ops_accepts 'event_type open_gates'
\set ops_needs 'public.fn_event_outbox_deliver(integer)'
\set ops_needs_migration 013_create_fn_event_outbox_deliver
\ir ../_lib/preamble.sql
\if :{?event_type}
\else
  \set event_type 'iu.template.instance_auto_composed'
\endif
\if :{?open_gates}
\else
  \set open_gates false
\endif

-- validate the variables (nothing written yet)
SELECT set_config('iu_probe.event_type', :'event_type', false) AS event_type,
       set_config('iu_probe.open_gates', :'open_gates', false) AS open_gates \gset iu_probe_arg_
DO $$
DECLARE
  v_type  text := current_setting('iu_probe.event_type');
  v_gates text := current_setting('iu_probe.open_gates');
BEGIN
  IF lower(v_gates) NOT IN ('true', 'false', 'on', 'off', 'yes', 'no', '1', '0') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU030',
      MESSAGE = format('outbox probe refused: -v open_gates must be true or false (got %L)', v_gates);
  END IF;
  IF btrim(v_type) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU030', MESSAGE = 'outbox probe refused: -v event_type is empty';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM event_type_registry e WHERE e.event_type = v_type) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU030',
      MESSAGE = format('outbox probe refused: event type %L is not registered in event_type_registry', v_type);
  END IF;
END $$;
SELECT lower(:'open_gates') IN ('true', 'on', 'yes', '1') AS iu_probe_open \gset

-- committed state before the probe
SELECT (SELECT count(*) FROM event_outbox)              AS iu_probe_outbox_before,
       (SELECT count(*) FROM event_outbox_delivery_log) AS iu_probe_log_before,
       (SELECT count(*) FROM event_outbox_delivery_log d WHERE d.event_type = :'event_type') AS iu_probe_type_log_before,
       (SELECT md5(string_agg(c.key || '=' || c.value::text, ',' ORDER BY c.key))
          FROM iu_core_config c WHERE c.key IN ('iu_core.delivery_enabled', 'iu_core.delivery_live_routes'))
         AS iu_probe_gates_before \gset

BEGIN;
SELECT set_config('lock_timeout', '5s', true) AS lock_timeout,
       set_config('statement_timeout', '60s', true) AS statement_timeout \gset iu_probe_tx_
\if :iu_probe_open
SELECT fn_iu_core_config_set('iu_core.delivery_enabled', 'true'::jsonb, 'iu-event-boundary-probe') AS a,
       fn_iu_core_config_set('iu_core.delivery_live_routes', to_jsonb(:'event_type'::text), 'iu-event-boundary-probe') AS b
       \gset iu_probe_gate_
\endif

INSERT INTO event_outbox (event_type, payload)
VALUES (:'event_type', jsonb_build_object('probe', 'sql/ops/event-boundary/outbox_probe.sql'))
RETURNING id AS iu_probe_id \gset

SELECT fn_event_outbox_deliver(1000) AS iu_probe_worker_delivered \gset

SELECT (SELECT count(*) FROM event_outbox_delivery_log) - :iu_probe_log_before AS iu_probe_log_delta,
       (SELECT count(*) FROM event_outbox_delivery_log d WHERE d.event_type = :'event_type')
         - :iu_probe_type_log_before AS iu_probe_type_log_delta,
       (SELECT count(*) FROM event_outbox_delivery_log d WHERE d.outbox_id = :'iu_probe_id') AS iu_probe_log_rows,
       (SELECT o.delivered_at IS NULL FROM event_outbox o WHERE o.id = :'iu_probe_id') AS iu_probe_undelivered,
       fn_iu_core_config_get('iu_core.delivery_enabled')::text AS iu_probe_delivery_enabled,
       fn_iu_core_config_get('iu_core.delivery_live_routes')::text AS iu_probe_live_routes \gset

\echo 'probe inside: event_type=':event_type 'probe_id=':iu_probe_id 'delivery_enabled=':iu_probe_delivery_enabled 'delivery_live_routes=':iu_probe_live_routes 'worker_delivered=':iu_probe_worker_delivered 'delivery_log_delta=':iu_probe_log_delta 'type_delivery_log_delta=':iu_probe_type_log_delta 'probe_delivery_log_rows=':iu_probe_log_rows 'probe_undelivered=':iu_probe_undelivered

SELECT :iu_probe_type_log_delta = 0 AND :iu_probe_log_rows = 0 AND :'iu_probe_undelivered'::boolean AS iu_probe_inside_ok \gset
\if :iu_probe_inside_ok
\else
  SELECT set_config('iu_probe.msg',
           format('outbox probe FAILED: the %s probe row %s was delivered (worker %s, delivery log +%s for the type, %s rows for the probe)',
                  :'event_type', :'iu_probe_id', :iu_probe_worker_delivered, :iu_probe_type_log_delta, :iu_probe_log_rows),
           false) AS msg \gset iu_probe_fail_
  DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'IU036', MESSAGE = current_setting('iu_probe.msg'); END $$;
\endif

ROLLBACK;

SELECT (SELECT count(*) FROM event_outbox o WHERE o.id = :'iu_probe_id') AS iu_probe_rows_left,
       (SELECT count(*) FROM event_outbox) - :iu_probe_outbox_before AS iu_probe_outbox_delta_after,
       (SELECT count(*) FROM event_outbox_delivery_log) - :iu_probe_log_before AS iu_probe_log_delta_after,
       (SELECT md5(string_agg(c.key || '=' || c.value::text, ',' ORDER BY c.key))
          FROM iu_core_config c WHERE c.key IN ('iu_core.delivery_enabled', 'iu_core.delivery_live_routes'))
         = :'iu_probe_gates_before' AS iu_probe_gates_restored \gset

\echo 'probe after rollback: probe_rows_left=':iu_probe_rows_left 'outbox_delta=':iu_probe_outbox_delta_after 'delivery_log_delta=':iu_probe_log_delta_after 'gates_restored=':iu_probe_gates_restored

SELECT :iu_probe_rows_left = 0 AND :iu_probe_log_delta_after = 0 AND :'iu_probe_gates_restored'::boolean
       AS iu_probe_after_ok \gset
\if :iu_probe_after_ok
  \echo 'outbox probe ok: the' :'event_type' 'probe row was not delivered and left no trace'
\else
  DO $$ BEGIN
    RAISE EXCEPTION USING ERRCODE = 'IU037',
      MESSAGE = 'outbox probe FAILED: a trace is left after ROLLBACK (see the "probe after rollback" line)';
  END $$;
\endif
