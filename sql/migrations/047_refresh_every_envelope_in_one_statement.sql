-- 047: the manual full refresh computes every envelope in one statement.
--
-- 022's dot_iu_three_axis_envelope_refresh() called fn_iu_three_axis_envelope_compute
-- once per collection (through fn_iu_three_axis_envelope_store): two index probes and
-- a function call per collection, about 15 s of server time for 100,000 collections.
-- Same contract, one set-based statement: every collection (kind 'collection') gets
-- its envelope — per axis, the distinct non-NULL values among its member pieces that
-- are kind 'piece' and lifecycle 'active' (0 when none) — with refreshed_at its own
-- clock_timestamp(); then every dirty mark is cleared and one manual_full_refresh row
-- is logged; returns the number of collections refreshed.

CREATE OR REPLACE FUNCTION dot_iu_three_axis_envelope_refresh() RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
  v_ids uuid[];
BEGIN
  SELECT coalesce(array_agg(u.id ORDER BY u.id), '{}') INTO v_ids
    FROM information_unit u WHERE u.kind = 'collection';
  INSERT INTO iu_three_axis_envelope AS e (collection_id, axis_a_count, axis_b_count, axis_c_count, refreshed_at)
  SELECT c.id, coalesce(x.a, 0), coalesce(x.b, 0), coalesce(x.c, 0), clock_timestamp()
    FROM unnest(v_ids) AS c(id)
    LEFT JOIN (SELECT m.collection_id,
                      count(DISTINCT p.axis_a)::int AS a,
                      count(DISTINCT p.axis_b)::int AS b,
                      count(DISTINCT p.axis_c)::int AS c
                 FROM iu_piece_membership m
                 JOIN information_unit p ON p.id = m.piece_id
                WHERE p.kind = 'piece'
                  AND p.lifecycle_state = 'active'
                GROUP BY m.collection_id) x ON x.collection_id = c.id
  ON CONFLICT (collection_id) DO UPDATE
     SET axis_a_count = EXCLUDED.axis_a_count,
         axis_b_count = EXCLUDED.axis_b_count,
         axis_c_count = EXCLUDED.axis_c_count,
         refreshed_at = EXCLUDED.refreshed_at;
  DELETE FROM iu_three_axis_envelope_dirty;
  INSERT INTO iu_three_axis_envelope_refresh_log (reason, refreshed_count, refreshed_collections)
  VALUES ('manual_full_refresh', cardinality(v_ids), v_ids);
  RETURN cardinality(v_ids);
END
$fn$;

COMMENT ON FUNCTION dot_iu_three_axis_envelope_refresh() IS
  'Operator command: recomputes every collection''s envelope (one set-based statement), clears all dirty marks, logs one manual_full_refresh row; returns collections refreshed.';
