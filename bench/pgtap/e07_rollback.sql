-- E-7: live rollback-by-actor removes exactly the batch, spares a second batch, and restores every table.
BEGIN;
SELECT plan(3);
CREATE FUNCTION pg_temp.prints() RETURNS TABLE(tbl text, n bigint, digest text) LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1 LOOP
    tbl := r.relname;
    EXECUTE format('SELECT count(*), md5(string_agg(t::text, E''\n'' ORDER BY t::text COLLATE "C")) FROM %I t', r.relname)
      INTO n, digest;
    RETURN NEXT;
  END LOOP;
END $fn$;
SELECT count(*) FROM fn_iu_bounded_scaleout(:n_other, 'iu-core-pgtap-e7-second', p_bound => 40);
CREATE TEMP TABLE pre_batch AS SELECT * FROM pg_temp.prints();
SELECT count(*) FROM fn_iu_bounded_scaleout(:n, 'iu-core-pgtap-e7', p_bound => greatest(:n, 40));
CREATE TEMP TABLE dry AS SELECT * FROM dot_iu_auto_instantiate_rollback_by_actor('iu-core-pgtap-e7', true);
SELECT set_eq($$SELECT * FROM dot_iu_auto_instantiate_rollback_by_actor('iu-core-pgtap-e7', false)$$,
              $$SELECT * FROM dry$$, 'live counts = dry-run counts');
SELECT is((SELECT count(*) FROM iu_collection_template_instance_lineage WHERE actor = 'iu-core-pgtap-e7-second'),
          :n_other::bigint, 'second batch spared');
SELECT set_eq($$SELECT * FROM pg_temp.prints()$$, $$SELECT * FROM pre_batch$$, 'every table back at its pre-batch fingerprint');
SELECT * FROM finish();
ROLLBACK;
