"""Kubernetes API through kubernetes_asyncio: kubeconfig, in-cluster, or an explicit host.

Reads return the API's JSON (as ``kubectl get -o json`` shows it) rather than
client models, so probes read the same field names an engineer knows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from bot.adapters.errors import AdapterError, NotConfigured

if TYPE_CHECKING:  # kubernetes_asyncio (~65 MB) is imported on first use, not at start
    from kubernetes_asyncio import client

DEFAULT_NAMESPACE = "honua-process-framework"
FIELD_MANAGER = "honua-bot"  # how the bot's writes show in metadata.managedFields


class KubeApiError(AdapterError):
    """The API server answered with an error status; ``status`` and ``reason``
    (``Forbidden``, ``Conflict``, ``Invalid``...) let actions pick their refusal."""

    def __init__(self, message: str, status: int, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class KubernetesClient:
    def __init__(
        self, kubeconfig: Path | None = None, host: str | None = None, timeout: float = 10.0
    ) -> None:
        self.kubeconfig = kubeconfig
        self.host = host
        self.timeout = timeout
        self._api: client.ApiClient | None = None
        self._lock = asyncio.Lock()
        self._where = host or ""

    async def api(self) -> client.ApiClient:
        async with self._lock:
            if self._api is None:
                self._api = await self._connect()
        return self._api

    async def _connect(self) -> client.ApiClient:
        from kubernetes_asyncio import client, config
        from kubernetes_asyncio.config import ConfigException

        cfg = client.Configuration()
        if self.host:
            cfg.host = self.host
        elif self.kubeconfig:
            try:
                await config.load_kube_config(
                    config_file=str(self.kubeconfig), client_configuration=cfg
                )
            except (ConfigException, OSError) as exc:
                raise AdapterError(f"kubeconfig {self.kubeconfig}: {exc}") from exc
        else:
            try:
                config.load_incluster_config(client_configuration=cfg)
            except ConfigException as exc:
                raise NotConfigured("kubernetes", "HONUA_BOT_KUBECONFIG or run in-cluster") from exc
        host = str(cfg.host)
        self._where = urlsplit(host).netloc or host
        return client.ApiClient(cfg)

    async def core(self) -> client.CoreV1Api:
        from kubernetes_asyncio.client import CoreV1Api

        return CoreV1Api(await self.api())

    async def apps(self) -> client.AppsV1Api:
        from kubernetes_asyncio.client import AppsV1Api

        return AppsV1Api(await self.api())

    async def storage(self) -> client.StorageV1Api:
        from kubernetes_asyncio.client import StorageV1Api

        return StorageV1Api(await self.api())

    async def call(
        self, request: Awaitable[Any], what: str, namespace: str, verb: str = "get"
    ) -> Any:
        """Run one kubernetes_asyncio call made with ``_preload_content=False``
        and return its JSON (or text), translating failures into sentences."""
        try:
            resp = await asyncio.wait_for(request, self.timeout)
        except TimeoutError as exc:
            raise AdapterError(
                f"timed out after {self.timeout:g} s: kubernetes {self._where}"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise AdapterError(f"connection refused: kubernetes {self._where}") from exc
        except aiohttp.ClientError as exc:
            raise AdapterError(f"kubernetes {self._where}: {exc}") from exc
        try:
            body = await resp.read()
        finally:
            resp.release()
        if resp.status >= 400:
            raise KubeApiError(
                _describe(resp.status, body, what, namespace, verb), resp.status, _reason(body)
            )
        if "json" in resp.headers.get("Content-Type", ""):
            return json.loads(body)
        return body.decode("utf-8", "replace")

    async def aclose(self) -> None:
        if self._api is not None:
            await self._api.close()
            self._api = None


def _reason(body: bytes) -> str:
    try:
        reason = json.loads(body).get("reason", "")
    except (ValueError, AttributeError):
        return ""
    return reason if isinstance(reason, str) else ""


def _describe(status: int, body: bytes, what: str, namespace: str, verb: str) -> str:
    try:
        message = json.loads(body).get("message", "")
    except ValueError:
        message = body.decode("utf-8", "replace")[:200]
    if status == 403:
        return f"forbidden: cannot {verb} {what} in namespace {namespace} (RBAC): {message}"
    if status == 404:
        return f"not found: {message or what}"
    if status == 409:
        return f"conflict: {message}"
    if status == 401:
        return "unauthorized: the Kubernetes credentials were refused"
    return f"kubernetes answered {status}: {message}"
