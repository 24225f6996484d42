"""Alertmanager label-matcher semantics, as rule authors rely on them."""

from __future__ import annotations

from typing import Any

import pytest

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.registry import actions, probes
from bot.rules.loader import compile_rule
from bot.rules.matchers import Matcher, MatcherError, MatchType
from bot.rules.schema import Rule

NS = {"namespace": "honua"}


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        # equality
        ('namespace="honua"', NS, True),
        ('namespace="honua"', {"namespace": "honua-dev"}, False),
        ('namespace="honua"', {}, False),
        ('namespace!="honua"', NS, False),
        ('namespace!="honua"', {"namespace": "other"}, True),
        ('namespace!="honua"', {}, True),
        # regexes are fully anchored, as in Alertmanager
        ('namespace=~"hon"', NS, False),
        ('namespace=~"onua"', NS, False),
        ('namespace=~"hon.*"', NS, True),
        ('namespace=~"honua|other"', NS, True),
        ('namespace=~"honua|other"', {"namespace": "honua-x"}, False),
        ('namespace=~"honua"', {"namespace": "honua\n"}, False),
        ('namespace!~"hon"', NS, True),
        ('namespace!~"hon.*"', NS, False),
        ('namespace!~"honua"', {"namespace": "honua\n"}, True),
        # a missing label has the empty string as its value
        ('foo=""', NS, True),
        ('foo=""', {"foo": "x"}, False),
        ('foo!=""', NS, False),
        ('foo!=""', {"foo": "x"}, True),
        ('foo=~".*"', NS, True),
        ('foo=~".+"', NS, False),
        ('foo!~".+"', NS, True),
        ('namespace=~"honua|"', {}, True),
    ],
)
def test_matcher_semantics(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(matcher).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('a="b"', "a", MatchType.EQUAL, "b"),
        ('a!="b"', "a", MatchType.NOT_EQUAL, "b"),
        ('a=~"b.*"', "a", MatchType.REGEX, "b.*"),
        ('a!~"b.*"', "a", MatchType.NOT_REGEX, "b.*"),
        ('  a  =  "b"  ', "a", MatchType.EQUAL, "b"),
        ("a=b", "a", MatchType.EQUAL, "b"),
        ("a=~b|c", "a", MatchType.REGEX, "b|c"),
        ("a=", "a", MatchType.EQUAL, ""),
        ('a=""', "a", MatchType.EQUAL, ""),
        (r'a="say \"hi\""', "a", MatchType.EQUAL, 'say "hi"'),
        (r'a="C:\\temp"', "a", MatchType.EQUAL, "C:\\temp"),
        (r'a="line1\nline2"', "a", MatchType.EQUAL, "line1\nline2"),
        ('a="x, y {z}"', "a", MatchType.EQUAL, "x, y {z}"),
        ("_under_score9=v", "_under_score9", MatchType.EQUAL, "v"),
    ],
)
def test_parse(text: str, name: str, op: MatchType, value: str) -> None:
    m = Matcher.parse(text)
    assert (m.name, m.type, m.value) == (name, op, value)


def test_escaped_regex_matches_literally() -> None:
    m = Matcher.parse(r'instance=~"10\\.0\\.0\\.1:9090"')
    assert m.matches({"instance": "10.0.0.1:9090"})
    assert not m.matches({"instance": "10x0x0x1:9090"})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "namespace",
        '="x"',
        '1abc="x"',
        'foo-bar="x"',
        'foo=="x"',
        'foo~="x"',
        'foo="x',
        'foo="x"y',
        "foo=a,b",
        'foo="a" bar="b"',
    ],
)
def test_bad_syntax_names_the_matcher(text: str) -> None:
    with pytest.raises(MatcherError, match="bad matcher") as info:
        Matcher.parse(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ['foo=~"("', 'foo!~"[a-"', 'foo=~"*"'])
def test_bad_regex_names_the_matcher(text: str) -> None:
    with pytest.raises(MatcherError, match="bad regex") as info:
        Matcher.parse(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        'a="b"',
        'a!="b"',
        'a=~"b|c.*"',
        'a!~"b"',
        "a=plain",
        'a=""',
        r'a="quote \" and backslash \\ and newline \n"',
        r'a=~"10\\.0\\..*"',
    ],
)
def test_str_round_trips(text: str) -> None:
    m = Matcher.parse(text)
    again = Matcher.parse(str(m))
    assert (again.name, again.type, again.value) == (m.name, m.type, m.value)
    for value in ("b", "c1", "plain", "", "10.0.1", 'quote " and backslash \\ and newline \n'):
        assert again.matches({"a": value}) is m.matches({"a": value})


def rule(match: dict[str, Any]) -> Rule:
    compiled, errors = compile_rule({"name": "r", "match": match}, "test.yaml", probes, actions)
    assert errors == []
    assert compiled is not None
    return compiled


@pytest.mark.parametrize(
    ("match", "labels", "expected"),
    [
        ({"alertname": "A"}, {"alertname": "A"}, True),
        ({"alertname": "A"}, {"alertname": "B"}, False),
        ({"alertname": "A"}, {}, False),
        ({"alertname": ["A", "B"]}, {"alertname": "B"}, True),
        ({"alertname": ["A", "B"]}, {"alertname": "C"}, False),
        ({"alertname": "A", "labels": ['env="prod"']}, {"alertname": "A", "env": "prod"}, True),
        ({"alertname": "A", "labels": ['env="prod"']}, {"alertname": "A", "env": "dev"}, False),
        ({"alertname": "A", "labels": ['env="prod"']}, {"alertname": "B", "env": "prod"}, False),
        (
            {"labels": ['env=~"prod|stage"', 'team!="db"']},
            {"alertname": "Any", "env": "stage", "team": "web"},
            True,
        ),
        ({"labels": ['env=~"prod|stage"', 'team!="db"']}, {"env": "stage", "team": "db"}, False),
        ({"labels": ['alertname=~"Redis.*"']}, {"alertname": "RedisDown"}, True),
    ],
)
def test_rule_matches_alertnames_and_matchers(
    match: dict[str, Any], labels: dict[str, str], expected: bool
) -> None:
    assert rule(match).matches(labels) is expected
