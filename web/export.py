"""Downloads of a whole search (up to MAX_RESULTS rows) as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone

from flask import Blueprint, Response, jsonify, request

from complaintwatch.models import Post, SiteKind

from .params import BadParam, parse_search_params
from .reports import incidents_by_id
from .search import all_results
from .serialize import iso, post_dict
from .services import setting

bp = Blueprint("export", __name__)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet may start a cell: the start of the value, and after any
# character that splits cells when the file is opened with another delimiter
# (";" in Russian-locale spreadsheets, "," or a tab) or a quote or line break
# that another parser may read differently. Spaces and quotes between such a
# split and a formula character do not make it safe (apps may trim them).
_CELL_START = re.compile(r'(^|[,;"\n\r\t])([ "]*)(?=[=+\-@\t\r])')


def csv_cell(value: object) -> str:
    """A CSV cell that spreadsheet apps will not evaluate as a formula, whichever
    delimiter they split it on: an apostrophe goes before every ``=``, ``+``,
    ``-``, ``@``, tab or CR that starts the value or follows a ``,``, ``;``,
    quote, tab or line break (OWASP's CSV injection advice, per segment)."""
    s = "" if value is None else str(value)
    return _CELL_START.sub(r"\1\2'", s)


def _filename(ext: str) -> str:
    # fixed pattern, only the server's date: nothing user-controlled
    return f"complaintwatch-search-{datetime.now(timezone.utc):%Y%m%d}.{ext}"


def _attachment(body: str | bytes, mimetype: str, ext: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{_filename(ext)}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.errorhandler(BadParam)
def _bad_param(exc: BadParam):
    return jsonify({"error": {"status": 400, "message": exc.message, "param": exc.name}}), 400


def _params():
    return parse_search_params(request.args, strict=True, max_results=setting("MAX_RESULTS"))


# One field list for both downloads: a result is the API's post record plus how the search found it
# (export_record). The JSON export writes that record; a CSV row is the same record flattened
# (csv_fields), its header taken from the record's own keys, so the two cannot drift apart.
RESULT_FIELDS = ("score", "matched", "similar")
_PROBE = Post(url="https://example.invalid/", source_site="", site_kind=SiteKind.BLOG, title="", text="", id=0)


def export_record(p: Post, incs: dict, score: float | None = None, matched: str = "", similar: bool = False) -> dict:
    return {**post_dict(p, incs), "score": score, "matched": matched, "similar": similar}


def csv_fields(record: dict, prefix: str = "") -> list[tuple[str, object]]:
    """A record as (column, cell) pairs: a nested object becomes ``key.sub`` columns, a list one cell
    joined with "; ", a flag 0/1, a float six decimals, null an empty cell."""
    out: list[tuple[str, object]] = []
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(csv_fields(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out.append((name, "; ".join(str(v) for v in value)))
        elif isinstance(value, bool):
            out.append((name, int(value)))
        elif isinstance(value, float):
            out.append((name, f"{value:.6f}"))
        else:
            out.append((name, "" if value is None else value))
    return out


def csv_columns() -> list[str]:
    """The CSV header: the columns of an export record (needs a request context, for its links)."""
    return [name for name, _ in csv_fields(export_record(_PROBE, {}))]


def _records(items, incs) -> list[dict]:
    return [export_record(it.post, incs, it.score, it.matched, it.similar) for it in items]


@bp.get("/export.csv")
def export_csv():
    params = _params()
    records = _records(all_results(params), incidents_by_id())
    columns = csv_columns()
    buf = io.StringIO()
    buf.write("\ufeff")  # BOM: spreadsheet apps then read the Cyrillic correctly
    w = csv.writer(buf)
    w.writerow(columns)
    for record in records:
        cells = dict(csv_fields(record))
        w.writerow([csv_cell(cells[c]) for c in columns])
    return _attachment(buf.getvalue(), "text/csv", "csv")


@bp.get("/export.json")
def export_json():
    params = _params()
    records = _records(all_results(params), incidents_by_id())
    body = {
        "query": params.q,
        "filters": params.filter_dict(),
        "sort": params.sort,
        "similar": params.similar,
        "generated_at": iso(datetime.now(timezone.utc).replace(microsecond=0)),
        "count": len(records),
        "cap": setting("MAX_RESULTS"),
        "results": records,
    }
    return _attachment(json.dumps(body, ensure_ascii=False, indent=1), "application/json", "json")
