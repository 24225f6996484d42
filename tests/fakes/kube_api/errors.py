"""``Status`` failure objects, formatted exactly as kube-apiserver formats them."""

from __future__ import annotations

from typing import Any

from tests.fakes.kube_api.resources import Resource


class KubeError(Exception):
    """An API failure; ``status`` is the ``v1 Status`` body the server answers with."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    @property
    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(r: Resource, name: str | None, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if r.group:
        details["group"] = r.group
    details["kind"] = r.plural
    details.update(extra)
    return details


def not_found(r: Resource, name: str) -> KubeError:
    return KubeError(404, "NotFound", f'{r.qualified} "{name}" not found', _details(r, name))


def namespace_not_found(namespace: str) -> KubeError:
    return KubeError(
        404,
        "NotFound",
        f'namespaces "{namespace}" not found',
        {"name": namespace, "kind": "namespaces"},
    )


def no_such_path() -> KubeError:
    return KubeError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(r: Resource, name: str) -> KubeError:
    return KubeError(
        409, "AlreadyExists", f'{r.qualified} "{name}" already exists', _details(r, name)
    )


def conflict(r: Resource, name: str) -> KubeError:
    return KubeError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {r.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _details(r, name),
    )


def precondition_failed(r: Resource, name: str, what: str, want: str, have: str) -> KubeError:
    return KubeError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {r.qualified} "{name}": Precondition failed: '
        f"{what} in precondition: {want}, {what} in object meta: {have}",
        _details(r, name),
    )


def forbidden(
    r: Resource,
    verb: str,
    namespace: str | None,
    name: str | None,
    user: str,
    subresource: str | None = None,
) -> KubeError:
    what = f'{r.qualified} "{name}"' if name else r.qualified
    resource = f"{r.plural}/{subresource}" if subresource else r.plural
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{r.group}" {where}'
    )
    return KubeError(403, "Forbidden", message, _details(r, name))


def forbidden_by_admission(r: Resource, name: str, why: str) -> KubeError:
    """403 from an admission plugin (not RBAC): ``<resource> "<name>" is forbidden: why``."""
    return KubeError(
        403, "Forbidden", f'{r.qualified} "{name}" is forbidden: {why}', _details(r, name)
    )


def invalid(kind_name: str, group: str, name: str, causes: list[tuple[str, str]]) -> KubeError:
    """422 Invalid; ``causes`` is ``[(field, "Invalid value: ...: why"), ...]``."""
    qualified = f"{kind_name}.{group}" if group else kind_name
    summary = ", ".join(f"{field}: {msg}" for field, msg in causes)
    if len(causes) > 1:
        summary = f"[{summary}]"
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind_name
    details["causes"] = [
        {"reason": _cause_reason(msg), "message": msg, "field": field} for field, msg in causes
    ]
    return KubeError(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', details)


def _cause_reason(msg: str) -> str:
    for prefix, reason in (
        ("Required value", "FieldValueRequired"),
        ("Forbidden", "FieldValueForbidden"),
        ("Unsupported value", "FieldValueNotSupported"),
        ("Duplicate value", "FieldValueDuplicate"),
    ):
        if msg.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def unprocessable(message: str) -> KubeError:
    """What a JSON patch that does not apply gets (``test`` failed, missing path)."""
    return KubeError(422, "Invalid", message, {})


def bad_request(message: str) -> KubeError:
    return KubeError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> KubeError:
    return KubeError(405, "MethodNotAllowed", message, {})


def unsupported_media_type(content_type: str) -> KubeError:
    return KubeError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, "
        f"application/strategic-merge-patch+json (got {content_type!r}; "
        f"application/apply-patch+yaml is not supported by the fake)",
        {},
    )


def injected(code: int, message: str) -> KubeError:
    reason = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
        504: "Timeout",
    }.get(code, "InternalError")
    return KubeError(code, reason, message, {})


def success(r: Resource, name: str, uid: str) -> dict[str, Any]:
    """What DELETE answers when the object is gone at once."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": _details(r, name, uid=uid),
    }
