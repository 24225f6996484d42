"""CEL conditions, compiled when rules load and evaluated over probe results."""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@functools.cache
def _cel() -> Any:
    """The CEL binding's compiled core, imported on the first condition.

    ``import cel`` also imports the package's command-line tool (prompt_toolkit,
    rich: ~24 MB of the bot's ~38 MB for CEL); the extension module alone is
    what conditions need, so it is loaded by itself when it can be found."""
    if "cel" in sys.modules:
        return sys.modules["cel"]
    spec = importlib.util.find_spec("cel")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        for path in sorted(Path(folder).glob("cel.*.so")) + sorted(Path(folder).glob("cel.*.pyd")):
            loader = importlib.machinery.ExtensionFileLoader("cel.cel", str(path))
            found = importlib.util.spec_from_file_location("cel.cel", path, loader=loader)
            if found is None:
                continue
            module = importlib.util.module_from_spec(found)
            loader.exec_module(module)
            return module
    import cel  # another layout: the package as it is

    return cel


class ConditionError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    source: str
    program: Any

    @classmethod
    def compile(cls, source: str) -> Condition:
        try:
            return cls(source, _cel().compile(source))
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
