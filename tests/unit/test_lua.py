"""Lua scripts name their KEYS and ARGV: the positions come from the names, and a caller that
passes other arguments is refused before anything reaches Redis."""

import pytest

from modeltrain.jobs import scripts
from modeltrain.lua import LuaScript

PAIRS = LuaScript(
    keys=("job", "index"),
    args=("now", "id"),
    source="redis.call('ZADD', $k_index, $a_now, $a_id)\nfor i = $a_pairs, #ARGV, 2 do end",
    pairs=True,
)


def test_names_become_positions_in_the_lua_and_in_the_call():
    assert PAIRS.lua == (
        "redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])\nfor i = 3, #ARGV, 2 do end"
    )
    keys, args = PAIRS.bind(
        {"index": "i", "job": "j", "lease": "unused"}, {"id": "x", "now": 5}, ["f", "v"]
    )
    assert keys == ["j", "i"] and args == [5, "x", "f", "v"]


def test_a_call_with_missing_or_unknown_arguments_is_refused():
    with pytest.raises(TypeError, match="takes"):
        PAIRS.bind({"job": "j", "index": "i"}, {"now": 5})
    with pytest.raises(TypeError, match="takes"):
        PAIRS.bind({"job": "j", "index": "i"}, {"now": 5, "id": "x", "ttl": 3})
    with pytest.raises(KeyError):
        PAIRS.bind({"job": "j"}, {"now": 5, "id": "x"})
    with pytest.raises(KeyError):  # a misspelt name in the source
        _ = LuaScript(keys=("job",), args=(), source="return $k_jbo").lua


def test_every_job_script_renders_with_no_name_left_over():
    for name in dir(scripts):
        script = getattr(scripts, name)
        if isinstance(script, LuaScript):
            assert "$" not in script.lua, name
