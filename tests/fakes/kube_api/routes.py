"""The Kubernetes REST wire protocol over ``FakeKube`` (aiohttp), discovery documents,
and the ``/_fake/...`` admin endpoints for other processes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from aiohttp import web

from tests.fakes.kube_api.errors import KubeError, bad_request, method_not_allowed, no_such_path
from tests.fakes.kube_api.fake import FakeKube
from tests.fakes.kube_api.managed import manager_from_user_agent
from tests.fakes.kube_api.patching import STRATEGIC
from tests.fakes.kube_api.resources import (
    BY_PLURAL,
    GROUP_VERSIONS,
    Resource,
    api_resource_list,
    resolve,
)

FAKE_KEY = web.AppKey("fake_kube", FakeKube)
NAMESPACE_SUBRESOURCES = {"status", "finalize"}
ADMIN_METHODS = {
    "deny",
    "fail",
    "clear_rules",
    "set_latency",
    "set_pod_startup",
    "set_pvc_resize",
    "finish_pvc_resize",
    "set_container_state",
    "crashloop",
    "oom_killed",
    "image_pull_backoff",
    "evict",
    "make_pending",
    "make_ready",
    "set_logs",
    "add_event",
    "apply",
    "seed",
    "reset",
}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))  # compact, as the apiserver writes it


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=_dumps)


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _int(query: Any, key: str) -> int | None:
    value = query.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise bad_request(f"{key}: Invalid value: {value!r}: must be an integer") from exc


def _dry_run(query: Any, body: Any = None) -> bool:
    values = list(query.getall("dryRun", []))
    if isinstance(body, dict) and isinstance(body.get("dryRun"), list):
        values += body["dryRun"]
    for v in values:
        if v != "All":
            raise bad_request(f'Invalid dry run value: "{v}"; the only supported value is "All"')
    return bool(values)


async def _json_body(request: web.Request, required: bool = True) -> Any:
    raw = await request.read()
    if not raw:
        if required:
            raise bad_request("the body of the request is empty")
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc


def _parse(
    group: str, version: str, rest: list[str]
) -> tuple[Resource, str | None, str | None, str | None]:
    """(resource, namespace, name, subresource) for the path segments after group/version."""
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not 1 <= len(rest) <= 3:
        raise no_such_path()
    r = resolve(group, version, rest[0])
    if r is None or (namespace is not None and not r.namespaced):
        raise no_such_path()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in r.subresources:
        raise no_such_path()
    return r, namespace, name, sub


async def handle_api(request: web.Request) -> web.StreamResponse:
    fake = request.app[FAKE_KEY]
    fake.requests.append((request.method, request.path_qs))
    if fake.latency:
        await asyncio.sleep(fake.latency)
    parts = [p for p in request.path.split("/") if p]
    try:
        if parts[0] == "api":
            group, version, rest = "", parts[1] if len(parts) > 1 else "", parts[2:]
        else:
            group = parts[1] if len(parts) > 1 else ""
            version, rest = (parts[2] if len(parts) > 2 else ""), parts[3:]
        if version not in GROUP_VERSIONS.get(group, ()):
            if len(parts) == 1:
                return _json(_root_discovery(parts[0], request))
            if parts[0] == "apis" and len(parts) == 2 and group in GROUP_VERSIONS:
                return _json(_group(group))
            raise no_such_path()
        if not rest:
            return _json(api_resource_list(group, version))
        r, namespace, name, sub = _parse(group, version, rest)
        status, body = await _dispatch(fake, request, r, namespace, name, sub)
    except KubeError as exc:
        return _json(exc.status, exc.code)
    if isinstance(body, str):
        return web.Response(text=body, content_type="text/plain", status=status)
    return _json(body, status)


async def _dispatch(
    fake: FakeKube,
    request: web.Request,
    r: Resource,
    ns: str | None,
    name: str | None,
    sub: str | None,
) -> tuple[int, Any]:
    q, method = request.query, request.method
    manager = q.get("fieldManager") or manager_from_user_agent(request.headers.get("User-Agent"))
    if method == "GET":
        if name is None:
            verb = "watch" if _bool(q.get("watch")) else "list"
            fake.authorize(verb, r, ns, None)
            if verb == "watch":
                raise method_not_allowed(
                    "watch is not supported by the fake Kubernetes API; poll with list"
                )
            return 200, fake.list(
                r,
                ns,
                q.get("labelSelector"),
                q.get("fieldSelector"),
                _int(q, "limit"),
                q.get("continue"),
            )
        fake.authorize("get", r, ns, name, sub)
        if sub == "log":
            return 200, fake.read_log(
                ns or "",
                name,
                q.get("container"),
                _bool(q.get("previous")),
                _int(q, "tailLines"),
                _int(q, "sinceSeconds"),
                _bool(q.get("timestamps")),
                _int(q, "limitBytes"),
            )
        return 200, fake.get(r, ns, name, sub)
    if sub == "log":
        raise method_not_allowed()
    if method == "POST":
        if name is not None:
            raise method_not_allowed()
        fake.authorize("create", r, ns, None)
        body = await _json_body(request)
        return 201, fake.create(r, body, ns, _dry_run(q), manager)
    if method == "DELETE":
        body = await _json_body(request, required=False)
        dry = _dry_run(q, body)
        opts = body if isinstance(body, dict) else {}
        if name is None:
            fake.authorize("deletecollection", r, ns, None)
            return 200, fake.delete_collection(
                r, ns, q.get("labelSelector"), q.get("fieldSelector"), dry
            )
        fake.authorize("delete", r, ns, name, sub)
        grace = _int(q, "gracePeriodSeconds")
        return 200, fake.delete(
            r,
            ns,
            name,
            dry,
            q.get("propagationPolicy") or opts.get("propagationPolicy"),
            opts.get("preconditions"),
            grace if grace is not None else opts.get("gracePeriodSeconds"),
        )
    if name is None or method not in ("PUT", "PATCH"):
        raise method_not_allowed()
    verb = "update" if method == "PUT" else "patch"
    fake.authorize(verb, r, ns, name, sub)
    body = await _json_body(request)
    if method == "PUT":
        return 200, fake.replace(r, ns, name, body, _dry_run(q), sub, manager)
    content_type = request.headers.get("Content-Type", STRATEGIC)
    return 200, fake.patch(r, ns, name, body, content_type, _dry_run(q), sub, manager)


def _root_discovery(root: str, request: web.Request) -> dict[str, Any]:
    if root == "api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}
            ],
        }
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(g) for g in GROUP_VERSIONS if g],
    }


def _group(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in GROUP_VERSIONS[group]]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    }


async def handle_version(_request: web.Request) -> web.Response:
    return _json(
        {
            "major": "1",
            "minor": "30",
            "gitVersion": "v1.30.0-honua-fake",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.22.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
    )


async def handle_health(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


# --- admin -----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A knob's return value as JSON (a Rule as its fields; the fake itself as nothing)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return None if isinstance(value, FakeKube) else value


async def handle_admin(request: web.Request) -> web.Response:
    """``POST /_fake/{knob}`` with the knob's keyword arguments as a JSON object."""
    fake = request.app[FAKE_KEY]
    method = request.match_info["method"]
    if method not in ADMIN_METHODS:
        return _json(
            {"error": f"unknown knob {method!r}", "knobs": sorted(ADMIN_METHODS)}, status=404
        )
    try:
        kwargs = await _json_body(request, required=False) or {}
        if not isinstance(kwargs, dict):
            raise bad_request("the body must be a JSON object of keyword arguments")
        if method == "seed":
            from tests.fakes.kube_api.seed import SEEDS

            result = SEEDS[kwargs.get("name", "honua")](fake)
        else:
            result = getattr(fake, method)(**kwargs)
    except KubeError as exc:
        return _json(exc.status, exc.code)
    except (TypeError, ValueError, KeyError) as exc:
        return _json({"error": f"{type(exc).__name__}: {exc}"}, status=400)
    return _json({"ok": True, "result": _plain(result)})


async def handle_admin_objects(request: web.Request) -> web.Response:
    """``GET /_fake/objects/{resource}[?namespace=]``: stored objects, no side effects."""
    fake = request.app[FAKE_KEY]
    resource = request.match_info["resource"]
    if resource not in BY_PLURAL:
        return _json({"error": f"unknown resource {resource!r}"}, status=404)
    return _json(fake.objects(resource, request.query.get("namespace")))


async def handle_admin_requests(request: web.Request) -> web.Response:
    return _json([list(r) for r in request.app[FAKE_KEY].requests])


def create_app(fake: FakeKube | None = None) -> web.Application:
    app = web.Application(client_max_size=16 * 1024**2)
    app[FAKE_KEY] = fake or FakeKube()
    app.router.add_get("/version", handle_version)
    app.router.add_get("/version/", handle_version)
    for path in ("/healthz", "/readyz", "/livez"):
        app.router.add_get(path, handle_health)
    for root in ("/api", "/apis"):
        app.router.add_route("*", root, handle_api)
        app.router.add_route("*", root + "/{tail:.*}", handle_api)
    app.router.add_get("/_fake/objects/{resource}", handle_admin_objects)
    app.router.add_get("/_fake/requests", handle_admin_requests)
    app.router.add_post("/_fake/{method}", handle_admin)
    return app
