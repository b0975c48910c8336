"""/api: the JSON API's docs, a plain table rendered from the generated OpenAPI description (no scripts)."""

from __future__ import annotations

import json

from flask import Blueprint, render_template

from ..openapi import openapi_spec, operations

bp = Blueprint("apidocs", __name__)


def _schema_name(schema: dict | None) -> str:
    """A short name for a response or parameter schema: its $ref's name, else its type (an
    optional value, anyOf [T, null], as T)."""
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_name(s) for s in schema["anyOf"] if s.get("type") != "null")
    kind = schema.get("type", "object")
    if kind == "array":
        return f"array of {_schema_name(schema.get('items'))}"
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    return kind + (f" ({schema['format']})" if "format" in schema else "")


def _responses(op: dict) -> list[tuple[str, str, str]]:
    out = []
    for code, resp in op.get("responses", {}).items():
        schema = (resp.get("content") or {}).get("application/json", {}).get("schema")
        out.append((code, resp.get("description", ""), _schema_name(schema)))
    return out


@bp.get("/api")
def docs():
    spec = openapi_spec()
    rows = [
        {
            **op,
            "description": op["operation"].get("description", ""),
            "parameters": [{**p, "type": _schema_name(p.get("schema"))} for p in op["operation"].get("parameters", [])],
            "has_body": "requestBody" in op["operation"],
            "responses": _responses(op["operation"]),
        }
        for op in operations(spec)
    ]
    return render_template("api_docs.html", info=spec["info"], rows=rows)
