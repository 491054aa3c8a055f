-- S-11: the healthcheck reports every registered surface, all green.
BEGIN;
SELECT plan(3);
SELECT results_eq(
  $$SELECT surface FROM iu_healthcheck_surface WHERE registered_in <= '035' ORDER BY position$$,
  $$VALUES ('config_gates'), ('vector_ledger'), ('dieu_envelope_invariant'), ('envelope_backlog'),
           ('envelope_lifecycle_trigger'), ('lineage_orphans'), ('digest_drift'), ('retention_policies')$$,
  'the 8 surfaces of head 035');
SELECT results_eq($$SELECT surface FROM dot_iu_healthcheck()$$,
                  $$SELECT surface FROM iu_healthcheck_surface ORDER BY position$$, 'every registered surface reported');
SELECT is_empty($$SELECT surface, detail FROM dot_iu_healthcheck() WHERE NOT ok$$, 'no red surface');
SELECT * FROM finish();
ROLLBACK;
