"""``FakeKube``: the API core plus the knobs tests turn (RBAC denials, injected errors,
latency, pod states, logs, events, how replacement pods come up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.kube_api.core import ResourceLike, as_resource
from tests.fakes.kube_api.errors import KubeError, forbidden, injected
from tests.fakes.kube_api.pods import Startup
from tests.fakes.kube_api.podstate import PodStateKnobs
from tests.fakes.kube_api.resources import BY_PLURAL, Resource, lookup
from tests.fakes.kube_api.store import clone

DEFAULT_USER = "system:serviceaccount:honua-process-framework:honua-bot"
NAMED_VERBS = {"get", "update", "patch", "delete"}


@dataclass
class Rule:
    """Deny (403, RBAC wording) or fail (any code) matching requests.

    ``verb``/``resource`` may be ``"*"``; ``resource`` is ``plural`` or ``plural/sub``
    (``pods/log``, ``deployments/scale``) and matches exactly, as RBAC does."""

    verb: str = "*"
    resource: str = "*"
    namespace: str | None = None
    name: str | None = None
    code: int = 403
    message: str | None = None
    times: int | None = None  # None: until removed

    def matches(self, verb: str, resource: str, namespace: str | None, name: str | None) -> bool:
        return (
            self.verb in ("*", verb)
            and self.resource in ("*", resource)
            and (self.namespace is None or self.namespace == namespace)
            and (self.name is None or self.name == name)
            and (self.times is None or self.times > 0)
        )


def _norm_resource(resource: str) -> str:
    if resource == "*":
        return resource
    plural, _, sub = resource.partition("/")
    plural = lookup(plural).plural
    return f"{plural}/{sub}" if sub else plural


class FakeKube(PodStateKnobs):
    """An in-memory Kubernetes API. CRUD: ``get``/``list``/``create``/``replace``/``patch``/
    ``delete`` (the HTTP routes call the same methods). Knobs: ``deny``/``fail``/
    ``set_latency`` (errors and slowness), ``set_pod_startup`` (how new pods come up),
    ``crashloop``/``oom_killed``/``image_pull_backoff``/``evict``/``make_pending``/
    ``make_ready``/``set_container_state`` (pod states), ``set_logs``, ``add_event``,
    ``set_pvc_resize``, ``reset``. ``requests`` records every API request seen over HTTP.
    Writes keep ``metadata.managedFields`` (the field manager is ``?fieldManager=`` or the
    User-Agent over HTTP, ``manager=`` when called directly); a PVC grows only when its
    StorageClass sets ``allowVolumeExpansion``."""

    def __init__(self, seed: int | None = 0, user: str = DEFAULT_USER) -> None:
        self.user = user
        self.rules: list[Rule] = []
        self.latency = 0.0
        self.requests: list[tuple[str, str]] = []  # (method, path?query) seen over HTTP
        super().__init__(seed)

    def reset(self) -> None:
        """Back to an empty cluster (default namespaces only), no knobs set."""
        with self._lock:
            self._fresh_state()
            self.rules.clear()
            self.latency = 0.0
            self.requests.clear()

    # authorization and fault knobs ----------------------------------------------------
    def deny(
        self,
        verb: str = "*",
        resource: str = "*",
        namespace: str | None = None,
        name: str | None = None,
    ) -> Rule:
        """Make matching requests fail with a real RBAC 403 Forbidden Status."""
        rule = Rule(verb, _norm_resource(resource), namespace, name, 403)
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail(
        self,
        verb: str = "*",
        resource: str = "*",
        code: int = 500,
        message: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        times: int | None = None,
    ) -> Rule:
        """Make matching requests fail with ``code`` (500, 503, 429, ...), ``times`` times."""
        rule = Rule(verb, _norm_resource(resource), namespace, name, code, message, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def remove_rule(self, rule: Rule) -> None:
        with self._lock:
            self.rules = [r for r in self.rules if r is not rule]

    def clear_rules(self) -> None:
        with self._lock:
            self.rules.clear()

    def set_latency(self, seconds: float) -> None:
        """Delay every API response by ``seconds`` (to exercise client timeouts)."""
        self.latency = float(seconds)

    def authorize(
        self,
        verb: str,
        r: Resource,
        namespace: str | None,
        name: str | None,
        subresource: str | None = None,
    ) -> None:
        resource = f"{r.plural}/{subresource}" if subresource else r.plural
        with self._lock:
            for rule in self.rules:
                if not rule.matches(verb, resource, namespace, name):
                    continue
                if rule.times is not None:
                    rule.times -= 1
                if rule.code == 403 and rule.message is None:
                    shown = name if verb in NAMED_VERBS else None
                    raise forbidden(r, verb, namespace, shown, self.user, subresource)
                raise injected(rule.code, rule.message or _default_message(rule.code))

    # how pods come up ---------------------------------------------------------------------
    def set_pod_startup(
        self,
        mode: str = "ready",
        reads: int | None = None,
        seconds: float | None = None,
        last_reason: str = "Error",
    ) -> None:
        """How pods the controllers create from now on come up.

        ``mode``: ready | pending | crashloop | imagepullbackoff | unschedulable. With
        ``reads=K`` the pod shows that state for K reads of it, then Running+Ready; with
        ``seconds=S`` it turns Ready S seconds after creation; with neither it stays."""
        with self._lock:
            self.runtime.startup = Startup(mode, reads, seconds, last_reason)

    def set_pvc_resize(self, mode: str = "immediate") -> None:
        """``immediate``: an expanded claim's capacity follows at once; ``pending``: it
        waits with a FileSystemResizePending condition until ``finish_pvc_resize``."""
        if mode not in ("immediate", "pending"):
            raise ValueError("mode must be 'immediate' or 'pending'")
        self.controllers.pvc_resize = mode

    def finish_pvc_resize(self, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            before, self.controllers.pvc_resize = self.controllers.pvc_resize, "immediate"
            try:
                self.controllers.resize_pvc(
                    self._existing(BY_PLURAL["persistentvolumeclaims"], namespace, name)
                )
            finally:
                self.controllers.pvc_resize = before
            return self.get("persistentvolumeclaims", namespace, name)

    # events -----------------------------------------------------------------------------
    def add_event(
        self,
        namespace: str,
        name: str,
        reason: str,
        message: str,
        kind: str = "Pod",
        type: str = "Warning",
        count: int = 1,
        age_seconds: float = 0,
        component: str = "kubelet",
    ) -> dict[str, Any]:
        """A core/v1 Event about ``kind``/``name`` (the object need not exist)."""
        with self._lock:
            r = lookup(kind)
            involved = self.store.get(r, namespace, name) or {
                "kind": r.kind,
                "apiVersion": r.api_version,
                "metadata": {"name": name, "namespace": namespace},
            }
            return dict(
                self.store.record_event(
                    involved, reason, message, type, component, count, age_seconds
                )
            )

    # bulk ----------------------------------------------------------------------------------
    def objects(self, resource: ResourceLike, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every stored object of a type (no selectors, no read side effects)."""
        with self._lock:
            return [clone(o) for o in self.store.items(as_resource(resource), namespace)]

    def apply(self, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create ``body`` (dispatched on its kind), or replace it when it exists."""
        r = lookup(body["kind"])
        ns = namespace or body.get("metadata", {}).get("namespace")
        with self._lock:
            if self.store.get(r, ns, body["metadata"]["name"]) is None:
                return self.create(r, body, ns)
            return self.replace(r, ns, body["metadata"]["name"], body)


def _default_message(code: int) -> str:
    return {
        429: "Too many requests, please try again later.",
        500: "Internal error occurred: injected by the fake",
        503: "the server is currently unable to handle the request",
        504: "the server was unable to return a response in the time allotted, but may still be processing the request",
    }.get(code, f"injected error {code}")


__all__ = ["DEFAULT_USER", "FakeKube", "KubeError", "Rule"]
