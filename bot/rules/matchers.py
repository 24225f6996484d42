"""Alertmanager label matchers: ``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``.

Semantics follow Alertmanager: regexes are fully anchored (``^(?:re)$``), and a
label that is absent has the empty string as its value, so ``foo=""`` matches an
alert without ``foo`` and ``foo!=""`` requires it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


_MATCHER = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^"\s,{}]*)\s*$"""
)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class MatcherError(ValueError):
    pass


def _unquote(raw: str) -> str:
    if not (raw.startswith('"') and raw.endswith('"')):
        return raw
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    pattern: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str) -> Matcher:
        m = _MATCHER.match(text)
        if not m:
            raise MatcherError(
                f'bad matcher {text!r}: expected name="value", name!="value", '
                'name=~"regex" or name!~"regex"'
            )
        kind = MatchType(m["op"])
        value = _unquote(m["value"])
        pattern = None
        if kind in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                pattern = re.compile(f"^(?:{value})$")
            except re.error as exc:
                raise MatcherError(f"bad regex in matcher {text!r}: {exc}") from exc
        return cls(m["name"], kind, value, pattern)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return actual == self.value
        if self.type is MatchType.NOT_EQUAL:
            return actual != self.value
        assert self.pattern is not None
        # fullmatch: Python's `$` also matches before a trailing newline; Go's does not
        found = self.pattern.fullmatch(actual) is not None
        return found if self.type is MatchType.REGEX else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{escaped}"'


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
