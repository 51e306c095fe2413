"""The HTTP API's plumbing: the error shape, request parsing and the OpenAPI document.

Every API route is declared through `ApiRegistry.route` with its pydantic request and response
models; the same models validate requests and generate `/api/openapi.json`, so a schema is
never written twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An error answered with the contract's body: {"error": {code, message, fields}}."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}

    def response(self) -> Response:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "fields": self.fields}
        body.update(self.extra)
        resp = jsonify({"error": body})
        resp.status_code = self.status
        if self.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="aware"'
        return resp


def error_body(status: int, code: str, message: str) -> Response:
    """A contract-shaped error response (for handlers of Werkzeug's HTTP errors)."""
    return ApiError(status, code, message).response()


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def validation_fields(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    """Map pydantic errors to {"field.path": "message"}; the first message per field wins."""
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        name = prefix + _field_name(err["loc"])
        fields.setdefault(name, err["msg"])
    return fields


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects any JSON endpoint accepts (ours need 4)."""


def loads_json(raw: bytes | str) -> Any:
    """Parse JSON text; ApiError 400 when it is not JSON or nested deeper than MAX_JSON_DEPTH.

    NaN and Infinity are parsed (Python's json accepts them) so that the caller can refuse the
    one field that holds them instead of the whole request; models refuse non-finite numbers.
    """
    if not raw.strip():
        raise ApiError(400, "malformed_json", "the request body is empty; expected JSON")
    try:
        obj = json.loads(raw)
    except RecursionError:
        # 200,000 nested brackets: the C scanner gives up at the interpreter's limit.
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, "malformed_json", f"the request body is not valid JSON: {exc}"
        ) from None
    # Cheap bound first: a body with few brackets cannot be deep (a single event has 2).
    if isinstance(raw, str):
        opens = raw.count("[") + raw.count("{")
    else:
        opens = raw.count(b"[") + raw.count(b"{")
    if opens > MAX_JSON_DEPTH and _deeper_than(obj, MAX_JSON_DEPTH):
        raise _too_deep()
    return obj


def _too_deep() -> ApiError:
    return ApiError(
        400,
        "malformed_json",
        f"the request body is nested too deeply (at most {MAX_JSON_DEPTH} levels)",
    )


def _deeper_than(obj: Any, limit: int) -> bool:
    """Whether arrays/objects nest deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored as text (a NUL byte, a lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL (\\u0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (lone surrogate)"
    return None


def text_problems(obj: Any, prefix: str = "") -> dict[str, str]:
    """{"field.path": message} for every key or string in parsed JSON that is not storable text."""
    found: dict[str, str] = {}
    stack: list[tuple[Any, str]] = [(obj, prefix)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                found.setdefault(path or "body", problem)
        elif isinstance(node, dict):
            for key, value in node.items():
                name = f"{path}.{key}" if path else str(key)
                problem = text_problem(key)
                if problem:
                    found.setdefault(path or "body", f"a key {problem}")
                    continue
                stack.append((value, name))
        elif isinstance(node, list):
            stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(node))
    return found


def read_json_body() -> Any:
    """The request body as JSON; 400 when it is not JSON at all or nested too deeply."""
    return loads_json(request.get_data(cache=True))


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against `model`: 400 for malformed JSON, 422 naming each field
    (also a string holding a NUL byte or a lone surrogate, which no database column takes)."""
    obj = read_json_body()
    if not isinstance(obj, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    problems = text_problems(obj)
    if problems:
        raise ApiError(422, "invalid_field", "one or more fields are invalid", problems)
    return validate_json(model, request.get_data(cache=True))


def validate_json(model: type[M], raw: bytes | str, prefix: str = "") -> M:
    """Validate raw JSON text in pydantic's JSON mode (RFC 3339 strings, no type coercion)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ApiError(
            422, "invalid_field", "one or more fields are invalid", validation_fields(exc, prefix)
        ) from None


def parse_query(model: type[M]) -> M:
    """Validate the query string against `model` (422 naming the parameter)."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(
            422, "invalid_field", "one or more parameters are invalid", validation_fields(exc)
        ) from None


@dataclass
class Operation:
    """One documented HTTP operation."""

    method: str
    path: str
    summary: str
    tag: str
    security: str | None  # "person", "device" or None
    roles: tuple[str, ...]
    request: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: dict[int, tuple[str, type[BaseModel] | None]]
    content_type: str = "application/json"
    # JSON schema type of each path parameter: "integer" for <int:...>, else "string".
    path_types: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiRegistry:
    """Collects operations as routes are declared and renders the OpenAPI 3.1 document."""

    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        bp: Blueprint,
        rule: str,
        method: str,
        *,
        summary: str,
        tag: str,
        security: str | None = "person",
        roles: tuple[str, ...] = (),
        request: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        responses: dict[int, tuple[str, type[BaseModel] | None]],
        content_type: str = "application/json",
        document_prefix: str | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a Flask route and record it for the OpenAPI document."""
        prefix = (bp.url_prefix or "") if document_prefix is None else document_prefix
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", prefix + rule)
        path_types = {
            name: "integer" if converter == "int" else "string"
            for converter, name in re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", rule)
        }
        self.operations.append(
            Operation(
                method.lower(),
                path,
                summary,
                tag,
                security,
                roles,
                request,
                query,
                responses,
                content_type,
                path_types,
            )
        )

        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            bp.add_url_rule(rule, endpoint=fn.__name__, view_func=fn, methods=[method])
            return fn

        return decorator

    def openapi(self, title: str, version: str) -> dict[str, Any]:
        """Build the OpenAPI document from the recorded operations and their models."""
        models: set[type[BaseModel]] = {ErrorResponse}
        for op in self.operations:
            if op.request:
                models.add(op.request)
            models.update(m for _, m in op.responses.values() if m)
        # Request models in validation mode, responses in serialization mode.
        request_models = {op.request for op in self.operations if op.request}
        modes: list[tuple[type[BaseModel], Any]] = [
            (m, "validation" if m in request_models else "serialization") for m in models
        ]
        refs, defs = models_json_schema(modes, ref_template="#/components/schemas/{model}")
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            item: dict[str, Any] = {"summary": op.summary, "tags": [op.tag]}
            if op.roles:
                item["description"] = "Roles: " + ", ".join(op.roles)
            if op.security == "person":
                item["security"] = [{"personToken": []}]
            elif op.security == "device":
                item["security"] = [{"deviceToken": []}]
            else:
                item["security"] = []
            params = [
                {
                    "name": n,
                    "in": "path",
                    "required": True,
                    "schema": {"type": op.path_types.get(n, "integer")},
                }
                for n in re.findall(r"{([a-z_]+)}", op.path)
            ]
            if op.query:
                qs = op.query.model_json_schema()
                required = set(qs.get("required", []))
                for name, prop in qs.get("properties", {}).items():
                    params.append(
                        {"name": name, "in": "query", "required": name in required, "schema": prop}
                    )
            if params:
                item["parameters"] = params
            if op.request:
                ref = refs[(op.request, "validation")]
                item["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref}},
                }
            responses: dict[str, Any] = {}
            for status, (desc, model) in sorted(op.responses.items()):
                entry: dict[str, Any] = {"description": desc}
                if model is not None:
                    mode: Literal["validation", "serialization"] = (
                        "validation" if model in request_models else "serialization"
                    )
                    entry["content"] = {op.content_type: {"schema": refs[(model, mode)]}}
                responses[str(status)] = entry
            for status, desc in _COMMON_ERRORS.items():
                if status == 401 and op.security is None:
                    continue
                if status == 403 and not op.roles:
                    continue
                if status in (400, 413, 422) and not (op.request or op.query):
                    continue
                responses.setdefault(
                    str(status),
                    {
                        "description": desc,
                        "content": {
                            "application/json": {"schema": refs[(ErrorResponse, "serialization")]}
                        },
                    },
                )
            item["responses"] = responses
            paths.setdefault(op.path, {})[op.method] = item
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "paths": paths,
            "components": {
                "schemas": defs.get("$defs", {}),
                "securitySchemes": {
                    "personToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "token from POST /api/v1/auth/token",
                    },
                    "deviceToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "device token shown once by POST /api/v1/devices",
                    },
                },
            },
        }


_COMMON_ERRORS = {
    400: "malformed JSON",
    401: "missing or bad credentials",
    403: "role not allowed",
    413: "body over 1 MiB",
    422: "a field is invalid (named in error.fields)",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str]


class ErrorResponse(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


registry = ApiRegistry()
