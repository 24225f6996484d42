"""The only code that talks to the monitored targets. Built once per process,
closed on shutdown. A target that is not configured raises NotConfigured when a
probe asks for it, which the probe's finding reports with the setting to set.

To add a target: a ``<name>_client`` field, a property that raises NotConfigured
when it is None, and a line in ``from_settings``; ``aclose`` closes every field."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from bot.adapters.alertmanager import AlertmanagerClient
from bot.adapters.errors import AdapterError, NotConfigured
from bot.adapters.kubernetes import KubernetesClient
from bot.adapters.postgres import PostgresClient
from bot.adapters.process_api import ProcessApiClient
from bot.adapters.prometheus import PrometheusClient
from bot.adapters.status_page import StatusPageClient
from bot.adapters.target_redis import TargetRedisClient

if TYPE_CHECKING:
    from bot.config import TargetSettings


def io_timeout(probe_timeout: float) -> float:
    """Per-operation timeout of the target clients: under the probe's own timeout,
    so a hung target is reported with its address rather than as a bare probe timeout."""
    return max(0.1, min(probe_timeout * 0.6, 5.0))


@dataclass
class Adapters:
    prometheus_client: PrometheusClient | None = None
    process_api_client: ProcessApiClient | None = None
    target_redis_client: TargetRedisClient | None = None
    postgres_client: PostgresClient | None = None
    http_client: StatusPageClient | None = None
    kubernetes_client: KubernetesClient | None = None
    alertmanager_client: AlertmanagerClient | None = None

    @classmethod
    def from_settings(cls, targets: TargetSettings) -> Adapters:
        timeout = io_timeout(targets.probe_timeout)
        return cls(
            prometheus_client=PrometheusClient(targets.prometheus_url)
            if targets.prometheus_url
            else None,
            process_api_client=ProcessApiClient(targets.process_api_url)
            if targets.process_api_url
            else None,
            target_redis_client=TargetRedisClient(
                targets.redis_url.get_secret_value(), timeout=timeout
            )
            if targets.redis_url
            else None,
            postgres_client=PostgresClient(
                targets.postgres_dsn.get_secret_value(),
                connect_timeout=timeout,
                command_timeout=timeout,
            )
            if targets.postgres_dsn
            else None,
            http_client=StatusPageClient(timeout=timeout),
            # unset kubeconfig and host: in-cluster config, tried on first use
            kubernetes_client=KubernetesClient(
                targets.kubeconfig, targets.kubernetes_host, timeout=timeout
            ),
            alertmanager_client=AlertmanagerClient(targets.alertmanager_url)
            if targets.alertmanager_url
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

    @property
    def target_redis(self) -> TargetRedisClient:
        if self.target_redis_client is None:
            raise NotConfigured("target Redis", "HONUA_BOT_TARGET_REDIS_URL")
        return self.target_redis_client

    @property
    def postgres(self) -> PostgresClient:
        if self.postgres_client is None:
            raise NotConfigured("postgres", "HONUA_BOT_POSTGRES_DSN")
        return self.postgres_client

    @property
    def http(self) -> StatusPageClient:
        """Always available: built on first use when not given."""
        if self.http_client is None:
            self.http_client = StatusPageClient()
        return self.http_client

    @property
    def kubernetes(self) -> KubernetesClient:
        if self.kubernetes_client is None:
            raise NotConfigured("kubernetes", "HONUA_BOT_KUBECONFIG or HONUA_BOT_KUBERNETES_HOST")
        return self.kubernetes_client

    @property
    def alertmanager(self) -> AlertmanagerClient:
        if self.alertmanager_client is None:
            raise NotConfigured("alertmanager", "HONUA_BOT_ALERTMANAGER_URL")
        return self.alertmanager_client

    async def aclose(self) -> None:
        """Close every client, even when one of them fails to close."""
        failure: BaseException | None = None
        for f in fields(self):
            client: Any = getattr(self, f.name)
            if client is None:
                continue
            try:
                await client.aclose()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


__all__ = ["AdapterError", "Adapters", "NotConfigured"]
