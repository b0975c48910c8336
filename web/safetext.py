"""Text from posts and requests made safe to show or store.

- :func:`strip_bidi`: removes the Unicode bidirectional controls (U+202A-U+202E
  embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F marks, U+061C)
  from metadata (titles, author and company names), so "\u202egpj.exe" cannot
  reorder what follows it on a page. Post text keeps them and is shown in
  elements with ``dir="auto"``, which isolate it (the HTML rendering rules give
  such elements ``unicode-bidi: isolate``).
- :func:`check_json`: a parsed JSON request body without lone surrogates
  (they cannot be stored as UTF-8) and nested no deeper than a limit.
"""

from __future__ import annotations

import re
from typing import overload

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_JSON_DEPTH = 32


@overload
def strip_bidi(value: str) -> str: ...
@overload
def strip_bidi(value: None) -> None: ...
def strip_bidi(value: str | None) -> str | None:
    """The text without bidirectional control characters (None stays None)."""
    if not value:
        return value
    return _BIDI.sub("", value)


def has_surrogate(value: str) -> bool:
    return _SURROGATE.search(value) is not None


class UnsafeJSON(ValueError):
    pass


def check_json(value: object, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise UnsafeJSON when ``value`` (from json.loads) holds a string with a lone
    surrogate or lists/objects nested deeper than ``max_depth``. Iterative: a
    deep value cannot exhaust the stack here."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            if has_surrogate(v):
                raise UnsafeJSON("strings must be valid Unicode (a lone surrogate such as \\ud800 is not)")
        elif isinstance(v, (list, dict)):
            if depth >= max_depth:
                raise UnsafeJSON(f"nested too deeply (at most {max_depth} levels)")
            items = [x for kv in v.items() for x in kv] if isinstance(v, dict) else v
            stack.extend((x, depth + 1) for x in items)
