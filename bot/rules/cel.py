"""CEL conditions, compiled when rules load and evaluated over probe results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cel


class ConditionError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    source: str
    program: Any

    @classmethod
    def compile(cls, source: str) -> Condition:
        try:
            return cls(source, cel.compile(source))
        except Exception as exc:  # the binding raises ValueError with the parser's report
            raise ConditionError(str(exc).strip()) from exc

    def evaluate(self, variables: dict[str, Any]) -> bool:
        """True/False, or ConditionError when the expression cannot be evaluated
        (a field missing because its probe failed, a type mismatch, a non-bool)."""
        try:
            result = self.program.execute(variables)
        except KeyError as exc:
            raise ConditionError(f"no such field {exc.args[0]!r}") from exc
        except Exception as exc:
            raise ConditionError(str(exc).strip()) from exc
        if not isinstance(result, bool):
            raise ConditionError(f"expected a boolean, got {type(result).__name__} {result!r}")
        return result
