"""Edit one value inside a configuration document (a ConfigMap entry) the way a
careful human would: YAML round-trips through ruamel.yaml (comments, key order,
quoting and the other keys stay as they were), JSON stays JSON with its own
indentation. Pure: text in, text out; no I/O.

Paths are dotted (``ProcessFramework.MaxConcurrentProcesses``); a number indexes
a list. A key that is not spelled exactly matches a single key that differs only
in case, because .NET configuration (what reads these files) ignores case.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.util import load_yaml_guess_indent

ABSENT = "(not set)"  # how a diff shows a key one side lacks
Format = Literal["yaml", "json"]


class ConfigEditError(ValueError):
    """The document or the path cannot be used; the message says why, for humans."""


@dataclass
class Document:
    format: Format
    data: Any
    yaml: YAML | None = None
    json_indent: int | str | None = None
    json_separators: tuple[str, str] = (", ", ": ")
    trailing_newline: bool = True


def detect_format(text: str, entry: str) -> Format:
    """By the entry's extension, else by content (JSON parses as JSON)."""
    lower = entry.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if text.lstrip()[:1] in ("{", "["):
        try:
            json.loads(text)
        except ValueError:
            return "yaml"
        return "json"
    return "yaml"


def _round_trip(indent: int | None = None, block_seq_indent: int | None = None) -> YAML:
    y = YAML()  # round-trip mode
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long lines
    if indent:
        offset = block_seq_indent or 0
        y.indent(mapping=indent, sequence=indent + offset, offset=offset)
    return y


def load(text: str, entry: str) -> Document:
    fmt = detect_format(text, entry)
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigEditError(f"{entry}: not valid JSON: {exc}") from exc
        return Document(
            "json",
            data,
            json_indent=_json_indent(text),
            json_separators=(", ", ": ") if '": ' in text or "\n" in text else (",", ":"),
            trailing_newline=text.endswith("\n"),
        )
    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(text)
        y = _round_trip(indent, block_seq_indent)
        data = y.load(text)
    except YAMLError as exc:
        raise ConfigEditError(f"{entry}: not valid YAML: {_first_line(exc)}") from exc
    return Document("yaml", data, yaml=y, trailing_newline=text.endswith("\n"))


def dump(doc: Document) -> str:
    if doc.format == "json":
        text = json.dumps(
            doc.data,
            indent=doc.json_indent,
            separators=(",", ": ") if doc.json_indent is not None else doc.json_separators,
            ensure_ascii=False,
        )
        return text + "\n" if doc.trailing_newline else text
    assert doc.yaml is not None
    out = io.StringIO()
    doc.yaml.dump(doc.data, out)
    text = out.getvalue()
    return text if doc.trailing_newline else text.rstrip("\n")


def _json_indent(text: str) -> int | str | None:
    if "\n" not in text.strip():
        return None
    for line in text.splitlines()[1:]:
        m = re.match(r"^([ \t]+)\S", line)
        if m:
            lead = m.group(1)
            return "\t" * len(lead) if lead.startswith("\t") else len(lead)
    return 2


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


# --- paths -----------------------------------------------------------------------


def split_path(path: str) -> list[str]:
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ConfigEditError(f"bad key {path!r}: expected a dotted path like Section.Key")
    return parts


def _key_names(node: Any) -> str:
    if isinstance(node, dict):
        return ", ".join(str(k) for k in node) or "(none)"
    if isinstance(node, list):
        return f"indexes 0..{len(node) - 1}" if node else "(empty list)"
    return "(none: it is a single value)"


def _step(node: Any, part: str, walked: list[str]) -> tuple[Any, Any]:
    """(the key as the document spells it, the child) or raise naming what exists."""
    where = ".".join(walked) or "the top level"
    if isinstance(node, dict):
        if part in node:
            return part, node[part]
        folded = [k for k in node if isinstance(k, str) and k.lower() == part.lower()]
        if len(folded) == 1:
            return folded[0], node[folded[0]]
    elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return int(part), node[int(part)]
    path = ".".join([*walked, part])
    raise ConfigEditError(f"{path} does not exist; keys at {where}: {_key_names(node)}")


def get_value(data: Any, path: str) -> Any:
    node = data
    walked: list[str] = []
    for part in split_path(path):
        key, node = _step(node, part, walked)
        walked.append(str(key))
    return node


def canonical_path(data: Any, path: str) -> str:
    """The path as the document spells it (case-insensitive matches resolved)."""
    node = data
    walked: list[str] = []
    for part in split_path(path):
        key, node = _step(node, part, walked)
        walked.append(str(key))
    return ".".join(walked)


def set_value(doc: Document, path: str, value: Any) -> Any:
    """Set an existing single value; returns the value it had. Keeps a YAML
    string's quoting style. Refuses a path that names a section or a list."""
    parts = split_path(path)
    parent = doc.data
    walked: list[str] = []
    for part in parts[:-1]:
        key, parent = _step(parent, part, walked)
        walked.append(str(key))
    key, before = _step(parent, parts[-1], walked)
    if isinstance(before, dict | list):
        raise ConfigEditError(
            f"{path} is a section ({_key_names(before)}), not a single value; name one of its keys"
        )
    if isinstance(before, ScalarString) and isinstance(value, str):
        value = type(before)(value)
    parent[key] = value
    return plain(before)


def add_or_set_value(doc: Document, path: str, value: Any) -> tuple[str, Any]:
    """Set ``path``, creating it (and the sections above it) when it is missing, as a
    runbook's "add" step does. Returns (the path as spelled now, the value it had or
    ABSENT). Existing keys keep their spelling; a missing one is spelled as given."""
    parts = split_path(path)
    node = doc.data
    walked: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        try:
            key, child = _step(node, part, walked)
        except ConfigEditError:
            if not isinstance(node, dict):
                raise
            if last:
                node[part] = value
                return ".".join([*walked, part]), ABSENT
            child = type(node)()  # a CommentedMap under ruamel, a dict for JSON
            node[part] = child
            key = part
        else:
            if last:
                if isinstance(child, dict | list):
                    raise ConfigEditError(
                        f"{path} is a section ({_key_names(child)}), not a single value"
                    )
                if isinstance(child, ScalarString) and isinstance(value, str):
                    value = type(child)(value)
                node[key] = value
                return ".".join([*walked, str(key)]), plain(child)
        if child is not None and not isinstance(child, dict | list):
            where = ".".join([*walked, str(key)])
            raise ConfigEditError(f"{where} is a single value, so {path} cannot be added under it")
        if child is None:  # an empty YAML section (``Key:``) becomes a mapping
            child = type(node)()
            node[key] = child
        node = child
        walked.append(str(key))
    raise ConfigEditError(f"bad key {path!r}")  # unreachable: split_path gives parts


# --- values ----------------------------------------------------------------------

_SAFE = YAML(typ="safe", pure=True)


def parse_scalar(text: str) -> Any:
    """The value YAML 1.2 gives ``text``: ``"10"`` → 10, ``"0.5"`` → 0.5,
    ``"true"`` → True, ``"null"`` → None, anything else → the string itself."""
    stripped = text.strip()
    if not stripped:
        raise ConfigEditError("the new value is empty")
    try:
        value = _SAFE.load(stripped)
    except YAMLError:
        return stripped
    if isinstance(value, dict | list):
        raise ConfigEditError(f"the new value {stripped!r} is a YAML structure, not a single value")
    if isinstance(value, bool | int | float) or value is None:
        return value
    return stripped


def scalar_text(value: Any) -> str | None:
    """Text that :func:`parse_scalar` turns back into ``value``, or None when
    there is none (e.g. a string that looks like a number)."""
    value = plain(value)
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float | str):
        text = str(value)
    else:
        return None
    try:
        back = parse_scalar(text)
    except ConfigEditError:
        return None
    return text if back == value and type(back) is type(value) else None


def plain(value: Any) -> Any:
    """ruamel's scalar subclasses as plain Python values (for JSON and display)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --- diffs -----------------------------------------------------------------------


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every single value by dotted path."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(data, list) and data:
        out = {}
        for i, v in enumerate(data):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix: plain(data)}


def diff_values(old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """(path, before, after) for every single value that differs; ABSENT marks a side
    that lacks it."""
    a, b = flatten(old), flatten(new)
    out = []
    for path in [*a, *(p for p in b if p not in a)]:
        before, after = a.get(path, ABSENT), b.get(path, ABSENT)
        if before != after or type(before) is not type(after):
            out.append((path, before, after))
    return out


def diff_entry(
    entry: str, old_text: str | None, new_text: str | None
) -> list[tuple[str, Any, Any]]:
    """The per-key diff of two versions of one data entry: dotted paths inside it, or
    ``""`` when it differs as a whole (not a structured document, or only on one side)."""
    if old_text == new_text:
        return []
    whole = [
        (
            "",
            ABSENT if old_text is None else _preview(old_text),
            ABSENT if new_text is None else _preview(new_text),
        )
    ]
    if old_text is None or new_text is None:
        return whole
    try:
        old, new = load(old_text, entry).data, load(new_text, entry).data
    except ConfigEditError:
        return whole
    if not isinstance(old, dict | list) or not isinstance(new, dict | list):
        return whole
    return diff_values(old, new)


def diff_data(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, Any, Any]]:
    """Per-key diff of two ConfigMap ``data`` maps: ``entry: Dotted.Path`` for
    structured entries, the entry name for plain ones."""
    out: list[tuple[str, Any, Any]] = []
    for entry in [*old, *(e for e in new if e not in old)]:
        for path, before, after in diff_entry(entry, old.get(entry), new.get(entry)):
            out.append((f"{entry}: {path}" if path else entry, before, after))
    return out


def type_mismatch(before: Any, after: Any) -> str | None:
    """Why ``after`` cannot replace ``before`` (a number by a word, a flag by a number)."""
    before, after = plain(before), plain(after)
    if isinstance(before, bool) and not isinstance(after, bool):
        return f"it holds true/false ({str(before).lower()}) and {after!r} is neither"
    if (
        isinstance(before, int | float)
        and not isinstance(before, bool)
        and (isinstance(after, bool) or not isinstance(after, int | float))
    ):
        return f"it holds a number ({before}) and {after!r} is not one"
    return None


def _preview(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"
