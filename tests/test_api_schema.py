"""The API's OpenAPI document is generated from the models that validate its requests
(web/params.py, web/schemas.py; web/openapi.py): it is valid OpenAPI 3.1, every real response
of every operation on the web dataset matches it (openapi-core), a response with a field the
models do not name (or without one they require) does not, and the pages and the API report a
bad parameter with the same words, from the one model."""

from __future__ import annotations

import copy
import json
import re

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.validation.response.exceptions import InvalidData
from openapi_spec_validator import validate as validate_spec
from werkzeug.test import TestResponse

from tests.browser_helpers import CANCEL
from web import create_app
from web.params import SearchQuery


@pytest.fixture(scope="module")
def app(ds, tmp_path_factory):
    sources = tmp_path_factory.mktemp("sources") / "sources.toml"
    sources.write_text('[[source]]\nkind = "forum"\nurl = "https://forum.example/banks/"\nevery = "6h"\n')
    return create_app(ds.store, ds.embedder, {"TESTING": True, "SOURCES_FILE": str(sources)})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def spec(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture(scope="module")
def openapi(spec) -> OpenAPI:
    return OpenAPI.from_dict(spec)


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate_spec(spec)  # raises on any structural error
    # the models' names, not generated ones; every $ref resolves
    schemas = spec["components"]["schemas"]
    assert {"SearchPage", "Post", "Company", "Incident", "Alert", "AlertInput", "Error"} <= set(schemas)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs <= set(schemas), refs - set(schemas)


def test_search_parameters_are_the_query_model(spec):
    op = spec["paths"]["/api/v1/search"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    aliases = [f.alias or name for name, f in SearchQuery.model_fields.items()]
    assert list(params) == aliases  # the model's fields, in its order
    assert params["sort"]["schema"]["enum"] == ["relevance", "date"]
    assert params["from"]["schema"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert "similar in meaning" in params["similar"]["description"]
    # the recent window is the trend rule's (the hand-written document once said 6 months)
    failure = spec["components"]["schemas"]["RecurringFailure"]["properties"]
    assert "last 3 months" in failure["recent_count"]["description"]


class _Sent(WerkzeugOpenAPIRequest):
    """The test client's request as openapi-core reads it, with the body as sent (the app has
    consumed the stream)."""

    def __init__(self, request, body: bytes):
        super().__init__(request)
        self._body = body

    @property
    def body(self) -> bytes:
        return self._body


def _check(openapi: OpenAPI, resp: TestResponse, body: bytes = b"", request_too: bool = True) -> dict:
    """The response against the document's operation and status; the request too (its
    parameters and body as documented) when it was a valid one."""
    req = _Sent(resp.request, body)
    where = f"{resp.request.method} {resp.request.full_path.rstrip('?')} ({resp.status_code})"
    try:
        openapi.validate_response(req, WerkzeugOpenAPIResponse(resp))
    except InvalidData as exc:
        # short: what differs, not the whole body; the fix is in web/schemas.py or web/serialize.py
        raise AssertionError(f"{where} does not match the OpenAPI document: {_why(exc)}") from None
    if request_too and resp.status_code < 400:
        openapi.validate_request(req)
    return resp.get_json()


def _why(exc: Exception) -> str:
    cause = exc.__cause__ or exc
    errors = getattr(cause, "schema_errors", None) or [cause]
    return "; ".join(
        f"{'/'.join(map(str, getattr(e, 'absolute_path', [])))}: {getattr(e, 'message', e)}" for e in errors
    )


def _operation(spec: dict, resp: TestResponse) -> tuple[str, str]:
    path = resp.request.path
    for template, item in spec["paths"].items():
        if re.fullmatch(re.sub(r"\{\w+\}", r"[^/]+", template), path) and resp.request.method.lower() in item:
            return template, resp.request.method
    raise AssertionError(f"no documented operation for {resp.request.method} {path}")


def test_every_operation_answers_as_documented(client, spec, openapi, ds):
    seen: set[tuple[str, str]] = set()

    def check(resp: TestResponse, status: int, body: bytes = b"") -> dict:
        assert resp.status_code == status, (resp.request.path, resp.status_code, resp.get_data()[:300])
        seen.add(_operation(spec, resp))
        return _check(openapi, resp, body)

    def post(path: str, body: object, status: int) -> dict:
        raw = json.dumps(body).encode()
        return check(client.post(path, data=raw, content_type="application/json"), status, raw)

    # search: text + vector hits, the latest posts, every filter, a named company, a 400
    body = check(client.get("/api/v1/search", query_string={"q": "заказ", "per_page": 5}), 200)
    assert body["results"] and body["mode"] == "search"
    assert {r["matched"] for r in body["results"]} & {"text", "text+vector"}
    check(client.get("/api/v1/search"), 200)  # no query: the latest posts
    check(client.get("/api/v1/search", query_string={"q": "ozon"}), 200)  # company_suggestion
    check(
        client.get(
            "/api/v1/search",
            query_string={
                "q": "refund",
                "company": "ozon",
                "incident": CANCEL,
                "site": "otzovik.example",
                "lang": "ru",
                "stance": "complaint",
                "from": "2020-01-01",
                "to": "2030-01-01",
                "sort": "date",
                "similar": "false",
                "page": 1,
            },
        ),
        200,
    )
    err = check(client.get("/api/v1/search", query_string={"page": "abc"}), 400)
    assert err == {"error": {"status": 400, "message": "must be an integer", "param": "page"}}

    companies = check(client.get("/api/v1/companies"), 200)["companies"]
    for c in companies:
        check(client.get(c["links"]["api"]), 200)  # recurring failures, replies, timeline, responses
    check(client.get("/api/v1/company/no-such-company"), 404)
    for i in check(client.get("/api/v1/incidents"), 200)["incidents"]:
        check(client.get(i["links"]["api"]), 200)
    check(client.get("/api/v1/incident/999"), 404)
    for name in ("card_reply", "card_thread"):  # a thread with a company reply
        check(client.get(f"/api/v1/post/{ds.ids[name]}"), 200)
    check(client.get("/api/v1/post/999999"), 404)
    two = [c["id"] for c in companies[:3]]
    check(client.get("/api/v1/compare", query_string={"c": two}), 200)
    check(client.get("/api/v1/compare", query_string={"c": "ozon"}), 400)

    # alerts: create (search and watch), read, mark seen, delete; the errors of a write
    a = post("/api/v1/alerts", {"name": "refunds", "params": {"q": "refund", "similar": False}}, 201)
    w = post("/api/v1/alerts", {"kind": "watch", "params": {"company": "ozon", "incident": CANCEL}}, 201)
    check(client.get("/api/v1/alerts"), 200)
    check(client.get(f"/api/v1/alerts/{w['id']}"), 200)
    post(f"/api/v1/alerts/{a['id']}/seen", {}, 200)
    post("/api/v1/alerts", {"params": {"from": "garbage"}}, 400)
    check(client.post("/api/v1/alerts", data="name=x", content_type="application/x-www-form-urlencoded"), 415)
    for alert in (a, w):
        check(client.delete(f"/api/v1/alerts/{alert['id']}"), 200)
    check(client.get(f"/api/v1/alerts/{a['id']}"), 404)

    check(client.get("/api/v1/status"), 200)
    check(client.get("/api/v1/"), 200)
    check(client.get("/api/v1/openapi.json"), 200)

    documented = {(path, m.upper()) for path, item in spec["paths"].items() for m in item}
    assert seen == documented  # a new operation needs its real response checked here too


@pytest.mark.parametrize(
    "drift",
    [
        lambda body: body["results"][0]["post"].update(mood="angry"),  # a field the models do not name
        lambda body: body["results"][0]["post"].pop("stance"),  # a required field gone
        lambda body: body.update(total="many"),  # another type
        lambda body: body["results"][0].update(matched="psychic"),  # a value outside the enum
    ],
)
def test_a_response_that_drifts_from_the_models_fails(client, openapi, drift):
    resp = client.get("/api/v1/search", query_string={"q": "заказ"})
    body = copy.deepcopy(resp.get_json())
    drift(body)
    drifted = TestResponse(json.dumps(body), 200, {"Content-Type": "application/json"}, request=resp.request)
    with pytest.raises(AssertionError, match="does not match the OpenAPI document"):
        _check(openapi, drifted, request_too=False)


@pytest.mark.parametrize(
    "param, value",
    [
        ("from", "garbage"),
        ("to", "2024-13-45"),
        ("page", "abc"),
        ("per_page", "1e9"),
        ("incident", "abc"),
        ("incident", str(10**30)),
        ("sort", "random"),
        ("stance", "angry"),
        ("similar", "maybe"),
    ],
)
def test_pages_and_api_report_a_bad_parameter_alike(client, param, value):
    """One model: the API's 400 and the page's notice carry the same parameter and message."""
    r = client.get("/api/v1/search", query_string={"q": "заказ", param: value})
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["param"] == param
    page = client.get("/search", query_string={"q": "заказ", param: value})
    assert page.status_code == 200  # the page drops the value and says so
    assert f"Ignored {param}: {err['message']}." in page.get_data(as_text=True).replace("&#39;", "'")


def test_a_reversed_date_range_is_named_on_to(client):
    q = {"from": "2024-05-01", "to": "2024-04-01"}
    err = client.get("/api/v1/search", query_string=q).get_json()["error"]
    assert err["param"] == "to" and "reversed" in err["message"]
    html = client.get("/search", query_string=q).get_data(as_text=True)
    assert "Ignored to: 2024-04-01 is before from (2024-05-01): the date range is reversed." in html
