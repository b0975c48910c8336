"""Downloads of a whole search (up to MAX_RESULTS rows) as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone

from flask import Blueprint, Response, jsonify, request

from .params import BadParam, parse_search_params
from .privacy import shown_author
from .reports import incidents_by_id
from .safetext import strip_bidi
from .search import all_results
from .serialize import iso, post_dict
from .services import setting

bp = Blueprint("export", __name__)

CSV_COLUMNS = [
    "id",
    "published_at",
    "company",
    "incident_id",
    "incident",
    "title",
    "author",
    "text",
    "source_site",
    "language",
    "url",
    "score",
    "matched",
    "similar",
]
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


@bp.get("/export.csv")
def export_csv():
    params = _params()
    items = all_results(params)
    incs = incidents_by_id()
    buf = io.StringIO()
    buf.write("\ufeff")  # BOM: spreadsheet apps then read the Cyrillic correctly
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for it in items:
        p = it.post
        inc = incs.get(p.incident_id) if p.incident_id is not None else None
        row = [
            p.id,
            iso(p.published_at),
            "; ".join(p.companies),
            p.incident_id,
            inc.label_en if inc else "",
            strip_bidi(p.title),
            strip_bidi(shown_author(p.author)),
            p.text,
            p.source_site,
            p.language,
            p.url,
            "" if it.score is None else f"{it.score:.6f}",
            it.matched,
            int(it.similar),
        ]
        w.writerow([csv_cell(v) for v in row])
    return _attachment(buf.getvalue(), "text/csv", "csv")


@bp.get("/export.json")
def export_json():
    params = _params()
    items = all_results(params)
    incs = incidents_by_id()
    body = {
        "query": params.q,
        "filters": params.filter_dict(),
        "sort": params.sort,
        "similar": params.similar,
        "generated_at": iso(datetime.now(timezone.utc).replace(microsecond=0)),
        "count": len(items),
        "cap": setting("MAX_RESULTS"),
        "results": [
            {**post_dict(it.post, incs), "score": it.score, "matched": it.matched, "similar": it.similar}
            for it in items
        ],
    }
    return _attachment(json.dumps(body, ensure_ascii=False, indent=1), "application/json", "json")
