"""The runbook table of docs/rules.md, generated from the rules so it cannot drift:
runbook → alert → scenario → actions (manual/auto and their gates) → validation.

    python scripts/rules_table.py                  # print the table
    python scripts/rules_table.py --write          # into docs/rules.md (or --write FILE)
    python scripts/rules_table.py --check          # exit 1 when docs/rules.md is stale

The table goes between ``<!-- rules-table:start -->`` and ``<!-- rules-table:end -->``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.rules import Rule, RuleLoadError, RuleSet  # noqa: E402
from bot.rules.schema import ActionCall  # noqa: E402

DOC = ROOT / "docs" / "rules.md"
START = "<!-- rules-table:start -->"
END = "<!-- rules-table:end -->"
HEADER = (
    "| Runbook | Alert | Scenario | Actions | Validation |",
    "|---|---|---|---|---|",
)


def duration(seconds: float) -> str:
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def cell(text: str) -> str:
    """Markdown table cell: pipes escaped, one line."""
    return " ".join(text.replace("|", "\\|").split())


def action_text(call: ActionCall) -> str:
    o = call.options
    notes = [f"**{o.mode}**" if o.mode != "manual" else "manual"]
    if o.confirm or call.destructive:
        notes.append("confirm")
    if o.approvals > 1:
        notes.append(f"{o.approvals} approvals")
    if o.cooldown:
        notes.append(f"cooldown {duration(o.cooldown)}")
    if o.max_per_hour:
        notes.append(f"≤{o.max_per_hour}/h")
    return f"`{call.name}` ({', '.join(notes)})"


def validation_text(rule: Rule) -> str:
    if not rule.validation:
        return "—"
    parts = []
    for v in rule.validation:
        held = f" for {duration(v.for_seconds)}" if v.for_seconds else ""
        parts.append(
            f"`{cell(v.expr)}` → `{cell(v.holds.source)}`{held} (within {duration(v.within_seconds)})"
        )
    return "<br>".join(parts)


def rule_rows(rule: Rule, rules_link: str = "../rules") -> list[str]:
    prefix = Path(rule.source).name.split("-", 1)[0]
    number = str(int(prefix)) if prefix.isdigit() else prefix
    title = rule.runbook.split(":", 1)[-1].strip() or rule.name
    runbook = f"[{number}]({rules_link}/{Path(rule.source).name}) {cell(title)}"
    if rule.severity:
        runbook += f" ({rule.severity})"
    alerts = ", ".join(f"`{a}`" for a in rule.alertnames) or "—"
    rows = []
    for i, scenario in enumerate(rule.scenarios):
        acts = [action_text(rule.actions[a]) for a in scenario.actions]
        if scenario.steps:
            n = len(scenario.steps)
            acts.append(f"checklist ({n} step{'s' if n > 1 else ''})")
        first = i == 0
        rows.append(
            "| "
            + " | ".join(
                [
                    runbook if first else "",
                    alerts if first else "",
                    f"`{scenario.name}`",
                    ", ".join(acts) or "—",
                    validation_text(rule) if first else "",
                ]
            )
            + " |"
        )
    return rows


def render_table(ruleset: RuleSet, doc: Path = DOC) -> str:
    """The table for ``doc``: its links to the rule files are relative to it."""
    rules_link = os.path.relpath(ROOT / "rules", doc.resolve().parent)
    lines = list(HEADER)
    for rule in ruleset.rules:
        lines += rule_rows(rule, Path(rules_link).as_posix())
    return "\n".join(lines) + "\n"


def replace_block(text: str, table: str) -> str:
    """``text`` with the table between the markers replaced; ValueError without markers."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"markers {START} … {END} not found")
    return text[: start + len(START)] + "\n" + table + text[end:]


def load(rules: Path) -> RuleSet:
    from bot.app import load_builtins
    from bot.registry import actions, probes
    from bot.rules import load_rules

    load_builtins()
    return load_rules(rules, probes, actions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=Path, default=ROOT / "rules")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--write",
        type=Path,
        nargs="?",
        const=DOC,
        metavar="FILE",
        help=f"replace the table in FILE (default {DOC.relative_to(ROOT)})",
    )
    group.add_argument(
        "--check",
        type=Path,
        nargs="?",
        const=DOC,
        metavar="FILE",
        help=f"exit 1 if FILE's table is stale (default {DOC.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    target = args.write or args.check
    try:
        table = render_table(load(args.rules), target or DOC)
    except RuleLoadError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    if target is None:
        print(table, end="")
        return 0
    text = target.read_text(encoding="utf-8")
    try:
        updated = replace_block(text, table)
    except ValueError as exc:
        print(f"{target}: {exc}", file=sys.stderr)
        return 1
    if args.check:
        if updated != text:
            print(
                f"{target}: the runbook table is stale; run: python scripts/rules_table.py --write {target}",
                file=sys.stderr,
            )
            return 1
        return 0
    target.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
