"""What a rule file may cost to load: its size, its depth, and its node count
with aliases expanded (a 508-byte file of nested anchors expands to millions of
nodes: parsing is quick, everything after it is not)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_NODES = 200_000  # the bundled rules have a few thousand


class TooBig(ValueError):
    pass


def parse(yaml: YAML, path: Path) -> Any:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise TooBig(f"{size} bytes; the limit is {MAX_FILE_BYTES}")
    text = path.read_text(encoding="utf-8")
    # deeper than MAX_DEPTH is refused before the (recursive) parser sees it
    if _bracket_depth(text) > MAX_DEPTH * 2:
        raise TooBig(f"nested more than {MAX_DEPTH} levels")
    data = yaml.load(text)
    check_nodes(data)
    return data


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def check_nodes(data: Any) -> None:
    """Walk ``data`` as later steps will (aliases expanded), within budget."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise TooBig(f"more than {MAX_NODES} nodes once aliases are expanded")
        if depth > MAX_DEPTH:
            raise TooBig(f"nested more than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key, value in node.items():
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
