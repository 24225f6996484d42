"""CEL conditions, compiled when rules load and evaluated over probe results.

Budgets, checked before the CEL library sees an expression: its parser
recurses natively (about 12,000 chained operators overflow the stack and kill
the process: no exception to catch), and nested comprehensions multiply their
work (seven levels blocked the event loop 7.6 s per alert). The library's own
panics surface as ``BaseException`` subclasses: they become ConditionErrors.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.machinery
import importlib.util
import re
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


MAX_SOURCE = 4096  # characters
MAX_NESTING = 32  # brackets of any kind
MAX_COMPREHENSIONS = 2  # nested map/filter/all/exists/exists_one
# The cost of a comprehension grows as N^weight in its list's length N: the
# binding builds a map/filter result by copying it at each step (N²);
# all/exists/exists_one are linear. Nested, the weights add up: `exists` inside
# `exists` is N², `map` inside `exists` N³. Conditions may cost at most N², so
# cutting probe data to N items (bot/rules/sample.py) bounds how long one
# evaluation holds the GIL. Measured: bench/rule_eval.py.
MAX_DEGREE = 2
_WEIGHT = {"map": 2, "filter": 2, "all": 1, "exists": 1, "exists_one": 1}
_COMPREHENSION = re.compile(r"\.\s*(map|filter|all|exists_one|exists)\s*\(")
_FATAL = (KeyboardInterrupt, SystemExit, asyncio.CancelledError, MemoryError)


class ConditionError(ValueError):
    pass


def _budget_problem(source: str) -> str | None:
    if len(source) > MAX_SOURCE:
        return f"expression is {len(source)} characters; the limit is {MAX_SOURCE}"
    depth = deepest = 0
    comprehension_depth: list[int] = []  # bracket depth at which each open comprehension began
    weights: list[int] = []  # the cost exponent of each open comprehension
    deepest_comprehension = degree = 0
    costliest = ""
    i = 0
    while i < len(source):
        ch = source[i]
        if ch in "\"'":  # skip string literals: brackets inside do not nest
            end = source.find(ch, i + 1)
            while end != -1 and source[end - 1] == "\\":
                end = source.find(ch, end + 1)
            i = len(source) if end == -1 else end + 1
            continue
        if ch == "." and (m := _COMPREHENSION.match(source, i)):
            comprehension_depth.append(depth + 1)
            weights.append(_WEIGHT[m.group(1)])
            deepest_comprehension = max(deepest_comprehension, len(comprehension_depth))
            if sum(weights) > degree:
                degree, costliest = sum(weights), m.group(1)
            depth += 1
            deepest = max(deepest, depth)
            i = m.end()
            continue
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            if comprehension_depth and comprehension_depth[-1] == depth:
                comprehension_depth.pop()
                weights.pop()
            depth -= 1
        i += 1
    if deepest > MAX_NESTING:
        return f"nesting is {deepest} deep; the limit is {MAX_NESTING}"
    if deepest_comprehension > MAX_COMPREHENSIONS:
        return (
            f"{deepest_comprehension} nested comprehensions (map/filter/all/exists); "
            f"the limit is {MAX_COMPREHENSIONS}"
        )
    if degree > MAX_DEGREE:
        return (
            f"its cost grows as N^{degree} in the length N of the lists it iterates "
            f"(`{costliest}` inside another comprehension; map and filter cost N² each); "
            f"the limit is N^{MAX_DEGREE}: use exists/all inside a comprehension, or let "
            "the probe compute the figure"
        )
    return None


@dataclass(frozen=True)
class Condition:
    source: str
    program: Any
    names: frozenset[str] = frozenset()  # the variables it reads: only those are converted

    @classmethod
    def compile(cls, source: str) -> Condition:
        problem = _budget_problem(source)
        if problem:
            raise ConditionError(problem)
        try:
            program = _cel().compile(source)
            return cls(source, program, frozenset(program.variables()))
        except _FATAL:
            raise
        except BaseException as exc:  # ValueError with the parser's report, or a panic
            raise ConditionError(str(exc).strip() or type(exc).__name__) from exc

    def evaluate(self, variables: dict[str, Any]) -> bool:
        """True/False, or ConditionError when the expression cannot be evaluated
        (a field missing because its probe failed, a type mismatch, a non-bool)."""
        try:
            # converting a variable costs ~1.3 µs per value with the GIL held:
            # a condition that reads one probe does not pay for the others
            result = self.program.execute({k: v for k, v in variables.items() if k in self.names})
        except KeyError as exc:
            raise ConditionError(f"no such field {exc.args[0]!r}") from exc
        except _FATAL:
            raise
        except BaseException as exc:
            raise ConditionError(str(exc).strip() or type(exc).__name__) from exc
        if not isinstance(result, bool):
            raise ConditionError(f"expected a boolean, got {type(result).__name__} {result!r}")
        return result
