"""What every probe receives. A probe returns JSON-able data or raises; the
engine turns a raise or a timeout into a failed finding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from bot.adapters import Adapters

if TYPE_CHECKING:
    from bot.store.base import Store


class ProbeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class ProbeContext:
    adapters: Adapters
    labels: dict[str, str] = field(default_factory=dict)
    # the bot's own store, for probes that remember what they saw (config history);
    # None where nothing may be written (``rules test``)
    store: Store | None = None
