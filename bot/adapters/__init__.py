"""The only code that talks to the monitored targets. Built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.errors import AdapterError, NotConfigured
from bot.adapters.process_api import ProcessApiClient
from bot.adapters.prometheus import PrometheusClient


@dataclass
class Adapters:
    prometheus_client: PrometheusClient | None = None
    process_api_client: ProcessApiClient | None = None

    @classmethod
    def from_urls(cls, prometheus_url: str | None, process_api_url: str | None) -> Adapters:
        return cls(
            PrometheusClient(prometheus_url) if prometheus_url else None,
            ProcessApiClient(process_api_url) if process_api_url else None,
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
