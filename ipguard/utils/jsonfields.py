"""A dataclass's fields read from JSON someone else may have written (a fingerprint's header,
a member.json's ``hyper``): each value present is checked against its field's type, so a
mistyped value is refused by name instead of failing later. The fields read are those typed
``X | None`` with X one of :data:`KINDS`."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

# What a JSON value of each field type may be, and how the type is named in an error.
KINDS: dict[type, tuple[tuple[type, ...], str]] = {
    str: ((str,), "text"), int: ((int,), "an integer"), float: ((int, float), "a number"),
    dict: ((dict,), "a JSON object")}


class FieldTypeError(ValueError):
    """A value that is not of its field's type: ``name``, ``value`` and the type in words."""

    def __init__(self, name: str, value: Any, words: str) -> None:
        super().__init__(f"{name}={value!r} is not {words}")
        self.name, self.value, self.words = name, value, words


def typed_fields(cls: type, data: Mapping[str, Any], whole_floats: bool = False
                 ) -> dict[str, Any]:
    """The values of ``data`` for ``cls``'s fields (those present and not None), each as its
    field's type: floats from ints; with ``whole_floats``, ints from whole floats (100.0, as
    some JSON writers give counts). Never a bool for a number."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = data.get(f.name)
        if value is None:
            continue
        hint = hints[f.name]
        if typing.get_origin(hint) not in (typing.Union, types.UnionType):
            continue   # only ``X | None`` fields are read (not ``extra`` and the like)
        inner = next(a for a in typing.get_args(hint) if a is not type(None))
        kind = typing.get_origin(inner) or inner
        if kind not in KINDS:
            continue
        if whole_floats and kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        accepted, words = KINDS[kind]
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise FieldTypeError(f.name, value, words)
        out[f.name] = float(value) if kind is float else value
    return out
