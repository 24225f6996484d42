"""The ``honua-bot`` command and the tools only it uses: ``main`` (serve, rules,
diagnose, act …), ``ops`` (incidents, pause, audit, emergency), ``explain``
(replay a diagnosis without Prometheus) and ``cases`` (rule test manifests)."""

from bot.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
