-- 001: actor validation shared by every function that takes an actor.
-- Refusals raise SQLSTATE IU003 with a one-line message.

CREATE FUNCTION fn_iu_assert_actor(p_actor text) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  IF p_actor IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU003',
      MESSAGE = 'actor refused: actor is NULL',
      HINT = 'pass an exact actor name such as iu-core-ops';
  END IF;
  IF p_actor = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU003',
      MESSAGE = 'actor refused: actor is empty',
      HINT = 'pass an exact actor name such as iu-core-ops';
  END IF;
  IF p_actor ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU003',
      MESSAGE = 'actor refused: actor contains a control character',
      HINT = 'actors are plain one-line names';
  END IF;
  IF p_actor ~ '^[[:space:]]*$' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU003',
      MESSAGE = 'actor refused: actor is whitespace only',
      HINT = 'pass an exact actor name such as iu-core-ops';
  END IF;
  IF p_actor ~ '^[[:space:]]' OR p_actor ~ '[[:space:]]$' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU003',
      MESSAGE = format('actor refused: actor %L has leading or trailing whitespace', left(p_actor, 60)),
      HINT = 'actors are matched exactly; trim the name';
  END IF;
  IF p_actor ~ '[%*?]' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU003',
      MESSAGE = format('actor refused: actor %L contains a pattern character (%%, * or ?)', left(p_actor, 60)),
      HINT = 'actors are matched exactly (=), never as patterns; name one actor';
  END IF;
  IF char_length(p_actor) > 200 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU003',
      MESSAGE = format('actor refused: actor is %s characters long (limit 200)', char_length(p_actor)),
      HINT = 'use a short actor name';
  END IF;
END
$fn$;

COMMENT ON FUNCTION fn_iu_assert_actor(text) IS
  'Raises IU003 unless the actor is a plain exact name: not NULL/empty/whitespace, no %, *, ?, control characters or edge whitespace, at most 200 characters.';
