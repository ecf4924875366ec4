"""Typed configuration: dataclasses hold the defaults, YAML overrides them, every value is checked.

One mechanism for every configuration the project reads (the experiment files, their ``base:``
chains, command-line overrides):

- ``from_dict(cls, data)`` builds dataclass ``cls`` from a mapping. Each key must be a field;
  each value must have the field's annotated type (``int``, ``float``, ``bool``, ``str``,
  ``list[T]``, ``dict[str, T]``, ``X | None``, a nested dataclass) and lie within the range the
  field declares with ``bounded`` (``minimum``, ``maximum``, ``choices``; for a list, each item;
  for a mapping, each value, and ``keys`` its keys; ``pair``: a ``[low, high]`` list).
- ``load_yaml_config(cls, path, section)`` reads a YAML file (and the files it names with
  ``base:``, relative to it) into ``cls``; errors name the file and line.
- ``override(cfg, {"env.num_envs": 8})`` applies dotted overrides with ``dataclasses.replace``,
  checked the same way. A loaded configuration is never changed in place.

Every problem is a ``ConfigError``: one line naming the file (and line), the key, the value and
what is allowed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

_MAX_SHOWN = 60  # characters of a bad value shown in an error


class ConfigError(ValueError):
    """A configuration value, key or file that cannot be used (the message is one line)."""


def bounded(default: Any, *, minimum: float | None = None, maximum: float | None = None,
            choices: tuple[Any, ...] | None = None, exclusive_minimum: bool = False, pair: bool = False,
            keys: tuple[str, ...] | None = None) -> Any:
    """A dataclass field with a declared range (checked by ``from_dict`` and ``override``).

    Args:
        default: The default value (``None``, a number, a string; not a list or a mapping).
        minimum, maximum: Inclusive bounds of a number, or of each item of a list or value of a
            mapping (``exclusive_minimum``: the value must exceed ``minimum``).
        choices: The allowed values.
        pair: The value is a list ``[low, high]`` with ``low <= high``.
        keys: The allowed keys of a mapping.
    """
    meta = {"minimum": minimum, "maximum": maximum, "choices": choices, "exclusive_minimum": exclusive_minimum,
            "pair": pair, "keys": keys}
    return dataclasses.field(default=default, metadata={"range": meta})


def shown(value: Any) -> str:
    """``repr(value)`` cut to a bounded length (errors never echo a whole file)."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


# ------------------------------------------------------------------------------------- types
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return f"a mapping ({tp.__name__})"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    """``value`` as type ``tp`` (an int given for a float becomes a float); ConfigError if it is not one."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} = {shown(value)}: expected {_type_name(tp)}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} = {shown(value)}: expected {_type_name(tp)}")
        (item,) = typing.get_args(tp)
        return [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} = {shown(value)}: expected a mapping")
        _, item = typing.get_args(tp)
        return {str(k): _convert(v, item, f"{where}.{k}") for k, v in value.items()}
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str)}.get(tp)
    if ok is None:
        return value
    if not ok(value):
        raise ConfigError(f"{where} = {shown(value)}: expected {_type_name(tp)}")
    return float(value) if tp is float else value


def _check_range(value: Any, meta: Mapping[str, Any], where: str) -> None:
    if value is None:
        return
    if isinstance(value, list):
        if meta.get("pair") and (len(value) != 2 or value[0] > value[1]):
            raise ConfigError(f"{where} = {shown(value)}: expected [low, high] with low <= high")
        for i, item in enumerate(value):
            _check_range(item, meta, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        allowed = meta.get("keys")
        for key, item in value.items():
            if allowed is not None and key not in allowed:
                raise ConfigError(f"{where}.{key}: unknown key; valid keys: {', '.join(allowed)}")
            _check_range(item, meta, f"{where}.{key}")
        return
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where} = {shown(value)}: allowed: {', '.join(str(c) for c in choices)}")
    low, high = meta.get("minimum"), meta.get("maximum")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value:  # NaN
            raise ConfigError(f"{where} = {shown(value)}: expected a finite number")
        if low is not None and (value <= low if meta.get("exclusive_minimum") else value < low):
            raise ConfigError(f"{where} = {shown(value)}: must be {'>' if meta.get('exclusive_minimum') else '>='} "
                              f"{low:g}" + (f" and <= {high:g}" if high is not None else ""))
        if high is not None and value > high:
            raise ConfigError(f"{where} = {shown(value)}: must be <= {high:g}"
                              + (f" and >= {low:g}" if low is not None else ""))


def check_value(cls: type, name: str, value: Any, where: str) -> Any:
    """``value`` checked (and converted) against field ``name`` of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    value = _convert(value, hints[name], where)
    _check_range(value, field.metadata.get("range", {}), where)
    return value


# ---------------------------------------------------------------------------------- building
def from_dict(cls: type, data: Any, where: str = "config", base: Any = None,
              lines: Mapping[str, int] | None = None) -> Any:
    """Build dataclass ``cls`` from a mapping: the keys given override ``base`` (default ``cls()``).

    Nested dataclasses are merged the same way, so overriding one key of a nested section keeps
    the section's other defaults.

    Args:
        cls: The dataclass.
        data: The mapping (a YAML section).
        where: How errors name the source (``file: env``).
        base: The configuration whose values are kept where ``data`` is silent.
        lines: Line of each dotted key in the source file (``load_yaml_config`` passes them).

    Raises:
        ConfigError: An unknown key (the message lists the valid ones), a value of the wrong type
            or out of its declared range.
    """
    base = base if base is not None else cls()
    lines = lines or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {shown(data)}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        label = _label(where, name, lines)
        if name not in known:
            raise ConfigError(f"{label}: unknown key; valid keys: {', '.join(sorted(known))}")
        current = getattr(base, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            kwargs[name] = from_dict(type(current), value, _child(where, name), current, _sub(lines, name))
        else:
            kwargs[name] = check_value(cls, name, value, label)
    return dataclasses.replace(base, **kwargs)


def _child(where: str, name: str) -> str:
    return f"{where}.{name}" if where and not where.endswith(": ") else f"{where}{name}"


def _label(where: str, name: str, lines: Mapping[str, int]) -> str:
    """``file:line: key.path`` for errors."""
    key = _child(where, name)
    line = lines.get(name)
    if line is None or ": " not in key:
        return key
    file, _, path = key.partition(": ")
    return f"{file}:{line}: {path}"


def _sub(lines: Mapping[str, int], name: str) -> dict[str, int]:
    prefix = name + "."
    return {k[len(prefix):]: v for k, v in lines.items() if k.startswith(prefix)}


def override(cfg: Any, values: Mapping[str, Any], where: str = "") -> Any:
    """A copy of ``cfg`` with dotted keys replaced (``{"env.num_envs": 8}``), each checked; ``cfg`` is unchanged.

    Args:
        cfg: A dataclass instance.
        values: New values by dotted key.
        where: What errors name as the source (``--num-envs``).
    """
    for dotted, value in values.items():
        label = f"{where}: {dotted}" if where else dotted
        cfg = _replace_path(cfg, dotted.split("."), value, label)
    return cfg


def _replace_path(obj: Any, parts: list[str], value: Any, label: str) -> Any:
    names = [f.name for f in dataclasses.fields(obj)]
    if parts[0] not in names:
        raise ConfigError(f"{label}: unknown key {parts[0]!r}; valid keys: {', '.join(sorted(names))}")
    if len(parts) == 1:
        return dataclasses.replace(obj, **{parts[0]: check_value(type(obj), parts[0], value, label)})
    return dataclasses.replace(obj, **{parts[0]: _replace_path(getattr(obj, parts[0]), parts[1:], value, label)})


# ------------------------------------------------------------------------------------- YAML
def _key_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """1-based line of every mapping key, by dotted path."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}{key.value}"
            out[path] = key.start_mark.line + 1
            out.update(_key_lines(value, path + "."))
    return out


def read_yaml(path: str | Path) -> tuple[Any, dict[str, int]]:
    """A YAML file's data and the line of each key; ConfigError (file and line) when it is not readable YAML."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read it as text ({type(err).__name__})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    return data, (_key_lines(node) if node is not None else {})


def load_yaml_config(cls: type, path: str | Path, section: str | None = None) -> Any:
    """Read ``cls`` from a YAML file (its ``section`` when given) on top of its ``base:`` file, if any.

    ``base: other.yaml`` (relative to the file) starts from another file of the same layout, so a
    file states only what differs.

    Raises:
        ConfigError: Missing or unreadable file, invalid YAML, unknown keys, wrong types or ranges.
    """
    path = Path(path)
    data, lines = read_yaml(path)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {shown(data)}")
    base = None
    if "base" in data:
        base_name = data.pop("base")
        if not isinstance(base_name, str):
            raise ConfigError(f"{path}:{lines.get('base')}: base = {shown(base_name)}: expected a file name")
        base = load_yaml_config(cls, path.parent / base_name, section)
    if section is not None:
        data, lines = data.get(section) or {}, _sub(lines, section)
        where = f"{path}: {section}"
    else:
        where = f"{path}: "
    return from_dict(cls, data, where, base, lines)
