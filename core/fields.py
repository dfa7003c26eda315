"""Type checks for the frozen config dataclasses a caller builds in code.

A value of the wrong type used to fail later with a bare ``TypeError`` (``EncodeOptions(crf="18")``)
or, worse, be taken at its truth value (``SignOptions(ai="no")`` declared the clip generated).
:func:`check_field_types` refuses it up front with the package's own error, naming the field.
"""

from __future__ import annotations

import functools
import numbers
import types
import typing
from dataclasses import fields
from pathlib import PurePath
from typing import Any

import numpy as np

from vidprov.errors import VidprovError


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits ``hint`` as far as it is checked here: plain types, ``None``,
    unions and ``Literal``; generics are checked for their container type only."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    if origin is not None:  # tuple[...], dict[...]: the container, not each item
        return isinstance(value, origin)
    if hint is bool:
        return isinstance(value, bool | np.bool_)
    if hint is int:  # numpy's integers too (a CRF drawn by a random generator)
        return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if isinstance(hint, type):
        return isinstance(value, hint) or (issubclass(hint, PurePath) and isinstance(value, str))
    return True  # a forward reference or another construct: not checked


def _name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        return " or ".join(_name(h) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    name = getattr(origin if origin is not None else hint, "__name__", str(hint))
    words = {"bool": "true or false", "float": "a number", "int": "a whole number",
             "str": "text", "tuple": "a tuple", "dict": "a dict", "list": "a list"}  # fmt: skip
    return words.get(name, f"a {name}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation only a type checker can resolve
        return {}


def check_field_types(obj: Any, error: type[VidprovError]) -> None:
    """Check each field of the dataclass ``obj`` against its annotation.

    Raises:
        VidprovError: (``error``) a field whose value is of another type, named with what it
            takes and what it got.
    """
    hints = _hints(type(obj))
    for f in fields(obj):
        hint = hints.get(f.name)
        value = getattr(obj, f.name)
        if hint is not None and not _matches(value, hint):
            raise error(
                f"{type(obj).__name__}.{f.name} must be {_name(hint)}, got {value!r} "
                f"({type(value).__name__})"
            )
        plain = _plain(value)
        if plain is not value:  # numpy's numbers and Fractions break JSON and c2pa later
            object.__setattr__(obj, f.name, plain)


def _plain(value: Any) -> Any:
    """A number of another kind (numpy's, a ``Fraction``) as Python's own."""
    if type(value) in (bool, int, float, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value
