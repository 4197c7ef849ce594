"""Dataclass configs <-> plain dicts / JSON, so a saved model carries the config that built it."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A (nested) dataclass as JSON-able dict (tuples become lists)."""
    if not dataclasses.is_dataclass(cfg):
        raise TypeError(f"{cfg!r} is not a dataclass instance")
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


_SCALARS = (bool, int, float, str)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """``value`` as type ``tp`` (ints for floats, lists for tuples, dicts for dataclasses), or a
    ValueError naming the field (``where``), the expected type and the value."""
    origin = typing.get_origin(tp)
    if tp is Any or isinstance(tp, typing.TypeVar):
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, dict):
            return config_from_dict(tp, value, where)
        if isinstance(value, tp):
            return value
    elif tp is tuple or origin is tuple:
        if isinstance(value, (list, tuple)):
            return _coerce_tuple(typing.get_args(tp), value, where)
    elif origin is list or tp is list:
        if isinstance(value, (list, tuple)):
            (item,) = typing.get_args(tp) or (Any,)
            return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    elif origin is dict or tp is dict:
        if isinstance(value, dict):
            return value
    elif origin is typing.Union or origin is types.UnionType:  # Optional[X] and X | None
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(arg, value, where)
            except ValueError:
                continue
    elif origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp in _SCALARS:
        if type(value) is tp or (tp is int and isinstance(value, int) and not isinstance(value, bool)):
            return value
    else:
        return value  # a type this reader does not check (Path, enums, ...)
    raise ValueError(f"{where}: expected {_name(tp)}, got {value!r}")


def _coerce_tuple(args: tuple, value: list | tuple, where: str) -> tuple:
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if args:
        if len(args) != len(value):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(value)}: {list(value)!r}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    return tuple(value)


def _name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def config_from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` (as written by :func:`config_to_dict`).

    Unknown keys are refused loudly: a config from another code version must not be half-read. So
    is a value of the wrong type (``"big"`` for an int, ``True`` for a float, a value outside a
    Literal's choices), with the field's dotted name (``where`` is the prefix of a nested config).
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown fields for {cls.__name__}: {sorted(unknown)}")
    prefix = f"{where}." if where else f"{cls.__name__}."
    kwargs = {k: _coerce(hints[k], v, prefix + k) for k, v in data.items()}
    return cls(**kwargs)
