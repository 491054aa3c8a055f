-- 005: ordered membership of pieces in collections.

CREATE TABLE iu_piece_membership (
  collection_id uuid NOT NULL REFERENCES information_unit (id),
  piece_id      uuid NOT NULL REFERENCES information_unit (id),
  -- int, not bigint: a position is an ordinal within one collection.
  -- squawk-ignore prefer-bigint-over-int
  position      int  NOT NULL CHECK (position > 0),
  PRIMARY KEY (collection_id, position)
);

CREATE INDEX iu_piece_membership_piece_id_idx ON iu_piece_membership (piece_id);

COMMENT ON TABLE iu_piece_membership IS
  'Ordered pieces of a collection (position 1..n); written by fn_iu_compose.';
