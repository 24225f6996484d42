"""What every probe receives. A probe returns JSON-able data or raises; the
engine turns a raise or a timeout into a failed finding."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from bot.adapters import Adapters


class ProbeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class ProbeContext:
    adapters: Adapters
    labels: dict[str, str] = field(default_factory=dict)
