-- E-1: a batch of N writes N lineage and N audit rows for its actor, all digest-matched.
BEGIN;
SELECT plan(3);
CREATE TEMP TABLE batch AS
  SELECT * FROM fn_iu_bounded_scaleout(:n, 'iu-core-pgtap-e1', p_bound => greatest(:n, 40));
SELECT is((SELECT count(*) FROM batch), :n::bigint, 'rows returned = N');
SELECT is((SELECT count(*) FROM iu_collection_template_instance_lineage WHERE actor = 'iu-core-pgtap-e1'), :n::bigint,
          'lineage rows = N');
SELECT is((SELECT count(*) FROM iu_auto_instantiate_event_log WHERE triggered_by = 'iu-core-pgtap-e1'
            AND NOT dry_run AND digest_matches_template), :n::bigint, 'digest-matched audit rows = N');
SELECT * FROM finish();
ROLLBACK;
