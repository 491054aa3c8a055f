-- sql/ops/_lib/raise.sql: end the script with an error. The caller sets
-- iu_ops.code (an IU SQLSTATE), iu_ops.msg and iu_ops.hint with set_config
-- first (an empty hint: no HINT line); with ON_ERROR_STOP psql then exits 3.
-- Needs no substrate.
DO $raise$
BEGIN
  IF coalesce(current_setting('iu_ops.hint', true), '') = '' THEN
    RAISE EXCEPTION USING ERRCODE = current_setting('iu_ops.code'), MESSAGE = current_setting('iu_ops.msg');
  END IF;
  RAISE EXCEPTION USING ERRCODE = current_setting('iu_ops.code'), MESSAGE = current_setting('iu_ops.msg'),
    HINT = current_setting('iu_ops.hint');
END
$raise$;
