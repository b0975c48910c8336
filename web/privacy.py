"""Author pseudonyms.

With PSEUDONYMISE_AUTHORS on, every author name the app shows (pages, JSON
API, Atom feeds, CSV/JSON exports) is a pseudonym like ``user-3f9a2c``: an
HMAC-SHA256 of the name under a secret key (the PSEUDONYM_KEY setting, else
$COMPLAINTWATCH_PSEUDONYM_KEY). The same author keeps the same pseudonym on
every page and across restarts, and the name cannot be recovered, or guessed
and confirmed, without the key. ``complaintwatch serve --pseudonymise-authors``
keeps a generated key in the state folder when none is given.

Everything goes through :func:`shown_author` (the ``author`` template filter).
Names quoted inside a post's text are left as written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from flask import Flask, current_app, has_app_context

KEY_ENV = "COMPLAINTWATCH_PSEUDONYM_KEY"
KEY_FILE = "pseudonym.key"


def pseudonym(name: str, key: str) -> str:
    """``user-`` and 6 hex digits of HMAC-SHA256(key, name with whitespace normalised)."""
    norm = " ".join(name.split()).encode("utf-8", "surrogatepass")
    return "user-" + hmac.new(key.encode("utf-8"), norm, hashlib.sha256).hexdigest()[:6]


def pseudonym_key(config) -> str | None:
    return config.get("PSEUDONYM_KEY") or os.environ.get(KEY_ENV) or None


def shown_author(name: str | None) -> str | None:
    """The author as the app shows it: the name, or its pseudonym when
    PSEUDONYMISE_AUTHORS is on. Empty stays empty ("anonymous" in templates)."""
    if not name or not name.strip() or not has_app_context():
        return name
    config = current_app.config
    if not config.get("PSEUDONYMISE_AUTHORS"):
        return name
    return pseudonym(name, pseudonym_key(config))


def init_app(app: Flask) -> None:
    """Refuse to start pseudonymising without a key (a random per-process key
    would change every pseudonym on restart); register the template filter."""
    if app.config.get("PSEUDONYMISE_AUTHORS") and not pseudonym_key(app.config):
        raise ValueError(f"PSEUDONYMISE_AUTHORS needs a key: the PSEUDONYM_KEY setting or ${KEY_ENV}")
    app.jinja_env.filters["author"] = shown_author


def load_or_create_key(state_dir: Path) -> str:
    """The key in ``state_dir/pseudonym.key``, created (mode 0600) on first use."""
    path = Path(state_dir) / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    tmp = path.with_name(f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    try:
        os.link(tmp, path)  # appears complete or not at all; fails if another process made one first
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
    finally:
        tmp.unlink()
    return key
