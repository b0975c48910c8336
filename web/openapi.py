"""The OpenAPI 3 description of /api/v1, written by hand."""

from __future__ import annotations


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _q(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _ok(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = {"description": "Error", "content": {"application/json": {"schema": _ref("Error")}}}

SEARCH_PARAMETERS = [
    _q(
        "q",
        'Free text. Supports "exact phrase", +required, -excluded and OR; phrases, +words and -words hold for '
        "similar-in-meaning (vector) hits too. Empty: the latest posts.",
    ),
    _q("company", "Company id."),
    _q("incident", "Incident type id.", {"type": "integer", "minimum": 0}),
    _q("site", "Source site, e.g. otzovik.com."),
    _q("lang", "ISO 639-1 language code."),
    _q(
        "stance",
        "Posts of this stance only; complaint also matches posts not classified yet (company replies never).",
        {"type": "string", "enum": ["complaint", "praise", "question", "other"]},
    ),
    _q("from", "Published on or after this date (UTC).", {"type": "string", "format": "date"}),
    _q("to", "Published on or before this date (UTC, inclusive).", {"type": "string", "format": "date"}),
    _q("sort", "Result order.", {"type": "string", "enum": ["relevance", "date"], "default": "relevance"}),
    _q(
        "similar",
        "1: add posts similar in meaning (vector hits without the query's words); 0: text matches only.",
        {"type": "integer", "enum": [0, 1], "default": 1},
    ),
]

_LINKS = {"type": "object", "additionalProperties": {"type": "string"}}
_NULLABLE_STR = {"type": "string", "nullable": True}
_NULLABLE_DT = {"type": "string", "format": "date-time", "nullable": True}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "message": {"type": "string"},
                    "param": {"type": "string", "description": "The offending query parameter."},
                },
            }
        },
    },
    "Post": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string", "description": "The source page (canonical URL)."},
            "source_site": {"type": "string"},
            "site_kind": {"type": "string", "enum": ["blog", "forum", "review", "social"]},
            "title": {"type": "string"},
            "text": {"type": "string"},
            "author": _NULLABLE_STR,
            "published_at": _NULLABLE_DT,
            "language": _NULLABLE_STR,
            "companies": {"type": "array", "items": {"type": "string"}},
            "incident_id": {"type": "integer", "nullable": True},
            "incident_label": _NULLABLE_STR,
            "parent_url": _NULLABLE_STR,
            "thread_url": _NULLABLE_STR,
            "position": {"type": "integer"},
            "is_company_reply": {"type": "boolean"},
            "stance": {
                "type": "string",
                "nullable": True,
                "enum": ["complaint", "praise", "question", "other", None],
                "description": "Set by the indexer; null: a company reply, or not classified yet. Only complaints "
                "count towards recurring failures.",
            },
            "rating": {"type": "integer", "nullable": True, "minimum": 1, "maximum": 5, "description": "Stars."},
            "links": _LINKS,
        },
    },
    "Incident": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "label_en": {"type": "string"},
            "label_ru": {"type": "string"},
            "keywords": {"type": "array", "items": {"type": "string"}},
            "size": {"type": "integer"},
            "taxonomy_key": _NULLABLE_STR,
            "representatives": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Ids of up to 3 posts closest to the type's centre, best first.",
            },
            "links": _LINKS,
        },
    },
    "CompanySummary": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string", "description": "Display name (the id when none is known)."},
            "posts": {"type": "integer", "description": "Everything stored: complaints + comments + company_replies."},
            "complaints": {
                "type": "integer",
                "description": "Opening posts and reviews by customers (no parent, not a company reply).",
            },
            "comments": {"type": "integer", "description": "Replies by customers."},
            "company_replies": {
                "type": "integer",
                "description": "Posts by the company itself (replies, own threads): never counted as complaints.",
            },
            "links": _LINKS,
        },
    },
    "RecurringFailure": {
        "type": "object",
        "properties": {
            "incident_id": {"type": "integer"},
            "label_en": _NULLABLE_STR,
            "label_ru": _NULLABLE_STR,
            "count": {"type": "integer", "description": "Opening posts (not comments)."},
            "first_seen": _NULLABLE_DT,
            "last_seen": _NULLABLE_DT,
            "trend": {"type": "string", "enum": ["rising", "new", "fading", "steady", "too_little_data"]},
            "recent_count": {
                "type": "integer",
                "description": "Posts in the trend rule's recent window: the last 3 months, this one included.",
            },
            "expected_recent": {"type": "number", "description": "Earlier monthly average x 6."},
            "monthly": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "YYYY-MM -> count",
            },
        },
    },
    "Company": {
        "allOf": [
            _ref("CompanySummary"),
            {
                "type": "object",
                "properties": {
                    "recurring_failures": {
                        "type": "array",
                        "items": _ref("RecurringFailure"),
                        "description": "Complaints only: praise and questions are counted apart (stances).",
                    },
                    "stances": {
                        "type": "object",
                        "description": "The company's posts by stance (company replies excepted): "
                        "praise and questions are shown apart from the recurring failures.",
                        "properties": {k: {"type": "integer"} for k in ("complaint", "praise", "question", "other")},
                    },
                    "replies": _ref("Replies"),
                    "latest_posts": {"type": "array", "items": _ref("Post")},
                },
            },
        ]
    },
    "Replies": {
        "type": "object",
        "description": "Over all the company's opening posts: threads with comments, and those it replied in.",
        "properties": {
            "threads_with_comments": {"type": "integer"},
            "threads_with_company_reply": {"type": "integer"},
            "share": {"type": "number", "nullable": True},
        },
    },
    "Compare": {
        "type": "object",
        "properties": {
            "companies": {
                "type": "array",
                "description": "In the order asked for.",
                "items": {
                    "allOf": [
                        _ref("CompanySummary"),
                        {"type": "object", "properties": {"replies": _ref("Replies")}},
                    ]
                },
            },
            "incidents": {
                "type": "array",
                "description": "Every incident type any of the companies has, most posts (all together) first.",
                "items": {
                    "type": "object",
                    "properties": {
                        "incident_id": {"type": "integer"},
                        "label_en": _NULLABLE_STR,
                        "label_ru": _NULLABLE_STR,
                        "cells": {
                            "type": "object",
                            "description": "Company id -> its opening posts of this type and its trend; null: none.",
                            "additionalProperties": {
                                "type": "object",
                                "nullable": True,
                                "properties": {
                                    "count": {"type": "integer"},
                                    "trend": {
                                        "type": "string",
                                        "enum": ["rising", "new", "fading", "steady", "too_little_data"],
                                    },
                                    "recent_count": {"type": "integer"},
                                    "expected_recent": {"type": "number"},
                                    "last_seen": _NULLABLE_DT,
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "AlertInput": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 200, "description": "Default: a description of the params."},
            "kind": {"type": "string", "enum": ["search", "watch"], "default": "search"},
            "params": {
                "type": "object",
                "description": "search: q, company, incident, site, lang, from, to (as for /api/v1/search); "
                "watch: company and incident (both required, both must exist).",
                "properties": {
                    "q": {"type": "string"},
                    "company": {"type": "string"},
                    "incident": {"type": "integer"},
                    "site": {"type": "string"},
                    "lang": {"type": "string"},
                    "from": {"type": "string", "format": "date"},
                    "to": {"type": "string", "format": "date"},
                },
            },
        },
    },
    "Alert": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["search", "watch"]},
            "params": {"type": "object"},
            "description": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "last_seen_at": {"type": "string", "format": "date-time"},
            "new_posts": {"type": "integer", "description": "Matching posts published after last_seen_at."},
            "spike": {
                "type": "object",
                "properties": {
                    "spike": {
                        "type": "boolean",
                        "description": "last_30_days >= 2 x expected_30_days and >= 3 posts.",
                    },
                    "trend": {"type": "string", "enum": ["rising", "new", "fading", "steady"]},
                    "last_30_days": {"type": "integer"},
                    "previous_180_days": {"type": "integer"},
                    "expected_30_days": {"type": "number", "description": "previous_180_days / 6."},
                },
            },
            "links": _LINKS,
        },
    },
    "SearchResult": {
        "type": "object",
        "properties": {
            "post": _ref("Post"),
            "score": {"type": "number", "nullable": True, "description": "Reciprocal-rank-fusion score."},
            "matched": {"type": "string", "enum": ["text", "vector", "text+vector", "latest"]},
            "similar": {"type": "boolean", "description": "Only similar in meaning (matched == vector)."},
            "snippet_html": {"type": "string", "description": "HTML-escaped excerpt; matches wrapped in <mark>."},
        },
    },
    "SearchResponse": {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "filters": {"type": "object"},
            "sort": {"type": "string"},
            "similar": {"type": "boolean", "description": "Whether similar-in-meaning hits are included."},
            "mode": {"type": "string", "enum": ["search", "latest"]},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer", "description": "Results (up to the result cap)."},
            "matches": {
                "type": "integer",
                "nullable": True,
                "description": "Every post the search finds, past the result cap too (exact).",
            },
            "pages": {"type": "integer"},
            "has_next": {"type": "boolean"},
            "company_suggestion": {
                "type": "object",
                "nullable": True,
                "description": "The company the query names (resolved as the indexer does), or null: "
                "its complaints and links to its filter (links.filter), page (links.html) and API (links.api).",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "complaints": {"type": "integer"},
                    "links": _LINKS,
                },
            },
            "results": {"type": "array", "items": _ref("SearchResult")},
        },
    },
}


SCHEMAS["ApiIndex"] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "version": {"type": "string"},
        "endpoints": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "method": {"type": "string", "enum": ["GET", "POST"]},
                    "summary": {"type": "string"},
                },
            },
        },
        "links": _LINKS,
    },
}

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


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


def openapi_spec() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "complaintwatch API",
            "version": "1.0.0",
            "description": "Complaints about companies gathered from blogs, forums and review sites, "
            "grouped into recurring incident types.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/": {
                "get": {
                    "summary": "This API's endpoints, with links to this description and its docs page",
                    "description": "Also answers at /api/v1 (no trailing slash).",
                    "responses": {"200": _ok(_ref("ApiIndex"))},
                }
            },
            "/api/v1/search": {
                "get": {
                    "summary": "Hybrid full-text + semantic search",
                    "parameters": [
                        *SEARCH_PARAMETERS,
                        _q("page", "1-based page; clamped to the last page.", {"type": "integer", "minimum": 1}),
                        _q("per_page", "Results per page.", {"type": "integer", "minimum": 1, "maximum": 100}),
                    ],
                    "responses": {"200": _ok(_ref("SearchResponse")), "400": _ERR},
                }
            },
            "/api/v1/companies": {
                "get": {
                    "summary": "Companies, most complained-about first",
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "properties": {"companies": {"type": "array", "items": _ref("CompanySummary")}},
                            }
                        )
                    },
                }
            },
            "/api/v1/company/{company_id}": {
                "get": {
                    "summary": "A company's recurring failures, reply share and latest posts",
                    "parameters": [_path("company_id", "Company id.", {"type": "string"})],
                    "responses": {"200": _ok(_ref("Company")), "404": _ERR},
                }
            },
            "/api/v1/incidents": {
                "get": {
                    "summary": "Incident types, largest first",
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "properties": {"incidents": {"type": "array", "items": _ref("Incident")}},
                            }
                        )
                    },
                }
            },
            "/api/v1/incident/{incident_id}": {
                "get": {
                    "summary": "An incident type, the companies it hits most and example posts",
                    "parameters": [_path("incident_id", "Incident type id.", {"type": "integer"})],
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "properties": {
                                    "incident": _ref("Incident"),
                                    "companies": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "id": {"type": "string"},
                                                "name": {"type": "string"},
                                                "posts": {"type": "integer"},
                                            },
                                        },
                                    },
                                    "posts": {
                                        "type": "array",
                                        "items": _ref("Post"),
                                        "description": "The latest opening posts.",
                                    },
                                    "representatives": {
                                        "type": "array",
                                        "items": _ref("Post"),
                                        "description": "Up to 3 posts closest to the type's centre, best first.",
                                    },
                                },
                            }
                        ),
                        "404": _ERR,
                    },
                }
            },
            "/api/v1/post/{post_id}": {
                "get": {
                    "summary": "A post and its thread",
                    "parameters": [_path("post_id", "Post id.", {"type": "integer"})],
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "properties": {
                                    "post": _ref("Post"),
                                    "thread": {"type": "array", "items": _ref("Post")},
                                    "also_posted_at": {
                                        "type": "array",
                                        "description": "The same story (same text) stored at other URLs.",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "id": {"type": "integer"},
                                                "url": {"type": "string"},
                                                "source_site": {"type": "string"},
                                                "published_at": _NULLABLE_STR,
                                                "links": {"type": "object"},
                                            },
                                        },
                                    },
                                },
                            }
                        ),
                        "404": _ERR,
                    },
                }
            },
            "/api/v1/compare": {
                "get": {
                    "summary": "Two or more companies side by side on incident types",
                    "parameters": [
                        {
                            "name": "c",
                            "in": "query",
                            "required": True,
                            "description": "Company id; repeat it (?c=ozon&c=wildberries), 2 to 6 companies.",
                            "schema": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 6},
                            "style": "form",
                            "explode": True,
                        }
                    ],
                    "responses": {"200": _ok(_ref("Compare")), "400": _ERR},
                }
            },
            "/api/v1/alerts": {
                "get": {
                    "summary": "Saved searches and watches, with new-post counts and spike flags",
                    "responses": {
                        "200": _ok(
                            {"type": "object", "properties": {"alerts": {"type": "array", "items": _ref("Alert")}}}
                        )
                    },
                },
                "post": {
                    "summary": "Save a search or watch a company x incident type",
                    "description": "Takes a JSON body (Content-Type: application/json; anything else is 415).",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("AlertInput")}},
                    },
                    "responses": {
                        "201": _ok(_ref("Alert"), "Created; Location: the alert's API URL"),
                        "400": _ERR,
                        "409": _ERR,
                        "415": _ERR,
                    },
                },
            },
            "/api/v1/alerts/{alert_id}": {
                "get": {
                    "summary": "An alert, its state and its new posts (newest first)",
                    "parameters": [_path("alert_id", "Alert id.", {"type": "integer"})],
                    "responses": {
                        "200": _ok(
                            {
                                "allOf": [
                                    _ref("Alert"),
                                    {"type": "object", "properties": {"new": {"type": "array", "items": _ref("Post")}}},
                                ]
                            }
                        ),
                        "404": _ERR,
                    },
                },
                "delete": {
                    "summary": "Delete an alert",
                    "parameters": [_path("alert_id", "Alert id.", {"type": "integer"})],
                    "responses": {
                        "200": _ok({"type": "object", "properties": {"deleted": {"type": "integer"}}}),
                        "404": _ERR,
                    },
                },
            },
            "/api/v1/alerts/{alert_id}/seen": {
                "post": {
                    "summary": "Mark an alert's posts seen (last_seen_at = now)",
                    "description": "Takes a JSON body, {} will do (Content-Type: application/json).",
                    "parameters": [_path("alert_id", "Alert id.", {"type": "integer"})],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"200": _ok(_ref("Alert")), "404": _ERR, "415": _ERR},
                }
            },
            "/api/v1/status": {
                "get": {
                    "summary": "The scheduler: each source's last crawl and next due time, the last index and delivery",
                    "description": "Admins only once accounts exist. See complaintwatch/runstate.py for the fields.",
                    "responses": {"200": _ok({"type": "object"})},
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This description",
                    "responses": {"200": _ok({"type": "object"})},
                }
            },
        },
        "components": {"schemas": SCHEMAS},
    }
