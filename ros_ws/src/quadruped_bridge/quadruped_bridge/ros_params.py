"""Parameters declared up front from a frozen dataclass, read once into an instance.

Every node of the stack keeps its settings in a typed dataclass (one docstring per field); this
declares one ROS parameter per field, with the field's default and its docstring as the
parameter's description, and builds the dataclass from the values the node was started with
(`--ros-args -p name:=value` or `--params-file`). A value of the wrong type fails at start-up with
the parameter's name, instead of deep inside a callback.

A field whose default is itself a dataclass is a group: its fields are declared under the field's
name as a prefix (the bridges' `safety: SafetyConfig` gives `safety.kp`, `safety.command_timeout`,
...; in a params file, a nested map `safety: {kp: 50.0}`), so a group shared by several nodes is
defined once.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (attribute docstrings)."""
    docs: dict[str, str] = {}
    try:
        tree = ast.parse(inspect.getsource(cls))
    except (OSError, TypeError):
        return docs
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if isinstance(nxt, ast.Expr) and isinstance(getattr(nxt, "value", None), ast.Constant):
                docs[node.target.id] = str(nxt.value.value).strip()
    return docs


def _to_param(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _from_param(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"parameter {name!r} must be a bool, got {value!r}")
        return value
    if isinstance(default, float) and isinstance(value, int):
        return float(value)
    if isinstance(default, tuple):
        return tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
    if type(value) is not type(default):
        raise ValueError(f"parameter {name!r} must be {type(default).__name__}, got {value!r}")
    return value


def declare_config(node, cls: type[T], prefix: str = "", defaults: T | None = None) -> T:
    """Declare one parameter per field of `cls` on `node` and return the configured instance
    (defaults: `defaults`, else `cls()`; a dataclass-valued field is a group under `name.`)."""
    from rcl_interfaces.msg import ParameterDescriptor

    docs = field_docs(cls)
    defaults = cls() if defaults is None else defaults
    values = {}
    for f in dataclasses.fields(cls):
        default = getattr(defaults, f.name)
        name = prefix + f.name
        if dataclasses.is_dataclass(default):
            values[f.name] = declare_config(node, type(default), f"{name}.", default)
            continue
        desc = ParameterDescriptor(description=docs.get(f.name, ""))
        value = node.declare_parameter(name, _to_param(default), desc).value
        values[f.name] = _from_param(name, value, default)
    return cls(**values)


def params_file_problems(cls: type, params: dict[str, Any], prefix: str = "") -> list[str]:
    """What is wrong with one node's `ros__parameters` map (as a params file holds it) for config
    `cls`: names the node does not declare (ROS ignores those silently) and values of the wrong type.
    A group field takes a nested map, or dotted names (`safety.kp`)."""
    defaults = cls()
    by_name = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(cls)}
    problems = []
    for key, value in params.items():
        head, dot, rest = key.partition(".")
        name = prefix + key
        if head not in by_name:
            problems.append(f"{name}: not a parameter of {cls.__name__}")
            continue
        default = by_name[head]
        if dataclasses.is_dataclass(default):
            nested = {rest: value} if dot else value
            if not isinstance(nested, dict):
                problems.append(f"{name}: a group ({type(default).__name__}): expected a map, got {value!r}")
            else:
                problems += params_file_problems(type(default), nested, f"{prefix}{head}.")
            continue
        ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int)) or (
            isinstance(default, tuple) and isinstance(value, list))
        if dot or not ok or (isinstance(value, bool) and not isinstance(default, bool)):
            problems.append(f"{name}: {value!r} is not a {type(default).__name__}")
    return problems
