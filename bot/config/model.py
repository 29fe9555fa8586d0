"""Validated, typed records for the settings, the services file and the health profiles.

Each record is a dataclass; building one (from keywords, or from parsed TOML with ``parse``) checks
and converts every field, and a mistake raises ``Invalid`` with the key path and one sentence worded
as pydantic words it. The bot used pydantic before: it and its compiled core were ~9 MB of an idle
``chatops serve``'s 87 MB, for a few dozen checks (bench/RESULTS.md, "Idle memory", #17).

Only what those records use is supported: ``str``, ``int``, ``float``, ``bool``, ``Path``, ``Any``,
``Literal``, ``X | None``, ``list[X]``, ``dict[str, X]`` and nested records; the constraints ``ge``,
``gt``, ``le``, ``pattern``, ``min_length``, ``max_length``; a field's ``alias``.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class Invalid(ValueError):
    """A value a record refuses: where (``loc``, the key path) and why (``msg``)."""

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {msg}" if loc else msg)
        self.loc = loc
        self.msg = msg


def rule(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, alias: str | None = None,
         **constraints: Any) -> Any:
    """A field with constraints (``ge``, ``gt``, ``le``, ``pattern``, ``min_length``, ``max_length``)
    and an optional alias, the key it is read under."""
    meta = {**constraints, **({"alias": alias} if alias else {})}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=meta)


def validates(*names: str) -> Callable[[Callable[[Any], Any]], staticmethod]:
    """Mark a function that checks (and may convert) the named fields after their type; a ValueError it
    raises is reported as ``Value error, <its message>`` at that field."""
    def mark(fn: Callable[[Any], Any]) -> staticmethod:
        fn.__validates__ = names  # type: ignore[attr-defined]
        return staticmethod(fn)
    return mark


class Record:
    """Base of the records; subclasses are ``@dataclass(kw_only=True)`` classes.

    ``extra`` says what happens to an unknown key: ``"forbid"`` refuses it, ``"ignore"`` drops it.
    ``check`` runs after every field is valid (a ValueError it raises is reported at the record)."""

    extra: ClassVar[str] = "forbid"
    # The fields given rather than defaulted (pydantic's ``model_fields_set``).
    fields_set: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        given = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        values = _fields(type(self), given, (), keys_are_names=True)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        _after(self, ())

    def check(self) -> None:
        """Checks across fields; override to add some."""

    @classmethod
    def parse(cls, data: Any, loc: tuple[str | int, ...] = ()) -> typing.Self:
        """Build from a mapping (parsed TOML, the environment), checking every field."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise Invalid(loc, f"Input should be a valid dictionary or instance of {cls.__name__}")
        values = _fields(cls, data, loc, keys_are_names=False)
        record = cls.__new__(cls)
        for name, value in values.items():
            object.__setattr__(record, name, value)
        object.__setattr__(record, "fields_set", frozenset(n for n in values if n in data or _key(cls, n) in data))
        _after(record, loc)
        return record


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _validators(cls: type) -> dict[str, list[Callable[[Any], Any]]]:
    out: dict[str, list[Callable[[Any], Any]]] = {}
    for klass in reversed(cls.__mro__):
        for attr in vars(klass).values():
            fn = getattr(attr, "__func__", None)
            for name in getattr(fn, "__validates__", ()):
                out.setdefault(name, []).append(fn)
    return out


def _key(cls: type, name: str) -> str:
    return next(f.metadata.get("alias", name) for f in dataclasses.fields(cls) if f.name == name)


def _fields(cls: type, data: dict, loc: tuple[str | int, ...], *, keys_are_names: bool) -> dict[str, Any]:
    """Every field in order (a missing one takes its default), then unknown keys; the first problem raises."""
    hints, checks = _hints(cls), _validators(cls)
    values: dict[str, Any] = {}
    known: set[str] = set()
    for f in dataclasses.fields(cls):
        alias = f.metadata.get("alias")
        key = f.name if keys_are_names or alias is None or alias not in data else alias
        known.update((f.name, alias) if alias else (f.name,))
        if key not in data:
            if f.default is not dataclasses.MISSING:
                values[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                values[f.name] = f.default_factory()
            else:
                raise Invalid((*loc, key), "Field required")
            continue
        value = _convert(hints[f.name], data[key], (*loc, key))
        _constrain(f.metadata, value, (*loc, key))
        for fn in checks.get(f.name, ()):
            try:
                value = fn(value)
            except ValueError as exc:
                raise Invalid((*loc, key), f"Value error, {exc}") from None
        values[f.name] = value
    if cls.extra == "forbid":  # type: ignore[attr-defined]
        for key in data:
            if key not in known:
                raise Invalid((*loc, key), "Extra inputs are not permitted")
    return values


def _after(record: Record, loc: tuple[str | int, ...]) -> None:
    try:
        record.check()
    except ValueError as exc:
        if isinstance(exc, Invalid):
            raise
        raise Invalid(loc, f"Value error, {exc}") from None


def _convert(hint: Any, value: Any, loc: tuple[str | int, ...]) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (types.UnionType, typing.Union):  # only X | None
        if value is None:
            return None
        return _convert(next(a for a in args if a is not type(None)), value, loc)
    if origin is Literal:
        if value in args:
            return value
        shown = [repr(a) for a in args]
        raise Invalid(loc, f"Input should be {', '.join(shown[:-1])} or {shown[-1]}" if len(shown) > 1
                      else f"Input should be {shown[0]}")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise Invalid(loc, "Input should be a valid list")
        return [_convert(args[0], item, (*loc, i)) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise Invalid(loc, "Input should be a valid dictionary")
        return {_convert(args[0], k, (*loc, k)): _convert(args[1], v, (*loc, k)) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.parse(value, loc)
    if hint is str:
        if isinstance(value, str):
            return value
        raise Invalid(loc, "Input should be a valid string")
    if hint is bool:
        return _bool(value, loc)
    if hint is int:
        return _int(value, loc)
    if hint is float:
        return _float(value, loc)
    if hint is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise Invalid(loc, "Input is not a valid path")
    raise TypeError(f"unsupported field type {hint!r}")


def _bool(value: Any, loc: tuple[str | int, ...]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str | int):
        raise Invalid(loc, "Input should be a valid boolean, unable to interpret input")
    raise Invalid(loc, "Input should be a valid boolean")


def _int(value: Any, loc: tuple[str | int, ...]) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise Invalid(loc, "Input should be a valid integer, got a number with a fractional part")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value.strip())
            except ValueError:
                number = float("nan")
            if number.is_integer():
                return int(number)
            raise Invalid(loc, "Input should be a valid integer, unable to parse string as an integer") from None
    raise Invalid(loc, "Input should be a valid integer")


def _float(value: Any, loc: tuple[str | int, ...]) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise Invalid(loc, "Input should be a valid number, unable to parse string as a number") from None
    raise Invalid(loc, "Input should be a valid number")


def _constrain(meta: Any, value: Any, loc: tuple[str | int, ...]) -> None:
    if value is None:
        return
    if "le" in meta and not value <= meta["le"]:
        raise Invalid(loc, f"Input should be less than or equal to {meta['le']}")
    if "ge" in meta and not value >= meta["ge"]:
        raise Invalid(loc, f"Input should be greater than or equal to {meta['ge']}")
    if "gt" in meta and not value > meta["gt"]:
        raise Invalid(loc, f"Input should be greater than {meta['gt']}")
    if "pattern" in meta and not re.fullmatch(meta["pattern"], value):  # every pattern here is ^…$, whole value
        raise Invalid(loc, f"String should match pattern '{meta['pattern']}'")
    what, unit = ("String", "character") if isinstance(value, str) else ("List", "item")
    after = "" if isinstance(value, str) else " after validation"
    if "min_length" in meta and len(value) < meta["min_length"]:
        n = meta["min_length"]
        raise Invalid(loc, f"{what} should have at least {n} {unit}{'s' if n != 1 else ''}{after}"
                           + ("" if isinstance(value, str) else f", not {len(value)}"))
    if "max_length" in meta and len(value) > meta["max_length"]:
        n = meta["max_length"]
        raise Invalid(loc, f"{what} should have at most {n} {unit}{'s' if n != 1 else ''}{after}"
                           + ("" if isinstance(value, str) else f", not {len(value)}"))
