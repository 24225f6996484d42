"""Operator commands: ``act`` (the CLI twin of the Slack buttons), ``audit``,
``pause`` / ``resume`` (the kill switch for automatic actions). They talk to the
same store as the serving bot (``HONUA_BOT_REDIS_URL``), so they see its
incidents, gates and audit trail."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.config import Settings

if TYPE_CHECKING:
    from bot.app import Service

SettingsLoader = Callable[[argparse.Namespace], Settings]
NO_SHARED_STORE = (
    "error: HONUA_BOT_REDIS_URL is not set: this command would see only its own empty "
    "memory store, not the running bot's; nothing was done"
)
STORE_EXIT = 3  # the bot's store is not there: nothing was done (or it may not have stuck)


async def _with_service(settings: Settings, work: Callable[[Service], Awaitable[int]]) -> int:
    from bot.app import Service

    service = Service(settings)
    if not service.rulebook.reload():
        print("rules failed to load:\n" + "\n".join(service.rulebook.last_error or []))
        return 2
    await service.store.start()
    try:
        problem = await _store_problem(service)
        if problem:
            print(f"error: {problem}; nothing was done", file=sys.stderr)
            return STORE_EXIT
        code = await work(service)
        problem = await _store_problem(service)
        if problem:  # lost while working: what was written may be in memory only
            print(f"error: {problem}; the change may not have been saved", file=sys.stderr)
            return STORE_EXIT
        return code
    finally:
        await service.engine.aclose()
        await service.adapters.aclose()
        await service.store.close()


async def _store_problem(service: Service) -> str | None:
    """Why the bot's shared store cannot be used, naming the setting to fix."""
    from bot.logs import mask_text

    try:
        await service.store.ping()
    except Exception as exc:
        return mask_text(f"the bot store at HONUA_BOT_REDIS_URL is not reachable ({exc})")
    return None


def _require_store(settings: Settings) -> bool:
    if settings.store.redis_url is None:
        print(NO_SHARED_STORE, file=sys.stderr)
        return False
    return True


# act -------------------------------------------------------------------------------
def cmd_act(args: argparse.Namespace, load: SettingsLoader) -> int:
    from bot.remediation.requests import Actor, Verdict

    settings = load(args)
    if not _require_store(settings):
        return STORE_EXIT
    actor = Actor(id=args.as_user or getpass.getuser(), source="cli")

    async def work(service: Service) -> int:
        # --no-wait: a serving replica follows the verification (see bot/remediation/handoff.py)
        service.engine.hand_off_verification = bool(args.no_wait)
        decision = await service.requests.request_action(
            args.incident, args.action, actor, dry_run=args.dry_run
        )
        print(f"{decision.verdict.value}: {decision.message}")
        if decision.gate and decision.verdict is Verdict.REFUSED:
            print(f"gate: {decision.gate}")
        plan = decision.details.get("plan", [])
        for line in plan if isinstance(plan, list) else []:
            print(f"  {line}")
        if decision.verdict is Verdict.ACCEPTED and args.no_wait:
            print(
                "verification handed to a serving honua-bot: it follows it to the end "
                f"(`honua-bot audit --incident {args.incident}` shows the outcome)"
            )
        if decision.verdict is Verdict.ACCEPTED and not args.no_wait:
            print("verifying (Ctrl-C stops waiting; the incident then says it was not verified)…")
            await service.engine.wait_background()
            incident = await service.store.get_incident(args.incident)
            run_id = decision.details.get("run")
            runs = incident.runs if incident else []
            run = next((r for r in reversed(runs) if r.run_id == run_id), None)
            if run is not None:
                print(f"{run.state}: {run.detail}")
                return 0 if run.state in ("verified", "done") else 1
        return 0 if decision.ok else 1

    return asyncio.run(_with_service(settings, work))


# audit -----------------------------------------------------------------------------
def cmd_audit(args: argparse.Namespace, load: SettingsLoader) -> int:
    settings = load(args)
    if not _require_store(settings):
        return STORE_EXIT

    async def work(service: Service) -> int:
        if args.mitigations:
            return await _mitigations(service, args.json)
        try:
            entries = await service.engine.audit.read(args.since, incident=args.incident or "")
        except ValueError as exc:
            print(f"--since: {exc}", file=sys.stderr)
            return 2
        for e in entries:
            if args.json:
                print(json.dumps({"at": e.at.isoformat(), **e.model_dump(exclude_defaults=True)}))
            else:
                print(e.line())
        if not entries and not args.json:
            print(f"no audit entries in the last {args.since}")
        return 0

    return asyncio.run(_with_service(settings, work))


async def _mitigations(service: Service, as_json: bool) -> int:
    from bot.remediation.mitigations import in_place

    incidents = await service.store.list_incidents(None, 1000)
    found = in_place(incidents, service.rulebook())
    for m in found:
        if as_json:
            print(json.dumps(m.as_json()))
        else:
            print(m.line())
    if not found and not as_json:
        print("no mitigations in place")
    return 0


# pause / resume --------------------------------------------------------------------
def cmd_pause(args: argparse.Namespace, load: SettingsLoader) -> int:
    settings = load(args)
    if not _require_store(settings):
        return STORE_EXIT
    who = f"cli:{args.as_user or getpass.getuser()}"

    async def work(service: Service) -> int:
        if args.command == "pause":
            await service.engine.safety.pause(who, args.reason or "")
        else:
            await service.engine.safety.resume()
        state = await service.engine.safety.paused()
        print(f"automatic actions {state}" if state else "automatic actions enabled")
        return 0

    return asyncio.run(_with_service(settings, work))


# emergency ---------------------------------------------------------------------------
def cmd_emergency(args: argparse.Namespace, load: SettingsLoader) -> int:
    from bot.alerts.emergency import BadProcessId, raise_emergency
    from bot.alerts.intake import IntakeError

    settings = load(args)
    if not _require_store(settings):
        return STORE_EXIT
    who = f"cli:{args.as_user or getpass.getuser()}"

    async def work(service: Service) -> int:
        try:
            incident = await raise_emergency(service.store, args.process_id, who, args.reason or "")
        except BadProcessId as exc:
            print(str(exc), file=sys.stderr)
            return 2
        except IntakeError as exc:
            print(f"not queued: {exc.message}", file=sys.stderr)
            return 1
        print(
            f"queued ProcessRunaway for {args.process_id}: incident {incident}; "
            f"then e.g. honua-bot act {incident} cancel-process"
        )
        return 0

    return asyncio.run(_with_service(settings, work))


def add_commands(sub: Any, load: SettingsLoader) -> None:
    def bind(func: Callable[[argparse.Namespace, SettingsLoader], int]) -> Any:
        return lambda args: func(args, load)

    act = sub.add_parser(
        "act", help="run (or preview) an incident's action through the gates, like its button"
    )
    act.add_argument("incident", help="incident id (inc-…)")
    act.add_argument("action", help="action name from the rule, or undo-NAME")
    act.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    act.add_argument("--as", dest="as_user", help="who is asking (default: $USER)")
    act.add_argument(
        "--no-wait",
        action="store_true",
        help="do not wait for verification: a serving honua-bot (same Redis) follows it",
    )
    act.set_defaults(func=bind(cmd_act))

    audit = sub.add_parser("audit", help="show the audit trail of actions and decisions")
    audit.add_argument("--incident", help="only this incident")
    audit.add_argument("--since", default="24h", help="how far back (30m, 24h, 7d)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.add_argument(
        "--mitigations",
        action="store_true",
        help="list temporary mitigations still in place (rules mark them `mitigation: true`)",
    )
    audit.set_defaults(func=bind(cmd_audit))

    emergency = sub.add_parser(
        "emergency", help="Runbook 5: open an emergency-cancellation incident for a process"
    )
    emergency.add_argument("process_id")
    emergency.add_argument("--reason", help="why (shown on the incident)")
    emergency.add_argument("--as", dest="as_user", help="who is asking (default: $USER)")
    emergency.set_defaults(func=bind(cmd_emergency))

    for name, text in (("pause", "stop all automatic actions"), ("resume", "allow them again")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--as", dest="as_user", help="who is asking (default: $USER)")
        if name == "pause":
            p.add_argument("--reason", help="shown with every refusal")
        p.set_defaults(func=bind(cmd_pause))
