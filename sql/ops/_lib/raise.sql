-- sql/ops/_lib/raise.sql: end the script with an error. The caller sets
-- iu_ops.code (an IU SQLSTATE), iu_ops.msg and iu_ops.hint with set_config
-- first; with ON_ERROR_STOP psql then exits 3. Needs no substrate.
DO $raise$
BEGIN
  RAISE EXCEPTION USING ERRCODE = current_setting('iu_ops.code'), MESSAGE = current_setting('iu_ops.msg'),
    HINT = nullif(current_setting('iu_ops.hint', true), '');
END
$raise$;
