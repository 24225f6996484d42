"""The simulator as the pods of deployment ``honua-process-framework`` in the
Kubernetes fake (optional: ``Simulator(kube_url=...)``; without it nothing here runs).

The real pods read ``appsettings.yaml`` from ConfigMap ``process-config`` at
start-up, so an edit takes effect only when the deployment rolls. The watcher
does the same: it reads the ConfigMap when the simulator starts and again each
time the deployment's pod template changes (a rollout restart stamps
``kubectl.kubernetes.io/restartedAt`` on it), and hands the settings the
simulator models to :meth:`Simulator.apply_settings`:

- ``ProcessFramework.MaxConcurrentProcesses``: with ``llm_quota`` set, the
  ``llm-rate-limit`` fault's 429s happen only while it exceeds the quota
  (Runbook 1 scenario B: halving it ends them);
- ``LlmProvider.Provider``: the primary provider, whose health decides LLM
  errors (Runbook 4: swapping to a healthy fallback ends them);
- ``ProcessFramework.ProcessTimeouts.<type>`` (minutes, Runbook 2 Option 3): when a
  Running process is overdue.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

if TYPE_CHECKING:
    from tests.fakes.honua_sim import Simulator

NAMESPACE = "honua-process-framework"
DEPLOYMENT = "honua-process-framework"
CONFIGMAP = "process-config"
ENTRY = "appsettings.yaml"


@dataclass
class AppSettings:
    """What the simulator takes from appsettings.yaml (None: not set there)."""

    max_concurrent: int | None = None
    provider: str | None = None  # as the simulator names it: openai, azure
    timeouts: dict[str, float] = field(default_factory=dict)  # process type → minutes


def parse_appsettings(text: str) -> AppSettings:
    """The modelled settings of an appsettings.yaml; what is missing or mistyped is
    left unset (the app would keep its default), never an error."""
    try:
        doc = YAML(typ="safe").load(text)
    except YAMLError:
        return AppSettings()
    if not isinstance(doc, dict):
        return AppSettings()
    framework = doc.get("ProcessFramework") or {}
    llm = doc.get("LlmProvider") or {}
    timeouts = framework.get("ProcessTimeouts") if isinstance(framework, dict) else None
    timeouts = timeouts or {}
    concurrency = framework.get("MaxConcurrentProcesses") if isinstance(framework, dict) else None
    provider = llm.get("Provider") if isinstance(llm, dict) else None
    return AppSettings(
        max_concurrent=concurrency if isinstance(concurrency, int) else None,
        provider=provider.lower() if isinstance(provider, str) else None,
        timeouts={
            str(k): float(v)
            for k, v in (timeouts.items() if isinstance(timeouts, dict) else [])
            if isinstance(v, int | float)
        },
    )


async def _get(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as resp:
        resp.raise_for_status()
        body = await resp.json()
    return body if isinstance(body, dict) else {}


async def watch_deployment(sim: Simulator, kube_url: str, interval: float = 0.25) -> None:
    """Apply process-config at start and after every rollout, until cancelled. An
    unreachable API or a missing object is retried: pods keep what they loaded."""
    base = kube_url.rstrip("/")
    deployment = f"{base}/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}"
    configmap = f"{base}/api/v1/namespaces/{NAMESPACE}/configmaps/{CONFIGMAP}"
    loaded_template: str | None = None
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while True:
            try:
                template = json.dumps(
                    (await _get(http, deployment)).get("spec", {}).get("template"), sort_keys=True
                )
                if template != loaded_template:
                    data = (await _get(http, configmap)).get("data") or {}
                    sim.apply_settings(parse_appsettings(str(data.get(ENTRY, ""))))
                    loaded_template = template
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            await asyncio.sleep(interval)
