-- scaleout/verify_batch.sql: verify one actor's committed scaleout batch.
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v actor=iu-core-30x-bulk [-v n=30] [-v sample=CODE] \
--        -f sql/ops/scaleout/verify_batch.sql
--
-- Variables:
--   actor   required: the batch's actor, matched exactly
--   n       optional: the expected number of instances
--   sample  optional: the instance code for the text-as-code roundtrip
--           (default: a deterministic pick among the batch, the smallest md5(code))
--
-- Checks (one row each, then exit 0 when all pass, exit 3 naming the failures):
--   audit_rows               live audit rows for the actor (= n when given)
--   digest_matches_template  every one digest-matched (v_iu_auto_instantiate_event_log)
--   lineage                  one lineage row per audit row, same actor
--   outbox_events            one internal iu.template.instance_auto_composed event per instance
--   lineage_orphans          v_iu_lineage_orphans is empty
--   digest_drift             v_iu_digest_drift is empty
--   vector_ledger            no vector point for an instance, none indexed since the batch began
--   text_roundtrip           export the sample, import it under a new code: same digest,
--                            same text (but the collection line), export byte-stable
--   gate_closed              iu_core.auto_instantiate_enabled is false
-- Then a warning (exit still 0) when the batch's collections are still dirty in
-- the envelope cache, with the time the envelope_backlog healthcheck surface turns
-- red (24 hours after the oldest dirty mark) and the refresh command.
-- Variables other than actor, n and sample are refused (IU043).
-- Changes nothing: it runs in one transaction that is rolled back (the roundtrip
-- import is undone inside it as well). Undo: nothing to undo.

\set ops_script scaleout/verify_batch.sql
\set ops_accepts 'actor n sample'
\set ops_needs 'public.fn_iu_collection_export_text(text)'
\set ops_needs_migration 043_create_fn_iu_collection_text
\ir ../_lib/preamble.sql
\pset footer off

\if :{?actor}
\else
  \set actor ''
\endif
\if :{?n}
\else
  \set n ''
\endif
\if :{?sample}
\else
  \set sample ''
\endif

BEGIN;

SELECT set_config('iu_verify.actor', :'actor', true) AS a,
       set_config('iu_verify.n', :'n', true) AS b,
       set_config('iu_verify.sample', :'sample', true) AS c \gset

CREATE TEMP TABLE iu_verify_check (ord int, check_name text, ok boolean, detail text) ON COMMIT DROP;

DO $verify$
DECLARE
  v_actor    text := current_setting('iu_verify.actor');
  v_n_text   text := btrim(current_setting('iu_verify.n'));
  v_sample   text := nullif(current_setting('iu_verify.sample'), '');
  v_n        bigint;
  v_audit    bigint;
  v_matched  bigint;
  v_bad      text;
  v_lin      bigint;
  v_joined   bigint;
  v_kinds    text;
  v_out      bigint;
  v_orph     bigint;
  v_orph_a   bigint;
  v_drift    bigint;
  v_drift_a  bigint;
  v_vec      bigint;
  v_vec_inst bigint;
  v_vec_new  bigint;
  v_first    timestamptz;
  v_text     text;
  v_text2    text;
  v_copy     text;
  v_copytext text;
  v_dig      text;
  v_copydig  text;
  v_err      text;
BEGIN
  PERFORM fn_iu_assert_actor(v_actor);
  IF v_n_text <> '' AND v_n_text !~ '^[0-9]{1,9}$' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU029', MESSAGE = format('verify refused: n must be a whole number, got %L', left(v_n_text, 60));
  END IF;
  v_n := nullif(v_n_text, '')::bigint;

  SELECT count(*), count(*) FILTER (WHERE e.digest_matches_template),
         string_agg(e.instance_code, ', ' ORDER BY e.instance_code) FILTER (WHERE e.digest_matches_template IS NOT TRUE),
         count(*) FILTER (WHERE e.lineage_id IS NOT NULL AND e.lineage_actor = v_actor),
         min(e.occurred_at)
    INTO v_audit, v_matched, v_bad, v_joined, v_first
    FROM v_iu_auto_instantiate_event_log e
   WHERE e.triggered_by = v_actor AND NOT e.dry_run;
  SELECT string_agg(format('%s %s', k.n, k.kind), ', ' ORDER BY k.kind DESC) INTO v_kinds
    FROM (SELECT coalesce(e.template_kind, 'unknown') AS kind, count(*) AS n
            FROM v_iu_auto_instantiate_event_log e
           WHERE e.triggered_by = v_actor AND NOT e.dry_run GROUP BY 1) k;
  INSERT INTO iu_verify_check VALUES (1, 'audit_rows', v_audit > 0 AND (v_n IS NULL OR v_audit = v_n),
    format('%s live audit row(s) (%s)%s', v_audit, coalesce(v_kinds, 'none'),
           CASE WHEN v_n IS NULL THEN '' ELSE format('; expected %s', v_n) END));
  INSERT INTO iu_verify_check VALUES (2, 'digest_matches_template', v_audit > 0 AND v_matched = v_audit,
    format('%s of %s digest-matched%s', v_matched, v_audit,
           CASE WHEN v_bad IS NULL THEN '' ELSE '; not matched: ' || left(v_bad, 200) END));

  SELECT count(*) INTO v_lin FROM iu_collection_template_instance_lineage l WHERE l.actor = v_actor;
  INSERT INTO iu_verify_check VALUES (3, 'lineage', v_lin = v_audit AND v_joined = v_audit,
    format('%s lineage row(s); %s of %s audit rows joined to a lineage row of this actor', v_lin, v_joined, v_audit));

  SELECT count(*) INTO v_out
    FROM event_outbox o
    JOIN iu_collection_template_instance_lineage l ON l.instance_collection_id = o.aggregate_id
    JOIN event_type_registry r ON r.event_type = o.event_type
   WHERE l.actor = v_actor AND o.event_type = 'iu.template.instance_auto_composed' AND r.delivery_lane <> 'live';
  INSERT INTO iu_verify_check VALUES (4, 'outbox_events', v_out = v_lin,
    format('%s internal iu.template.instance_auto_composed event(s) for %s instance(s)', v_out, v_lin));

  SELECT count(*), count(*) FILTER (WHERE o.actor = v_actor) INTO v_orph, v_orph_a FROM v_iu_lineage_orphans o;
  INSERT INTO iu_verify_check VALUES (5, 'lineage_orphans', v_orph = 0,
    format('%s orphan row(s) (%s of this actor)', v_orph, v_orph_a));

  SELECT count(*), count(*) FILTER (WHERE d.actor = v_actor) INTO v_drift, v_drift_a FROM v_iu_digest_drift d;
  INSERT INTO iu_verify_check VALUES (6, 'digest_drift', v_drift = 0,
    format('%s instance(s) with digest drift (%s of this actor)', v_drift, v_drift_a));

  SELECT count(*),
         count(*) FILTER (WHERE v.unit_id IN (SELECT l.instance_collection_id FROM iu_collection_template_instance_lineage l
                                               WHERE l.actor = v_actor)),
         count(*) FILTER (WHERE v.indexed_at >= v_first)
    INTO v_vec, v_vec_inst, v_vec_new
    FROM iu_vector_point v;
  INSERT INTO iu_verify_check VALUES (7, 'vector_ledger', v_vec_inst = 0 AND v_vec_new = 0,
    format('%s vector point(s); %s for the batch''s instances, %s indexed since the batch began', v_vec, v_vec_inst, v_vec_new));

  -- text-as-code roundtrip of one sampled instance, undone by the inner block
  IF v_sample IS NULL THEN
    SELECT l.instance_code INTO v_sample
      FROM (SELECT u.code AS instance_code FROM iu_collection_template_instance_lineage x
              JOIN information_unit u ON u.id = x.instance_collection_id
             WHERE x.actor = v_actor) l
     ORDER BY md5(l.instance_code), l.instance_code LIMIT 1;
  END IF;
  IF v_sample IS NULL THEN
    INSERT INTO iu_verify_check VALUES (8, 'text_roundtrip', false, 'no instance of this actor to sample');
  ELSE
    BEGIN
      v_text  := fn_iu_collection_export_text(v_sample);
      v_text2 := fn_iu_collection_export_text(v_sample);
      v_dig   := fn_iu_membership_digest((SELECT u.id FROM information_unit u WHERE u.code = v_sample));
      v_copy  := v_sample || '-verify-roundtrip';
      PERFORM fn_iu_collection_import_text(v_text, v_copy, 'iu-core-verify-roundtrip');
      v_copytext := fn_iu_collection_export_text(v_copy);
      v_copydig  := fn_iu_membership_digest((SELECT u.id FROM information_unit u WHERE u.code = v_copy));
      RAISE EXCEPTION USING ERRCODE = 'IU029', MESSAGE = 'undo the roundtrip import';
    EXCEPTION
      WHEN SQLSTATE 'IU029' THEN NULL;
      WHEN OTHERS THEN v_err := format('%s (%s)', SQLERRM, SQLSTATE);
    END;
    INSERT INTO iu_verify_check VALUES (8, 'text_roundtrip',
      v_err IS NULL AND v_text = v_text2 AND v_copydig = v_dig
        AND v_copytext = replace(v_text, E'\ncollection: ' || v_sample || E'\n', E'\ncollection: ' || v_copy || E'\n'),
      CASE WHEN v_err IS NOT NULL THEN format('%s: %s', v_sample, v_err)
           ELSE format('%s: %s bytes, export byte-stable %s, digest %s… reproduced %s, text reproduced %s',
                       v_sample, octet_length(v_text), v_text = v_text2, left(v_dig, 12), v_copydig = v_dig,
                       v_copytext = replace(v_text, E'\ncollection: ' || v_sample || E'\n', E'\ncollection: ' || v_copy || E'\n'))
      END);
  END IF;

  INSERT INTO iu_verify_check VALUES (9, 'gate_closed', NOT fn_iu_core_gate('iu_core.auto_instantiate_enabled'),
    format('iu_core.auto_instantiate_enabled = %s', fn_iu_core_config_get('iu_core.auto_instantiate_enabled')));
END
$verify$;

\echo 'verify_batch: checks for actor' :'actor'
SELECT c.check_name AS "check", CASE WHEN c.ok THEN 'ok' ELSE 'FAILED' END AS result, c.detail
  FROM iu_verify_check c ORDER BY c.ord;

DO $assert$
DECLARE
  v_failed text;
BEGIN
  SELECT string_agg(c.check_name, ', ' ORDER BY c.ord) INTO v_failed FROM iu_verify_check c WHERE c.ok IS NOT TRUE;
  IF v_failed IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU029',
      MESSAGE = format('verify_batch failed for actor %s: %s', current_setting('iu_verify.actor'), v_failed);
  END IF;
END
$assert$;

SELECT count(*) AS vb_dirty,
       count(*) > 0 AS vb_has_dirty,
       (SELECT count(*) FROM iu_three_axis_envelope_dirty) AS vb_dirty_all,
       coalesce((SELECT to_char(min(x.marked_at) + interval '24 hours', 'YYYY-MM-DD HH24:MI TZ')
                   FROM iu_three_axis_envelope_dirty x), '-') AS vb_red_at,
       coalesce((SELECT min(x.marked_at) + interval '24 hours' < now() FROM iu_three_axis_envelope_dirty x), false) AS vb_red_now
  FROM iu_three_axis_envelope_dirty d
  JOIN iu_collection_template_instance_lineage l ON l.instance_collection_id = d.collection_id
 WHERE l.actor = :'actor' \gset

ROLLBACK;
\echo 'verify_batch: every check passed; nothing was changed'
\if :vb_has_dirty
\echo 'verify_batch WARNING:' :vb_dirty 'collection(s) of the batch are still dirty in the envelope cache;' :vb_dirty_all 'dirty in all;'
\if :vb_red_now
\echo '  the envelope_backlog healthcheck surface is red now (a dirty mark is older than 24 hours)'
\else
\echo '  the envelope_backlog healthcheck surface turns red at' :vb_red_at '(24 hours after the oldest dirty mark)'
\endif
\echo '  refresh: psql -X -v ON_ERROR_STOP=1' :ops_conn '-v live=true -f sql/ops/envelope-refresh/refresh_stale.sql'
\endif
