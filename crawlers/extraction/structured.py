"""schema.org data embedded in pages (JSON-LD and microdata) via extruct,
flattened so callers can look objects up by @type."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import extruct

log = logging.getLogger(__name__)


def structured_items(html: str, url: str) -> list[dict[str, Any]]:
    """Top-level JSON-LD and microdata objects, @graph containers unpacked.
    Broken markup yields [] rather than an error: it is only ever a hint."""
    try:
        data = extruct.extract(html, base_url=url, syntaxes=["json-ld", "microdata"], uniform=True, errors="ignore")
    except Exception as exc:
        log.debug("extruct failed on %s: %s", url, exc)
        return []
    out: list[dict[str, Any]] = []
    for item in data.get("json-ld", []) + data.get("microdata", []):
        if isinstance(item, dict) and isinstance(item.get("@graph"), list):
            out.extend(x for x in item["@graph"] if isinstance(x, dict))
        elif isinstance(item, dict):
            out.append(item)
    return out


def types_of(obj: dict[str, Any]) -> set[str]:
    """@type values without the schema.org prefix: {"Review", "NewsArticle"}."""
    raw = obj.get("@type") or []
    values = raw if isinstance(raw, list) else [raw]
    return {str(v).rsplit("/", 1)[-1] for v in values}


def walk(value: Any, parent: dict[str, Any] | None = None) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Every dict nested anywhere in `value`, with the dict that contains it."""
    if isinstance(value, dict):
        yield value, parent
        for child in value.values():
            yield from walk(child, value)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child, parent)


def find_typed(items: list[dict[str, Any]], *names: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(object, containing object) for every nested object of one of `names`."""
    wanted = set(names)
    return [(obj, parent) for obj, parent in walk(items) if types_of(obj) & wanted]


def name_of(value: Any) -> str | None:
    """A person/organisation name from a string, a {"name": ...} object or a list."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("alternateName")
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() or None if value else None


def first_str(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value") or value.get("text")
    return str(value).strip() or None if value not in (None, "") else None
