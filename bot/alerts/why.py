"""Why a scenario was chosen: each clause of its ``when`` with the values it read.

A condition is split at its top-level ``||`` and, inside the alternative that
held (or each alternative, for a scenario that did not), at its ``&&``; each
clause is evaluated on its own and shown with the probe fields it names, e.g.
``llm_rate_limit.value > 0.0 (llm_rate_limit.value = 0.097)``. Pure functions
over the CEL scope the diagnosis used, so ``rules test``, the Slack message and
``GET /incidents/{id}`` give the same explanation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.models import ScenarioCheck
from bot.rules import Rule
from bot.rules.cel import Condition, ConditionError

MAX_VALUE = 60
_PATH = re.compile(r"\b([a-z_][a-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(\()?")
MAX_CLAUSE = 120
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def split_top(source: str, op: str) -> list[str]:
    """``source`` split at ``op`` outside parentheses and string literals."""
    parts: list[str] = []
    depth, start, i, quote = 0, 0, 0, ""
    while i < len(source):
        ch = source[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and source.startswith(op, i):
            parts.append(source[start:i])
            start = i + len(op)
            i += len(op) - 1
        i += 1
    parts.append(source[start:])
    return [_unwrap(" ".join(p.split())) for p in parts if p.strip()]


def _unwrap(text: str) -> str:
    """Drop parentheses that enclose the whole clause (not those of ``(a) || (b)``)."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0 and i < len(text) - 1:
                return text
        text = text[1:-1].strip()
    return text


def _lookup(scope: dict[str, Any], name: str, path: str) -> tuple[bool, Any]:
    value: Any = scope.get(name)
    for part in path.strip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _show(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    elif isinstance(value, str):
        text = f'"{value}"'
    elif value is None:
        text = "null"
    elif isinstance(value, list):
        text = f"[{len(value)} items]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {_show(v)}" for k, v in list(value.items())[:4]) + "}"
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def values_read(clause: str, scope: dict[str, Any]) -> list[str]:
    """``name.field = value`` for each probe field the clause names (``ok`` flags left out)."""
    out: list[str] = []
    for m in _PATH.finditer(_STRING.sub("", clause)):
        name, path = m.group(1), m.group(2)
        if m.group(3):  # a method or macro call: the value is what it is called on
            path = path.rsplit(".", 1)[0]
        if name not in scope or path in ("", ".ok", ".configured"):
            continue
        found, value = _lookup(scope, name, path)
        text = f"{name}{path} = {_show(value)}" if found else f"{name}{path} missing"
        if text not in out:
            out.append(text)
    return out


def _holds(clause: str, scope: dict[str, Any]) -> bool | None:
    try:
        return Condition.compile(clause).evaluate(scope)
    except ConditionError:
        return None


_GUARD = re.compile(r"^!?[a-z_][a-z0-9_.]*\.(ok|configured)$|^[a-z_][a-z0-9_.]* != null$")


_FLAG = re.compile(r"^(!?)([a-z_][a-z0-9_]*)\.(ok|configured)$")


def _failed_flag(clause: str) -> str | None:
    """``x.ok`` that did not hold reads "x did not answer", and so on."""
    m = _FLAG.match(clause)
    if m is None:
        return None
    negated, name, flag = m.groups()
    if flag == "ok":
        return f"{name} answered" if negated else f"{name} did not answer"
    return f"{name} is set up" if negated else f"{name} is not configured here"


def _clause(clause: str, scope: dict[str, Any]) -> str:
    values = values_read(clause, scope)
    shown = f"({clause})" if "||" in clause else clause
    if len(shown) > MAX_CLAUSE:
        shown = shown[: MAX_CLAUSE - 1] + "…"
    return f"{shown} ({', '.join(values)})" if values else shown


def _meaningful(parts: list[str]) -> list[str]:
    """Leave out guards (``x.ok``, ``x.value != null``) unless nothing else is left."""
    return [p for p in parts if not _GUARD.match(p)] or parts


def check(name: str, when: str, scope: dict[str, Any], held: bool) -> ScenarioCheck:
    """The clauses that made ``when`` hold, or for each alternative the first that did not."""
    alternatives = split_top(when, "||")
    clauses: list[str] = []
    for alternative in alternatives:
        parts = split_top(alternative, "&&")
        results = [(p, _holds(p, scope)) for p in parts]
        if held and all(r is True for _, r in results):
            shown = [_clause(p, scope) for p in _meaningful(parts)]
            return ScenarioCheck(scenario=name, held=True, clauses=shown)
        if not held:
            failing = next(((p, r) for p, r in results if r is not True), None)
            if failing is not None:
                p, r = failing
                flag = _failed_flag(p) if r is False else None
                clauses.append(
                    flag or ("not " if r is False else "not evaluated: ") + _clause(p, scope)
                )
    if held:  # no single alternative held on its own (unusual shape): show the whole
        return ScenarioCheck(scenario=name, held=True, clauses=[_clause(when.strip(), scope)])
    return ScenarioCheck(scenario=name, held=False, clauses=clauses)


def explain(rule: Rule, scope: dict[str, Any], chosen: str | None) -> list[ScenarioCheck]:
    """One check per scenario tried, in order, ending with the chosen one (if any)."""
    out: list[ScenarioCheck] = []
    for scenario in rule.scenarios:
        held = scenario.name == chosen
        out.append(check(scenario.name, scenario.when.source, scope, held))
        if held:
            break
    return out


def lines(checks: Iterable[ScenarioCheck]) -> list[str]:
    """The chosen scenario first, then briefly why each earlier one did not hold."""
    checks = list(checks)
    chosen = [c.text() for c in checks if c.held]
    return chosen + [c.text() for c in checks if not c.held]
