"""The `honua-bot` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot import logs
from bot.cli.parser import (
    CliParser,
    FileProblem,
    describe_os_error,
    quiet_broken_pipe,
    read_file,
)
from bot.config import Settings, load_settings


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    if args.config is not None and not args.config.is_file():
        print(
            f"{args.config}: no such settings file (--config); check the path, or leave "
            "--config out to use HONUA_BOT_* environment variables and the defaults",
            file=sys.stderr,
        )
        raise SystemExit(2)
    try:
        return load_settings(args.config, **overrides)
    except (ValidationError, SettingsError, FileNotFoundError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


# serve ---------------------------------------------------------------------
async def _serve(settings: Settings) -> None:
    from aiohttp import web

    from bot.app import Service
    from bot.web import create_app
    from bot.web_limits import CappedTCPSite, install_loop_exception_handler

    http = settings.http
    service = Service(settings)
    app = create_app(service, start_service=False)
    await service.start()
    # Everything loaded so far (modules, rules, clients) lives as long as the
    # process: move it out of the collector's reach. Otherwise every full
    # collection walks it, a 40-60 ms pause that set the intake p99.
    gc.collect()
    gc.freeze()
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=5,
        keepalive_timeout=http.keepalive_timeout_seconds,
    )
    await runner.setup()
    site = CappedTCPSite(
        runner,
        http.host,
        http.port,
        backlog=1024,
        max_connections=http.max_connections,
        header_timeout=http.header_timeout_seconds,
    )
    await site.start()
    logs.get_logger("cli").info("listening", host=http.host, port=http.port)

    loop = asyncio.get_running_loop()
    install_loop_exception_handler(loop)
    done = asyncio.Event()
    reloads: set[asyncio.Task[bool]] = set()

    def on_sighup() -> None:  # off the loop, like the watcher's reloads
        task = loop.create_task(service.rulebook.reload_async())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    grace = settings.queue.shutdown_grace_seconds
    logs.get_logger("cli").info("shutting down", grace_seconds=grace)
    # 1. stopping is set: /readyz answers 503 and POST /alerts 503 (Alertmanager
    #    retries another replica) while the listener stays up;
    # 2. in-flight entries finish within the grace period, or stay pending in the
    #    stream (never acked) for another replica;
    # 3. the listener closes, letting in-flight HTTP requests finish;
    # 4. adapters, Slack and the store close; the process exits 0.
    await service.stop(grace, before_close=runner.cleanup)


def cmd_serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = _settings(args, **overrides)
    logs.configure(settings.log_level)
    try:
        asyncio.run(_serve(settings))
    except SystemExit as exc:
        if isinstance(exc.code, str):
            logs.get_logger("cli").error("serve stopped", error=exc.code)
            return 1
        raise
    return 0


# rules ---------------------------------------------------------------------
def _load_builtins() -> None:
    """Fill the probe and action registries without importing the composition root
    (the engine, the web app, Slack): the offline commands start in a fraction of the time."""
    import bot.actions
    import bot.probes  # noqa: F401


def _load(path: Path) -> Any:
    from bot.registry import actions, probes
    from bot.rules import load_rules

    _load_builtins()
    return load_rules(path, probes, actions)


def cmd_rules_check(args: argparse.Namespace) -> int:
    from bot.rules import RuleLoadError

    path = args.path or _settings(args).resolved_rules_dir()
    if not path.exists():
        print(
            f"{path}: no such rule file or directory; give the directory of your rule "
            "files (e.g. rules/) or set HONUA_BOT_RULES",
            file=sys.stderr,
        )
        return 2
    try:
        ruleset = _load(path)
    except RuleLoadError as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        print(f"{len(exc.errors)} error(s) in {path}", file=sys.stderr)
        return 1
    from bot.rules.lint import promql_warnings

    for warning in promql_warnings(ruleset):
        print(warning, file=sys.stderr)
    for rule in ruleset.rules:
        print(
            f"ok  {rule.name:<36} {len(rule.probes)} probes, {len(rule.scenarios)} scenarios, "
            f"{len(rule.actions)} actions  ({rule.source})"
        )
    print(f"{len(ruleset.rules)} rule(s) valid in {path}")
    return 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    from bot.cli.explain import explain, read_alerts, read_recorded

    settings = _settings(args)
    from bot.rules import RuleLoadError

    if (args.alert is None) == (not args.cases):
        print("error: give an ALERT file or --cases MANIFEST (not both)", file=sys.stderr)
        return 2
    try:
        ruleset = _load(args.rules or settings.resolved_rules_dir())
    except RuleLoadError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    if args.cases:
        return _rules_test_cases(ruleset, args.cases, args.json)
    try:
        alerts = read_file(
            read_alerts,
            args.alert,
            "the ALERT file",
            "an Alertmanager webhook body, a list of alerts or one alert, as JSON "
            "(e.g. tests/fixtures/runbook1/alert.json)",
        )
        recorded = None
        if args.probe_results is not None:
            recorded = read_file(
                read_recorded,
                args.probe_results,
                "the --probe-results file",
                'a JSON object {probe name: result or {"error": "..."}}',
            )
        live = settings if args.live else None
        report = asyncio.run(explain(ruleset, alerts, recorded, live))
    except FileProblem as exc:
        print(exc, file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # ValidationError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        from bot.cli.explain import print_report

        print_report(report)
    failed = False
    if args.expect_scenario:
        got = [a.get("scenario") for a in report["alerts"]]
        if any(s != args.expect_scenario for s in got):
            print(f"expected scenario {args.expect_scenario}, got {got}", file=sys.stderr)
            failed = True
    if args.expect_actions is not None:
        want = [a for a in args.expect_actions.split(",") if a]
        got_actions = [[x["name"] for x in a.get("actions", [])] for a in report["alerts"]]
        if any(g != want for g in got_actions):
            print(f"expected actions {want}, got {got_actions}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def _rules_test_cases(ruleset: Any, manifests: list[Path], as_json: bool) -> int:
    from bot.cli.cases import run_manifests

    try:
        results = asyncio.run(run_manifests(ruleset, manifests))
    except OSError as exc:
        path = Path(exc.filename) if exc.filename else manifests[0]
        print(describe_os_error(exc, path, "the cases manifest"), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "case": r.case.name,
                        "manifest": str(r.case.manifest),
                        "ok": r.ok,
                        "problems": r.problems,
                        "scenario": r.item.get("scenario"),
                        "actions": [a["name"] for a in r.item.get("actions", [])],
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        for r in results:
            where = f"{r.case.manifest.parent.name}/{r.case.name}"
            got = r.item.get("scenario")
            print(f"{'ok  ' if r.ok else 'FAIL'} {where:<48} {got}")
            for problem in r.problems:
                print(f"       {problem}")
    failed = sum(1 for r in results if not r.ok)
    print(f"{len(results) - failed} of {len(results)} case(s) pass", file=sys.stderr)
    return 1 if failed else 0


# list ----------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    from bot.registry import actions, probes

    _load_builtins()
    registry = probes if args.kind == "probes" else actions
    entries = [
        {"name": e.name, "description": e.description, "params": e.params_schema(), **e.extra}
        for e in registry
    ]
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for e in entries:
        props = e["params"].get("properties", {})
        required = set(e["params"].get("required", []))
        params = ", ".join(f"{n}{'' if n in required else '?'}" for n in props)
        print(f"{e['name']:<30} {e['description']}")
        print(f"{'':<30} params: {params or '(none)'}")
    return 0


# demo ----------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo
    from bot.notify.base import Event
    from bot.notify.console import render_incident

    settings = _settings(args)
    url = args.url or f"http://{settings.http.host}:{settings.http.port}"
    token = args.token or (
        settings.http.webhook_token.get_secret_value() if settings.http.webhook_token else None
    )
    try:
        incident = run_demo(url, token, args.timeout)
    except Exception as exc:
        print(f"demo failed against {url}: {exc}", file=sys.stderr)
        print("is the bot running?  start it with:  honua-bot serve", file=sys.stderr)
        return 1
    from rich.console import Console

    Console().print(render_incident(incident, Event.DIAGNOSED))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="honua-bot", description=__doc__)
    parser.add_argument(
        "--config", type=Path, help="YAML settings file (environment variables win)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the webhook receiver and workers")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    rules = sub.add_parser("rules", help="check or test rule files").add_subparsers(
        dest="rules_cmd", required=True
    )
    check = rules.add_parser("check", help="validate rule files; exit 1 on any error")
    check.add_argument("path", nargs="?", type=Path)
    check.set_defaults(func=cmd_rules_check)
    test = rules.add_parser(
        "test", help="show what the bot would do for an alert, without side effects"
    )
    test.add_argument(
        "alert",
        type=Path,
        nargs="?",
        help="Alertmanager webhook JSON, a list of alerts, or one alert",
    )
    test.add_argument("--probe-results", type=Path, help="JSON {probe name: data | {error: text}}")
    test.add_argument("--rules", type=Path)
    test.add_argument(
        "--live", action="store_true", help="run the read-only probes against configured targets"
    )
    test.add_argument("--json", action="store_true")
    test.add_argument("--expect-scenario", help="exit 1 unless every alert gets this scenario")
    test.add_argument(
        "--expect-actions",
        metavar="A,B",
        help="exit 1 unless every alert proposes exactly these actions, in order ('' for none)",
    )
    test.add_argument(
        "--cases",
        type=Path,
        nargs="+",
        metavar="MANIFEST",
        help="run the fixture manifests (cases.yaml) instead of one alert; exit 1 on any failure",
    )
    test.set_defaults(func=cmd_rules_test)
    from bot.cli.tuning import add_replay

    add_replay(rules, _settings)  # rules replay
    lst = sub.add_parser("list", help="list registered probes or actions and their params")
    lst.add_argument("kind", choices=["probes", "actions"])
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    demo = sub.add_parser("demo", help="send a sample alert to a running bot and show the incident")
    demo.add_argument("--url", help="bot base URL (default: http://HOST:PORT from settings)")
    demo.add_argument("--token", help="webhook bearer token")
    demo.add_argument("--timeout", type=float, default=30.0)
    demo.set_defaults(func=cmd_demo)

    from bot.cli.ops import add_commands

    add_commands(sub, _settings)
    from bot.cli.tuning import add_commands as add_tuning_commands

    add_tuning_commands(sub, _settings)  # stats, timeline
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("honua-bot")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure("warning")
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader gone away fails here, not at interpreter exit
    except BrokenPipeError:
        return quiet_broken_pipe()
    return code
