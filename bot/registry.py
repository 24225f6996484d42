"""Name → implementation lookup for probes and actions.

A probe or action declares its parameters as a pydantic model in its signature
(``async def query(params: PrometheusQuery, ctx: ProbeContext)``); the registry
reads the model from the annotation, so rule files are validated against exactly
what the code accepts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel


@dataclass(frozen=True)
class Entry:
    name: str
    params_model: type[BaseModel]
    func: Callable[..., Any]
    description: str
    extra: dict[str, Any] = field(default_factory=dict)
    impl: Any = None  # the instance, when a class was registered (actions)

    def params_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema()


class Registry:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, **extra: Any) -> Callable[[Any], Any]:
        def decorator(target: Any) -> Any:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            # a class (an action) is instantiated; its ``describe`` carries the model
            impl: Any = target() if inspect.isclass(target) else None
            func = impl.describe if impl is not None else target
            hints = get_type_hints(func)
            first = next(iter(inspect.signature(func).parameters))
            model = hints.get(first)
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{self.kind} {name!r}: first parameter must be a pydantic model")
            doc = inspect.getdoc(target) or ""
            if impl is not None and getattr(impl, "destructive", False):
                extra.setdefault("destructive", True)
            self._entries[name] = Entry(
                name, model, func, doc.split("\n\n")[0], dict(extra), impl=impl
            )
            return target

        return decorator

    def get(self, name: str) -> Entry | None:
        return self._entries.get(name)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[n] for n in self.names())


probes = Registry("probe")
actions = Registry("action")
