"""Alertmanager webhook payload, version 4.

Unknown keys are ignored: newer Alertmanager releases add fields
(``notification_reason`` since 0.32) and a bot that rejects them would drop alerts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AlertStatus = Literal["firing", "resolved"]
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive time is taken as UTC.

    An instant outside what Python can hold in UTC (``0001-01-01T00:00:00+14:00``
    is in year 0) is clamped to the first or last representable instant rather
    than rejected: rejecting the field would make Alertmanager retry the whole
    notification, with the good alerts in it, for ever.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return EARLIEST if value.year == 1 else LATEST


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else to_utc(value)

    @model_validator(mode="after")
    def _fill_fingerprint(self) -> Alert:
        # Alertmanager always sends one; hand-made payloads may not. Derive it from
        # the label set, as Alertmanager does, so dedup still works.
        if not self.fingerprint:
            canonical = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(self.labels.items()))
            self.fingerprint = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        return self

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def incident_key(self) -> str:
        """Identity of the incident this alert belongs to: one firing episode."""
        # normalised to UTC so one instant written with two offsets is one incident
        return f"{self.fingerprint}|{to_utc(self.starts_at).isoformat()}"

    @property
    def incident_id(self) -> str:
        digest = hashlib.sha256(self.incident_key.encode()).hexdigest()[:12]
        return f"inc-{digest}"


class WebhookMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str = "4"
    receiver: str = ""
    status: AlertStatus
    alerts: list[Alert] = Field(min_length=1)
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
