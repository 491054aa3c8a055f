-- 020: three-axis envelope cache, its dirty set, and the primitives
-- (compute one, store many, mark dirty) used by every refresh path.

CREATE TABLE iu_three_axis_envelope (
  collection_id uuid PRIMARY KEY REFERENCES information_unit (id),
  -- int, not bigint: a count of distinct axis values within one collection.
  -- squawk-ignore prefer-bigint-over-int
  axis_a_count  int NOT NULL CHECK (axis_a_count >= 0),
  -- int, not bigint: a count of distinct axis values within one collection.
  -- squawk-ignore prefer-bigint-over-int
  axis_b_count  int NOT NULL CHECK (axis_b_count >= 0),
  -- int, not bigint: a count of distinct axis values within one collection.
  -- squawk-ignore prefer-bigint-over-int
  axis_c_count  int NOT NULL CHECK (axis_c_count >= 0),
  refreshed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

COMMENT ON TABLE iu_three_axis_envelope IS
  'Cached envelope per collection: distinct non-null axis_a/b/c values over its active pieces.';

CREATE TABLE iu_three_axis_envelope_dirty (
  collection_id uuid PRIMARY KEY REFERENCES information_unit (id),
  marked_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  reason        text NOT NULL
);

CREATE INDEX iu_three_axis_envelope_dirty_marked_at_idx ON iu_three_axis_envelope_dirty (marked_at);

COMMENT ON TABLE iu_three_axis_envelope_dirty IS
  'Collections whose cached envelope is stale; marked_at keeps the first (oldest) mark.';

CREATE FUNCTION fn_iu_three_axis_envelope_compute(p_collection_id uuid)
RETURNS TABLE(axis_a_count int, axis_b_count int, axis_c_count int)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_unit c WHERE c.id = p_collection_id AND c.kind = 'collection') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('envelope compute refused: %s is not a collection', coalesce(p_collection_id::text, 'NULL'));
  END IF;
  RETURN QUERY
  SELECT count(DISTINCT p.axis_a)::int, count(DISTINCT p.axis_b)::int, count(DISTINCT p.axis_c)::int
    FROM iu_piece_membership m
    JOIN information_unit p ON p.id = m.piece_id
   WHERE m.collection_id = p_collection_id
     AND p.kind = 'piece'
     AND p.lifecycle_state = 'active';
END
$fn$;

COMMENT ON FUNCTION fn_iu_three_axis_envelope_compute(uuid) IS
  'Computes (without caching) a collection''s envelope: distinct non-null axis values over its active pieces.';

CREATE FUNCTION fn_iu_three_axis_envelope_store(p_collection_ids uuid[]) RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
  v_n int;
BEGIN
  INSERT INTO iu_three_axis_envelope AS e (collection_id, axis_a_count, axis_b_count, axis_c_count, refreshed_at)
  SELECT c.id, x.axis_a_count, x.axis_b_count, x.axis_c_count, clock_timestamp()
    FROM (SELECT DISTINCT u.id FROM unnest(p_collection_ids) AS u(id)) c
    CROSS JOIN LATERAL fn_iu_three_axis_envelope_compute(c.id) x
  ON CONFLICT (collection_id) DO UPDATE
     SET axis_a_count = EXCLUDED.axis_a_count,
         axis_b_count = EXCLUDED.axis_b_count,
         axis_c_count = EXCLUDED.axis_c_count,
         refreshed_at = EXCLUDED.refreshed_at;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION fn_iu_three_axis_envelope_store(uuid[]) IS
  'Recomputes and upserts the cached envelope of exactly the given collections; returns how many were stored (logs nothing).';

CREATE FUNCTION fn_iu_three_axis_envelope_mark_dirty(p_collection_ids uuid[], p_reason text) RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
  v_n int;
BEGIN
  INSERT INTO iu_three_axis_envelope_dirty (collection_id, marked_at, reason)
  SELECT DISTINCT u.id, clock_timestamp(), p_reason
    FROM unnest(p_collection_ids) AS u(id)
   WHERE u.id IS NOT NULL
  ON CONFLICT (collection_id) DO NOTHING;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION fn_iu_three_axis_envelope_mark_dirty(uuid[], text) IS
  'Marks collections dirty (keeps an existing, older mark); returns how many new marks were written.';
