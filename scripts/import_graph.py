"""The import graph between the packages of ``bot/``, and the rules it must keep.

    python -m scripts.import_graph            # the graph, one line per package
    python -m scripts.import_graph --check    # exit 1 naming every broken rule
    python -m scripts.import_graph --root DIR # another checkout (e.g. an old commit)

A "package" is a top-level part of ``bot``: a subpackage (``bot/alerts``) or a
module (``bot/config.py``). Every import counts, also the ones inside functions
and under ``TYPE_CHECKING``: a cycle a type checker needs is still a cycle to a
reader. ``tests/unit/test_architecture.py`` runs the check in the suite.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
# modules allowed over MAX_LINES, each with the reason (none: keep it that way)
TOO_LONG_ALLOWED: dict[str, str] = {}
# the edges of the tree: only these may import the composition root, and the core
# (everything else) never imports them
OUTER = {"bot.web", "bot.cli"}
NOT_CORE = {"bot.notify", "bot.web", "bot.cli", "bot.app"}
APART = [("bot.probes", "bot.actions")]  # neither imports the other


def modules() -> Iterator[Path]:
    yield from sorted(p for p in (ROOT / "bot").rglob("*.py"))


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def imported(path: Path) -> Iterator[str]:
    """Every ``bot.…`` module ``path`` imports (absolute imports: the project's style)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("bot."):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "bot":
                yield from (f"bot.{a.name}" for a in node.names)
            elif node.module.startswith("bot."):
                yield node.module


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in modules():
        src = package_of(module_name(path))
        if src == "bot":
            continue
        deps = graph.setdefault(src, set())
        deps.update(package_of(m) for m in imported(path) if package_of(m) != src)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def line_counts() -> dict[str, int]:
    return {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in modules()}


def problems() -> list[str]:
    graph = package_graph()
    found = [f"import cycle between packages: {' ↔ '.join(c)}" for c in cycles(graph)]
    for path, lines in sorted(line_counts().items()):
        if lines > MAX_LINES and path not in TOO_LONG_ALLOWED:
            found.append(f"{path} has {lines} lines (at most {MAX_LINES})")
    for a, b in APART:
        for src, dst in ((a, b), (b, a)):
            if dst in graph.get(src, set()):
                found.append(f"{src} imports {dst}: they must not know each other")
    for src, deps in sorted(graph.items()):
        if src not in NOT_CORE:
            for dst in sorted(deps & {"bot.notify", "bot.web", "bot.cli"}):
                found.append(f"core package {src} imports {dst}")
        if "bot.app" in deps and src not in OUTER:
            found.append(f"{src} imports the composition root bot.app (only web/cli may)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 on a broken rule")
    parser.add_argument("--sizes", type=int, default=0, help="also list the N largest modules")
    parser.add_argument("--root", type=Path, help="the checkout to read (default: this one)")
    args = parser.parse_args(argv)
    if args.root:
        global ROOT
        ROOT = args.root.resolve()
    graph = package_graph()
    for src in sorted(graph):
        print(f"{src} → {', '.join(sorted(graph[src])) or '-'}")
    if args.sizes:
        print()
        for path, lines in sorted(line_counts().items(), key=lambda kv: -kv[1])[: args.sizes]:
            print(f"{lines:5d} {path}")
    if args.check:
        found = problems()
        print()
        print("\n".join(found) if found else "architecture rules: all kept")
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
