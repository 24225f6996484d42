"""Container logs: what each container (and its previous instance) has written, and
the ``pods/{name}/log`` rules for reading them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.fakes.kube_api.errors import bad_request
from tests.fakes.kube_api.store import now

LogKey = tuple[str, str, str, bool]  # (namespace, pod, container, previous)


class LogStore:
    def __init__(self) -> None:
        self.lines: dict[LogKey, list[tuple[datetime, str]]] = {}

    def default(self, pod: dict[str, Any]) -> None:
        """A couple of start-up lines for each container of a new pod."""
        ns, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
        for c in pod["spec"].get("containers") or []:
            self.lines.setdefault(
                (ns, name, c["name"], False),
                [
                    (now(), f"Starting container {c['name']} (image {c.get('image', '')})"),
                    (now(), f"{c['name']} started on {pod['spec'].get('nodeName', '?')}"),
                ],
            )

    def set(
        self,
        namespace: str,
        pod: str,
        container: str,
        lines: list[str],
        previous: bool,
        append: bool,
    ) -> None:
        key = (namespace, pod, container, previous)
        stamped = [(now(), line) for line in lines]
        self.lines[key] = [*self.lines.get(key, []), *stamped] if append else stamped

    def forget(self, namespace: str, pod: str) -> None:
        for key in [k for k in self.lines if k[0] == namespace and k[1] == pod]:
            del self.lines[key]

    def read(
        self,
        key: LogKey,
        tail: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
        limit_bytes: int | None = None,
    ) -> str | None:
        lines = self.lines.get(key)
        if lines is None:
            return None
        if since_seconds is not None:
            cutoff = now() - timedelta(seconds=since_seconds)
            lines = [(t, s) for t, s in lines if t >= cutoff]
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        stamp = "%Y-%m-%dT%H:%M:%S.%f000Z "
        text = "".join((t.strftime(stamp) if timestamps else "") + s + "\n" for t, s in lines)
        if limit_bytes is not None:
            text = text.encode()[:limit_bytes].decode(errors="ignore")
        return text


def pod_log(
    logs: LogStore,
    pod: dict[str, Any],
    container: str | None,
    previous: bool,
    tail_lines: int | None = None,
    since_seconds: int | None = None,
    timestamps: bool = False,
    limit_bytes: int | None = None,
) -> str:
    """``GET pods/{name}/log``, with the apiserver's refusals."""
    name, namespace = pod["metadata"]["name"], pod["metadata"].get("namespace", "")
    names = [c["name"] for c in pod["spec"].get("containers") or []]
    init = [c["name"] for c in pod["spec"].get("initContainers") or []]
    if container is None:
        if len(names) != 1:
            raise bad_request(
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(names)}]"
            )
        container = names[0]
    elif container not in names + init:
        raise bad_request(f"container {container} is not valid for pod {name}")
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    status: dict[str, Any] = next((c for c in statuses if c["name"] == container), {})
    waiting = ((status.get("state") or {}).get("waiting") or {}).get("reason")
    if not status and (pod.get("status") or {}).get("phase") == "Pending":
        waiting = "ContainerCreating"
    if not previous and waiting in ("ContainerCreating", "PodInitializing"):
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {waiting}')
    if not previous and waiting in ("ImagePullBackOff", "ErrImagePull"):
        raise bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: '
            "trying and failing to pull image"
        )
    text = logs.read(
        (namespace, name, container, previous), tail_lines, since_seconds, timestamps, limit_bytes
    )
    if text is None and previous and not status.get("restartCount"):
        raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    return text or ""
