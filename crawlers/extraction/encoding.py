"""Decode page bytes to correct Unicode.

Declarations lie: Pikabu served UTF-8 bytes under <meta charset="windows-1251">
and old forums send Latin-1 with no header charset. So a declared encoding is
only trusted after a strict decode succeeds and the result is not mojibake;
otherwise UTF-8 is tried, then charset-normalizer guesses.

One invalid byte must not cost a page its encoding: when no strict decode
works, UTF-8 and then each declared encoding are tried again with the bad
bytes replaced by U+FFFD, and kept when the bad bytes are few next to the
characters that decoded (``_lenient``). Only then does detection guess, and
its decode replaces bad bytes too. (Before, ``месяц\xff`` under
``charset=utf-8`` failed the strict decode and the whole page was guessed to
be cp1252.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import charset_normalizer
from parsel import Selector
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

if TYPE_CHECKING:
    from scrapy.http import Response

# UTF-8 text read as a single-byte code page leaves tell-tale pairs: a lead byte
# (Ã Â â for Latin, Р С for Cyrillic) followed by a continuation byte rendered
# as punctuation or a rare letter.
_CP1252_MOJIBAKE = re.compile(
    "[ÃÂ][\u0080-\u00bf\u2018-\u203a\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc]|â€"
)
_CP1251_CONT = "".join(bytes([b]).decode("cp1251", "ignore") for b in range(0x80, 0xC0))
_CP1251_MOJIBAKE = re.compile(f"[РС][{re.escape(_CP1251_CONT)}]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_LATIN_EXT = re.compile("[\u00c0-\u024f]")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    source: str  # "bom" | "header" | "declared" | "utf-8" | "detected" | "fallback"


def looks_mojibake(text: str) -> bool:
    """True when the text reads like UTF-8 bytes decoded as cp1252/cp1251."""
    cyr = len(_CYRILLIC.findall(text))
    if cyr and len(_CP1251_MOJIBAKE.findall(text)) > 0.2 * cyr:
        return True
    lat = len(_LATIN_EXT.findall(text))
    return bool(lat) and len(_CP1252_MOJIBAKE.findall(text)) > 0.2 * lat


def _is_multibyte_utf8(body: bytes) -> bool:
    """Valid UTF-8 with non-ASCII bytes: a single-byte encoding almost never
    produces that by accident, so it outranks any declaration."""
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _try(body: bytes, encoding: str) -> str | None:
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    if encoding != "utf-8" and _is_multibyte_utf8(body):
        return None
    return None if looks_mojibake(text) else text


_NON_ASCII = re.compile("[^\x00-\x7f]")
# A lenient decode is kept when it has at least this many good non-ASCII
# characters per replaced bad sequence: a cp1251 or Latin-1 page read as UTF-8
# has almost no valid multi-byte sequences and a bad one on nearly every
# letter, so even the lower ratio for a declared encoding keeps those apart.
_GOOD_PER_BAD = 10
_GOOD_PER_BAD_DECLARED = 2


def _lenient(body: bytes, encoding: str, good_per_bad: int) -> str | None:
    """`body` decoded with each bad sequence replaced by U+FFFD, when the bad
    ones are few next to the non-ASCII characters that decoded and the result
    is not mojibake; else None. (A mostly-ASCII page has too few good
    characters to tell a stray byte from a Latin-1 letter: detection decides.)"""
    try:
        text = body.decode(encoding, "replace")
        kept = body.decode(encoding, "ignore")
    except LookupError:
        return None
    bad = len(text) - len(kept)  # "replace" puts one U+FFFD where "ignore" puts nothing
    good = len(_NON_ASCII.findall(kept))
    if bad * good_per_bad > good or looks_mojibake(text):
        return None
    return text


def _declared(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for label, source in (
        (http_content_type_encoding(content_type), "header"),
        (html_body_declared_encoding(body[:8192]), "declared"),
    ):
        enc = resolve_encoding(label) if label else None
        if enc and enc not in [e for e, _ in out]:
            out.append((enc, source))
            # WHATWG maps latin-1 to cp1252, which has five undefined bytes.
            if enc == "cp1252":
                out.append(("latin-1", source))
    return out


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode an HTML/XML document's bytes; `content_type` is the raw header."""
    bom_enc, bom = read_bom(body)
    if bom_enc and bom is not None:
        return Decoded(body[len(bom) :].decode(bom_enc, "replace"), bom_enc, "bom")
    for enc, source in _declared(body, content_type):
        text = _try(body, enc)
        if text is not None:
            return Decoded(text, enc, source)
    text = _try(body, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "utf-8")
    # No strict decode: a few bad bytes in an otherwise good page. UTF-8 first
    # (valid multi-byte sequences outrank a declaration, as above), then what
    # the page declares; the bad bytes become U+FFFD, the rest stays right.
    declared = _declared(body, content_type)
    utf8_source = next((source for enc, source in declared if enc == "utf-8"), None)
    text = _lenient(body, "utf-8", _GOOD_PER_BAD_DECLARED if utf8_source else _GOOD_PER_BAD)
    if text is not None:
        return Decoded(text, "utf-8", utf8_source or "utf-8")
    for enc, source in declared:
        if enc != "utf-8" and (text := _lenient(body, enc, _GOOD_PER_BAD_DECLARED)) is not None:
            return Decoded(text, enc, source)
    best = charset_normalizer.from_bytes(body).best()
    if best is not None and best.encoding:
        return Decoded(body.decode(best.encoding, "replace"), best.encoding, "detected")
    return Decoded(body.decode("cp1252", "replace"), "cp1252", "fallback")


def _content_type(response: Response) -> str | None:
    raw = response.headers.get(b"Content-Type")
    return raw.decode("latin-1") if raw else None


def response_text(response: Response) -> str:
    """Use instead of `response.text`, which trusts the declared charset."""
    return decode_html(response.body, _content_type(response)).text


def selector(response: Response, type: str | None = None) -> Selector:  # noqa: A002
    """A parsel Selector over the correctly decoded body (type "html"/"xml")."""
    return Selector(text=response_text(response), type=type, base_url=response.url)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value) if _LONE_SURROGATE.search(value) else value
    if isinstance(value, list):
        return [_valid(v) for v in value]
    if isinstance(value, dict):
        return {_valid(k): _valid(v) for k, v in value.items()}
    return value


def loads_json(text: str) -> Any:
    """``json.loads`` whose strings are valid Unicode: a lone surrogate escape
    (``"\\ud83d"``, half an emoji cut off by a truncating API) becomes U+FFFD
    instead of breaking lxml, the stores and the exports further on."""
    return _valid(json.loads(text))
