"""Which alerts are variants of one another, and which severity wins."""

from __future__ import annotations

from bot.alerts.variants import family, higher
from bot.models import Alert


def _alert(**labels: str) -> Alert:
    return Alert.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": "DatabaseConnectionsHigh", "instance": "db-0", **labels},
            "startsAt": "2026-11-29T03:00:00Z",
        }
    )


def test_family_ignores_severity_and_nothing_else() -> None:
    warning, critical = _alert(severity="warning"), _alert(severity="critical")
    assert warning.fingerprint != critical.fingerprint  # Alertmanager: two alerts
    assert family(warning) == family(critical) == family(_alert())
    assert family(_alert(severity="critical", instance="db-1")) != family(critical)


def test_the_highest_severity_wins_and_an_unknown_one_never_lowers_it() -> None:
    assert higher("warning", "critical") == "critical"
    assert higher("critical", "warning") == "critical"
    assert higher("", "warning") == "warning"
    assert higher("Critical", "page-me") == "Critical"
    assert higher("info", "error") == "error"
