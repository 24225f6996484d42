"""The rules of the tree (docs/architecture.md), checked on every run: no import
cycle between two packages of ``bot/``; no module over 400 lines (two known
exceptions, being split); probes and actions never import each other; the core
never imports ``bot.notify``, ``bot.web`` or ``bot.cli``; only ``web``/``cli``
import the composition root. ``python -m scripts.import_graph --check`` prints
the graph and the same verdict."""

from __future__ import annotations

from pathlib import Path

from scripts import import_graph


def test_the_package_graph_keeps_the_rules() -> None:
    assert import_graph.problems() == []


def test_the_check_finds_a_cycle_an_oversized_module_and_a_core_import(tmp_path: Path) -> None:
    """The check itself works: a tree that breaks each rule is reported."""
    bot = tmp_path / "bot"
    for pkg in ("alerts", "remediation", "probes", "actions", "notify"):
        (bot / pkg).mkdir(parents=True)
        (bot / pkg / "__init__.py").write_text("")
    (bot / "__init__.py").write_text("")
    (bot / "alerts" / "a.py").write_text("from bot.remediation import r\n")
    (bot / "remediation" / "r.py").write_text(
        "def f():\n    from bot.alerts import a\n    import bot.notify.x\n"
    )
    (bot / "probes" / "p.py").write_text("from bot.actions.k import thing\n" + "x = 1\n" * 401)
    old = import_graph.ROOT
    import_graph.ROOT = tmp_path
    try:
        found = import_graph.problems()
    finally:
        import_graph.ROOT = old
    assert "import cycle between packages: bot.alerts ↔ bot.remediation" in found
    assert "bot/probes/p.py has 402 lines (at most 400)" in found
    assert "bot.probes imports bot.actions: they must not know each other" in found
    assert "core package bot.remediation imports bot.notify" in found


def test_no_module_is_exempt_from_the_size_rule() -> None:
    assert import_graph.TOO_LONG_ALLOWED == {}
