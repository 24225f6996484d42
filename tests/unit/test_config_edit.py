"""Editing a value inside a ConfigMap entry keeps everything else as it was."""

from __future__ import annotations

import difflib
import json

import pytest

from bot.configmaps import edit as ce
from tests.fakes.kube_api.seed import APPSETTINGS_YAML


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def edit(text: str, entry: str, path: str, value: object) -> tuple[object, str]:
    doc = ce.load(text, entry)
    before = ce.set_value(doc, path, value)
    return before, ce.dump(doc)


def test_yaml_edit_changes_one_line_and_keeps_comments_and_order() -> None:
    before, after = edit(
        APPSETTINGS_YAML, "appsettings.yaml", "ProcessFramework.MaxConcurrentProcesses", 10
    )
    assert before == 20
    assert changed_lines(APPSETTINGS_YAML, after) == [
        "-  MaxConcurrentProcesses: 20",
        "+  MaxConcurrentProcesses: 10",
    ]
    _, pool = edit(APPSETTINGS_YAML, "appsettings.yaml", "Database.MaxPoolSize", 20)
    # an end-of-line comment stays on its line, at its column
    assert "  MaxPoolSize: 20   # keep below PostgreSQL max_connections / replicas" in pool


def test_yaml_quoting_style_is_kept_and_ambiguous_strings_are_quoted() -> None:
    text = "A:\n  Name: 'old'  # quoted\n  Tag: x\n"
    _, out = edit(text, "c.yaml", "A.Name", "new")
    assert out == "A:\n  Name: 'new'  # quoted\n  Tag: x\n"
    _, out = edit(text, "c.yaml", "A.Tag", "true as text")
    assert "Tag: true as text" in out
    _, out = edit(text, "c.yaml", "A.Tag", "123")  # a string that looks like a number
    assert ce.load(out, "c.yaml").data["A"]["Tag"] == "123"


def test_json_stays_json_with_its_indentation() -> None:
    source = json.dumps(
        {"Database": {"MaxPoolSize": 50, "Name": "honua"}, "Flags": [1, 2]}, indent=4
    )
    before, out = edit(source + "\n", "appsettings.json", "Database.MaxPoolSize", 20)
    assert before == 50
    assert changed_lines(source, out) == [
        '-        "MaxPoolSize": 50,',
        '+        "MaxPoolSize": 20,',
    ]
    assert out.endswith("}\n")
    compact = '{"a":{"b":1}}'
    _, out = edit(compact, "settings", "a.b", 2)  # detected by content, no extension
    assert out == '{"a":{"b":2}}'


def test_missing_key_names_the_path_and_the_keys_at_that_level() -> None:
    doc = ce.load(APPSETTINGS_YAML, "appsettings.yaml")
    with pytest.raises(ce.ConfigEditError) as exc:
        ce.set_value(doc, "ProcessFramework.MaxProcesses", 1)
    assert str(exc.value) == (
        "ProcessFramework.MaxProcesses does not exist; keys at ProcessFramework: "
        "MaxConcurrentProcesses, ProcessTimeouts"
    )
    with pytest.raises(ce.ConfigEditError, match="keys at the top level: ProcessFramework"):
        ce.get_value(doc.data, "Nope.Key")
    with pytest.raises(ce.ConfigEditError, match="is a section"):
        ce.set_value(doc, "LlmProvider.Azure", 1)
    with pytest.raises(ce.ConfigEditError, match="bad key"):
        ce.split_path("a..b")


def test_keys_match_case_insensitively_like_dotnet_configuration() -> None:
    doc = ce.load(APPSETTINGS_YAML, "appsettings.yaml")
    assert ce.canonical_path(doc.data, "processframework.maxconcurrentprocesses") == (
        "ProcessFramework.MaxConcurrentProcesses"
    )
    assert ce.get_value(doc.data, "llmprovider.azure.enabled") is True


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("0.5", 0.5),
        ("true", True),
        ("False", False),
        ("null", None),
        ("Azure", "Azure"),
        ("gpt-4o", "gpt-4o"),
        ("yes", "yes"),
        (" 7 ", 7),
        ("a: b: c", "a: b: c"),
    ],
)
def test_new_values_are_typed_as_yaml_would_type_them(text: str, value: object) -> None:
    parsed = ce.parse_scalar(text)
    assert parsed == value and type(parsed) is type(value)


def test_structures_and_empty_values_are_refused() -> None:
    with pytest.raises(ce.ConfigEditError, match="not a single value"):
        ce.parse_scalar("[1, 2]")
    with pytest.raises(ce.ConfigEditError, match="empty"):
        ce.parse_scalar("  ")


def test_scalar_text_round_trips_or_says_it_cannot() -> None:
    for value in (20, 1.5, True, None, "OpenAI"):
        text = ce.scalar_text(value)
        assert text is not None and ce.parse_scalar(text) == value
    assert ce.scalar_text("123") is None  # would come back as a number


def test_type_mismatch_guards_numbers_and_flags() -> None:
    assert ce.type_mismatch(20, "ten") == "it holds a number (20) and 'ten' is not one"
    assert ce.type_mismatch(True, 1) is not None
    assert ce.type_mismatch(20, 10.5) is None
    assert ce.type_mismatch("OpenAI", "Azure") is None


def test_per_key_diff_of_two_versions() -> None:
    _, after = edit(APPSETTINGS_YAML, "appsettings.yaml", "LlmProvider.Provider", "OpenAI")
    assert ce.diff_entry("appsettings.yaml", APPSETTINGS_YAML, after) == [
        ("LlmProvider.Provider", "Azure", "OpenAI")
    ]
    old = {"appsettings.yaml": APPSETTINGS_YAML, "LOG_LEVEL": "Information"}
    new = {"appsettings.yaml": after, "EXTRA": "1"}
    assert ce.diff_data(old, new) == [
        ("appsettings.yaml: LlmProvider.Provider", "Azure", "OpenAI"),
        ("LOG_LEVEL", "Information", ce.ABSENT),
        ("EXTRA", ce.ABSENT, "1"),
    ]
    assert ce.diff_entry("x.yaml", "a: [", "a: 1") == [("", "a: [", "a: 1")]


def test_broken_documents_are_reported_not_raised_as_tracebacks() -> None:
    with pytest.raises(ce.ConfigEditError, match=r"appsettings\.json: not valid JSON"):
        ce.load("{oops", "appsettings.json")
    with pytest.raises(ce.ConfigEditError, match=r"appsettings\.yaml: not valid YAML"):
        ce.load("a: [1, 2\nb: c", "appsettings.yaml")
