"""Tuning commands: ``rules replay`` (a rule change against past incidents),
``stats`` (how each rule and action has fared) and ``timeline`` (an incident's
history for a postmortem). They read the serving bot's store
(``HONUA_BOT_REDIS_URL``) and never run a probe or an action."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot.config import Settings
from bot.rules.durations import parse_duration
from bot.store.base import Store

SettingsLoader = Callable[[argparse.Namespace], Settings]
T = TypeVar("T")
NO_SHARED_STORE = (
    "note: HONUA_BOT_REDIS_URL is not set, so this command sees only its own empty "
    "memory store, not a running bot's"
)
MAX_INCIDENTS = 100_000


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    from bot.store import MemoryStore, RedisStore

    store: Store
    if settings.store.redis_url is None:
        print(NO_SHARED_STORE, file=sys.stderr)
        store = MemoryStore()
    else:
        store = RedisStore(settings.store.redis_url.get_secret_value())
    try:
        return await work(store)
    finally:
        await store.close()


def _since(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise SystemExit(f"--since: {exc}") from exc


def _ruleset(path: Path) -> Any:
    from bot.app import load_builtins
    from bot.registry import actions, probes
    from bot.rules import RuleLoadError, load_rules

    load_builtins()
    try:
        return load_rules(path, probes, actions)
    except RuleLoadError as exc:
        raise SystemExit(f"rules in {path} do not load:\n" + "\n".join(exc.errors)) from exc


# rules replay ------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace, load: SettingsLoader) -> int:
    from bot.registry import actions
    from bot.rules import sample
    from bot.tuning import replay

    settings = load(args)
    live_path = args.live_rules or settings.resolved_rules_dir()
    try:
        seconds = _since(args.since)
        live, candidate = _ruleset(live_path), _ruleset(args.rules)
    except SystemExit as exc:
        print(exc.code, file=sys.stderr)
        return 2
    since = datetime.now(UTC) - timedelta(seconds=seconds)

    async def work(store: Store) -> list[Any]:
        if args.incident:
            found = await store.get_incident(args.incident)
            return [found] if found else []
        every = await store.list_incidents(None, MAX_INCIDENTS)
        return [i for i in every if replay.in_window(i, since)]

    incidents = asyncio.run(_with_store(settings, work))
    if args.incident and not incidents:
        print(
            f"no incident {args.incident} in the store (expired or never recorded)", file=sys.stderr
        )
        return 2
    diagnosed = [i for i in incidents if i.diagnosis is not None]
    limits = sample.Limits(settings.rule_data_max_items)
    results = replay.replay(diagnosed, live, candidate, actions, limits)
    skipped = len(incidents) - len(diagnosed)
    if args.json:
        body = {
            "live_rules": str(live_path),
            "candidate_rules": str(args.rules),
            "since": args.since,
            "incidents": [r.as_dict() for r in results],
            "summary": replay.summary_counts(results),
            "skipped": skipped,
        }
        print(json.dumps(body, indent=2, default=str))
    else:
        print(f"replaying {len(diagnosed)} incident(s): live {live_path} → candidate {args.rules}")
        for line in replay.report_lines(results, args.verbose):
            print(line)
        print(replay.summary_line(results, skipped))
    changed = any(r.category != replay.UNCHANGED for r in results)
    return 1 if args.fail_on_change and changed else 0


# stats -------------------------------------------------------------------------------
def cmd_stats(args: argparse.Namespace, load: SettingsLoader) -> int:
    from bot.audit import AuditLog
    from bot.tuning import stats

    settings = load(args)
    try:
        seconds = _since(args.since)
    except SystemExit as exc:
        print(exc.code, file=sys.stderr)
        return 2

    async def work(store: Store) -> list[Any]:
        return await AuditLog(store).read(seconds, limit=1_000_000)

    entries = asyncio.run(_with_store(settings, work))
    rules = stats.compute(entries, args.rule or "")
    if args.json:
        print(json.dumps({"since": args.since, "rules": [r.as_dict() for r in rules]}, indent=2))
    else:
        for line in stats.report_lines(rules, args.since):
            print(line)
    return 0


# timeline ----------------------------------------------------------------------------
def cmd_timeline(args: argparse.Namespace, load: SettingsLoader) -> int:
    from bot.tuning import timeline

    settings = load(args)
    found = asyncio.run(_with_store(settings, lambda store: timeline.load(store, args.incident)))
    if found is None:
        print(
            f"no incident {args.incident} in the store (expired or never recorded)", file=sys.stderr
        )
        return 2
    incident, steps = found
    if args.json:
        print(json.dumps(timeline.as_dict(incident, steps), indent=2))
    else:
        print(timeline.markdown(incident, steps), end="")
    return 0


def _bind(func: Callable[[argparse.Namespace, SettingsLoader], int], load: SettingsLoader) -> Any:
    return lambda args: func(args, load)


def add_replay(rules: Any, load: SettingsLoader) -> None:
    """Register ``rules replay`` on the ``rules`` sub-command."""
    rp = rules.add_parser(
        "replay",
        help="re-classify recorded incidents under candidate rules and show what changes",
    )
    rp.add_argument("--rules", type=Path, required=True, metavar="CANDIDATE", help="rules to try")
    rp.add_argument(
        "--live-rules", type=Path, help="rules to compare with (default: HONUA_BOT_RULES)"
    )
    rp.add_argument("--since", default="7d", help="incidents that fired this recently (7d)")
    rp.add_argument("--incident", help="only this incident")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--verbose", action="store_true", help="list unchanged incidents' details too")
    rp.add_argument(
        "--fail-on-change", action="store_true", help="exit 1 if any incident changes (CI)"
    )
    rp.set_defaults(func=_bind(cmd_replay, load))


def add_commands(sub: Any, load: SettingsLoader) -> None:
    """Register ``stats`` and ``timeline``."""
    st = sub.add_parser("stats", help="per rule and action: proposed, pressed, refused, verified…")
    st.add_argument("--since", default="30d", help="how far back in the audit (30d)")
    st.add_argument("--rule", help="only this rule")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_bind(cmd_stats, load))

    tl = sub.add_parser("timeline", help="an incident's history as Markdown, for a postmortem")
    tl.add_argument("incident", help="incident id (inc-…)")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(func=_bind(cmd_timeline, load))
