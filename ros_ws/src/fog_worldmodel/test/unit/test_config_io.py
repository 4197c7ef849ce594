"""fog_worldmodel.config_io: dataclass configs to JSON-able dicts and back (nested configs, tuples,
int -> float coercion, optional fields) and the refusal of unknown keys and of values of the wrong type."""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field
from typing import Literal

import pytest
from fog_worldmodel.config_io import config_from_dict, config_to_dict


@dataclass
class Inner:
    channels: tuple[int, ...] = (8, 16)
    rate: float = 1.5


@dataclass
class Outer:
    name: str = "wm"
    size: int = 16
    lr: float = 1e-3
    inner: Inner = field(default_factory=Inner)
    pair: tuple[int, str] = (1, "a")
    mode: Literal["fast", "slow"] = "fast"
    maybe_inner: typing.Optional[Inner] = None  # noqa: UP045 (config_io coerces typing.Optional)
    maybe_rate: typing.Optional[float] = None  # noqa: UP045
    flag: bool = False


def test_to_dict_is_json_able_with_tuples_as_lists_and_nested_configs_as_dicts():
    d = config_to_dict(Outer())
    assert d["inner"] == {"channels": [8, 16], "rate": 1.5}, f"nested config as dict, tuple as list; got {d['inner']}"
    assert d["pair"] == [1, "a"] and d["maybe_inner"] is None
    assert json.loads(json.dumps(d)) == d, "the dict survives JSON unchanged"


@pytest.mark.parametrize("not_config", [{"a": 1}, 3, "cfg", None])
def test_to_dict_refuses_what_is_not_a_dataclass_instance(not_config):
    with pytest.raises(TypeError, match="is not a dataclass instance"):
        config_to_dict(not_config)


def test_round_trip_through_json_rebuilds_an_equal_config():
    cfg = Outer(
        name="x", size=32, lr=0.5, inner=Inner((4, 4, 8), 2.0), pair=(7, "b"), mode="slow",
        maybe_inner=Inner((2,), 0.25), maybe_rate=3.0, flag=True,
    )
    back = config_from_dict(Outer, json.loads(json.dumps(config_to_dict(cfg))))
    assert back == cfg, f"round trip changed the config: {back} != {cfg}"
    assert isinstance(back.inner, Inner) and isinstance(back.maybe_inner, Inner)
    assert isinstance(back.inner.channels, tuple) and isinstance(back.pair, tuple), "lists come back as tuples"


def test_missing_keys_take_the_dataclass_defaults():
    cfg = config_from_dict(Outer, {"size": 8})
    assert cfg.size == 8
    assert cfg.inner == Inner() and cfg.name == "wm" and cfg.maybe_rate is None, "absent keys keep their defaults"


def test_nested_config_may_itself_be_partial():
    cfg = config_from_dict(Outer, {"inner": {"rate": 4.0}})
    assert cfg.inner == Inner(channels=(8, 16), rate=4.0)


def test_unknown_keys_are_refused_with_their_names_sorted():
    with pytest.raises(ValueError, match=r"unknown fields for Outer: \['extra', 'zeta'\]"):
        config_from_dict(Outer, {"size": 4, "zeta": 1, "extra": 2})


def test_unknown_keys_inside_a_nested_config_are_refused_too():
    with pytest.raises(ValueError, match=r"unknown fields for Inner: \['depth'\]"):
        config_from_dict(Outer, {"inner": {"depth": 3}})


def test_ints_become_floats_for_float_fields_but_bools_and_other_fields_stay():
    cfg = config_from_dict(Outer, {"lr": 2, "size": 3, "inner": {"rate": 1}, "maybe_rate": 5})
    assert type(cfg.lr) is float and cfg.lr == 2.0, f"int 2 for a float field should become 2.0, got {cfg.lr!r}"
    assert type(cfg.inner.rate) is float and type(cfg.maybe_rate) is float, "also nested and optional floats"
    assert type(cfg.size) is int, "int fields keep ints"
    with pytest.raises(ValueError, match=r"Outer\.lr: expected float, got True"):
        config_from_dict(Outer, {"lr": True})  # a bool is not silently turned into 1.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"size": "big"}, r"Outer\.size: expected int, got 'big'"),
        ({"size": 2.5}, r"Outer\.size: expected int, got 2\.5"),
        ({"size": False}, r"Outer\.size: expected int, got False"),
        ({"lr": "1e-4"}, r"Outer\.lr: expected float, got '1e-4'"),  # YAML 1.1 reads 1e-4 as a string
        ({"name": 3}, r"Outer\.name: expected str, got 3"),
        ({"flag": "yes"}, r"Outer\.flag: expected bool, got 'yes'"),
        ({"mode": "medium"}, r"Outer\.mode: expected Literal\['fast', 'slow'\], got 'medium'"),
        ({"inner": {"rate": "x"}}, r"Outer\.inner\.rate: expected float, got 'x'"),
        ({"inner": {"channels": [8, "a"]}}, r"Outer\.inner\.channels\[1\]: expected int, got 'a'"),
        ({"inner": 3}, r"Outer\.inner: expected Inner, got 3"),
        ({"pair": [1, "a", 2]}, r"Outer\.pair: expected 2 items, got 3"),
        ({"pair": 1}, r"Outer\.pair: expected tuple\[int, str\], got 1"),
        ({"maybe_rate": "fast"}, r"Outer\.maybe_rate: expected Optional\[float\], got 'fast'"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_with_the_field_name(data, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(Outer, data)


def test_bare_tuple_and_list_fields_keep_their_container_type():
    @dataclass
    class Bare:
        anything: tuple = ()
        names: list[str] = field(default_factory=list)
        extra: dict = field(default_factory=dict)

    cfg = config_from_dict(Bare, {"anything": [1, "a"], "names": ["x", "y"], "extra": {"k": 1}})
    assert cfg.anything == (1, "a") and isinstance(cfg.anything, tuple), f"got {cfg.anything!r}"
    assert cfg.names == ["x", "y"] and cfg.extra == {"k": 1}
    with pytest.raises(ValueError, match=r"Bare\.names\[1\]: expected str, got 2"):
        config_from_dict(Bare, {"names": ["x", 2]})


def test_fixed_length_tuple_coerces_each_position_and_variadic_tuple_each_item():
    @dataclass
    class Pairs:
        xy: tuple[float, float] = (0.0, 0.0)
        many: tuple[float, ...] = ()

    cfg = config_from_dict(Pairs, {"xy": [1, 2], "many": [3, 4, 5]})
    assert cfg.xy == (1.0, 2.0) and all(type(v) is float for v in cfg.xy), f"got {cfg.xy!r}"
    assert cfg.many == (3.0, 4.0, 5.0) and all(type(v) is float for v in cfg.many), f"got {cfg.many!r}"


def test_optional_fields_keep_none_and_build_the_dataclass_from_a_dict():
    assert config_from_dict(Outer, {"maybe_inner": None, "maybe_rate": None}).maybe_inner is None
    cfg = config_from_dict(Outer, {"maybe_inner": {"channels": [1]}})
    assert cfg.maybe_inner == Inner(channels=(1,)), f"got {cfg.maybe_inner!r}"



@dataclass
class Pep604:
    inner: Inner | None = None
    rate: float | None = None
    xy: tuple[float, float] | None = None


def test_pep604_optional_fields_are_coerced_like_typing_optional():
    """`X | None` is read as `Optional[X]` (it was passed through raw once: a dict, an int, a list)."""
    cfg = config_from_dict(Pep604, {"inner": {"rate": 2}, "rate": 3, "xy": [1, 2]})
    assert isinstance(cfg.inner, Inner), f"`Inner | None` from a dict should build Inner, got {cfg.inner!r}"
    assert type(cfg.rate) is float, f"`float | None` from 3 should be 3.0, got {cfg.rate!r}"
    assert cfg.xy == (1.0, 2.0) and isinstance(cfg.xy, tuple), f"expected the tuple (1.0, 2.0), got {cfg.xy!r}"
    assert config_from_dict(Pep604, {"inner": None}).inner is None
