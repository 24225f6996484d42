""" "Did you mean …?" for rule files: the keys a misspelt one could have been.

pydantic reports an unknown key as ``extra_forbidden`` at its location; the
model at that location (walked through lists, dicts and optionals) knows the
keys it accepts, and difflib picks the close ones.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean X?)`` for a close choice, else ``""``."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def _unwrap(tp: Any) -> list[Any]:
    """The types a value of ``tp`` may be: optionals and unions split."""
    if get_origin(tp) in (Union, types.UnionType):
        return [t for arg in get_args(tp) for t in _unwrap(arg) if t is not type(None)]
    return [tp]


def _step(tp: Any, part: Any) -> list[Any]:
    found: list[Any] = []
    for t in _unwrap(tp):
        origin = get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            for name, f in t.model_fields.items():
                if part in (name, f.alias):
                    found.append(f.annotation)
        elif origin is list and isinstance(part, int):
            found += list(get_args(t)[:1])
        elif origin is dict and isinstance(part, str):
            found += list(get_args(t)[1:2])
    return found


def keys_at(model: type[BaseModel], loc: Sequence[Any]) -> set[str]:
    """Keys the mapping at ``loc`` accepts (``loc`` ends with the unknown key)."""
    current: list[Any] = [model]
    for part in loc[:-1]:
        current = [t for tp in current for t in _step(tp, part)]
    keys: set[str] = set()
    for tp in current:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel):
                keys |= {f.alias or name for name, f in t.model_fields.items()}
    return keys
