"""Warnings ``rules check`` prints for rules that load but are risky.

A label value interpolated into PromQL without the ``promql`` filter can end
the string literal and change the query (``job="x"} or vector(1) #``); the
filter escapes it.
"""

from __future__ import annotations

import re
from typing import Any

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
_LABEL_REF = re.compile(r"\blabels\b")


def _unescaped(expr: Any) -> list[str]:
    if not isinstance(expr, str):
        return []
    return [
        m.group(0)
        for m in _EXPRESSION.finditer(expr)
        if _LABEL_REF.search(m.group(1)) and not re.search(r"\|\s*promql\b", m.group(1))
    ]


def promql_warnings(ruleset: Any) -> list[str]:
    out: list[str] = []
    for rule in ruleset.rules:
        where = f"{rule.source}: rule {rule.name}"
        places = [
            (f"probes.{c.name}.{c.type}.{key}", value)
            for c in rule.probes
            if c.type.startswith("prometheus.")
            for key, value in c.params.items()
        ]
        places += [(f"validation.{i}.expr", v.expr) for i, v in enumerate(rule.validation)]
        for field, expr in places:
            for found in _unescaped(expr):
                out.append(
                    f"warning: {where}: {field}: label interpolated into PromQL without "
                    f"escaping: use {found.replace('}}', '| promql }}')}"
                )
    return out
