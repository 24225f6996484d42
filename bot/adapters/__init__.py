"""The only code that talks to the monitored targets. Built once per process,
closed on shutdown. A target that is not configured raises NotConfigured when a
probe asks for it, which the probe's finding reports with the setting to set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.adapters.errors import AdapterError, NotConfigured
from bot.adapters.process_api import ProcessApiClient
from bot.adapters.prometheus import PrometheusClient

if TYPE_CHECKING:
    from bot.config import Settings


@dataclass
class Adapters:
    prometheus_client: PrometheusClient | None = None
    process_api_client: ProcessApiClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Adapters:
        return cls(
            prometheus_client=PrometheusClient(settings.prometheus_url)
            if settings.prometheus_url
            else None,
            process_api_client=ProcessApiClient(settings.process_api_url)
            if settings.process_api_url
            else None,
        )

    @property
    def prometheus(self) -> PrometheusClient:
        if self.prometheus_client is None:
            raise NotConfigured("prometheus", "HONUA_BOT_PROMETHEUS_URL")
        return self.prometheus_client

    @property
    def process_api(self) -> ProcessApiClient:
        if self.process_api_client is None:
            raise NotConfigured("process API", "HONUA_BOT_PROCESS_API_URL")
        return self.process_api_client

    async def aclose(self) -> None:
        for client in (self.prometheus_client, self.process_api_client):
            if client is not None:
                await client.aclose()


__all__ = ["AdapterError", "Adapters", "NotConfigured"]
