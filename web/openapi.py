"""The OpenAPI 3.1 description of /api/v1, generated (spectree) from the routes and the models
that validate them: the query models of web/params.py, the bodies and responses of
web/schemas.py. Each API view is decorated with ``api_doc.validate(...)``: its docstring gives
the summary (first line) and description, its models the parameters and responses; only
decorated routes are documented (mode "strict"), so an undocumented /api/v1 route fails
tests/test_web_app.py.

A bad query value is the API's 400 (``{"error": {"status", "message", "param"}}``): the
``before`` hook turns spectree's ValidationError into the BadParam the blueprint answers."""

from __future__ import annotations

import threading
from typing import Any

from flask import make_response
from spectree import SpecTree
from spectree.models import Server
from spectree.plugins.flask_plugin import FlaskPlugin

from .params import bad_param
from .schemas import Error

TITLE = "complaintwatch API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Complaints about companies gathered from blogs, forums and review sites, grouped into recurring incident types."
)
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin without response validation on each request: the serializers'
    dicts are checked against the document by the tests (tests/test_api_schema.py); a request
    never pays for it, nor turns into a 500 over a documentation slip."""

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        return make_response(resp), None


def _raise_bad_param(req, resp, req_validation_error, instance, model_adapter) -> None:
    if req_validation_error is not None:
        raise bad_param(req_validation_error)


api_doc = SpecTree(
    "flask",
    backend=_Plugin,
    mode="strict",  # only the routes decorated with api_doc.validate: the API, not the pages
    title=TITLE,
    version=VERSION,
    description=DESCRIPTION,
    servers=[Server(url="/")],
    annotations=False,  # views read request.context.query: no injected arguments
    page_templates={},  # no Swagger/Redoc pages (they load scripts from CDNs): /api renders the document
    before=_raise_bad_param,
    validation_error_status=400,
    validation_error_model=Error,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,  # one Post schema, wherever it is nested
)

_lock = threading.Lock()
_document: dict[str, Any] | None = None


def _int64_ids(spec: dict) -> dict:
    """spectree documents <int:...> path parameters as int32; our ids are SQL INTEGERs (int64)."""
    for item in spec["paths"].values():
        for op in item.values():
            for p in op.get("parameters", []):
                if p["in"] == "path" and p["schema"].get("format") == "int32":
                    p["schema"] = {**p["schema"], "format": "int64", "minimum": 0}
    return spec


def openapi_spec() -> dict:
    """The document (needs an app context: the routes are read from the app's URL map). Built
    once per process: every app registers the same blueprints; spectree's own cache is not
    thread-safe on its first build."""
    global _document
    with _lock:
        if _document is None:
            _document = _int64_ids(api_doc.spec)
        return _document


def operations(spec: dict | None = None) -> list[dict]:
    """Every operation of the OpenAPI description, in its order: path, method, summary and the
    operation itself (parameters, request body, responses). /api/v1 and the docs page list these."""
    spec = spec or openapi_spec()
    return [
        {"path": path, "method": method.upper(), "summary": op.get("summary", ""), "operation": op}
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]
