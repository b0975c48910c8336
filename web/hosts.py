"""A Host header allow-list, against DNS rebinding.

A page on ``evil.example`` whose name an attacker re-points at 127.0.0.1 can
make the victim's browser talk to a complaintwatch bound to loopback: the
request then carries ``Host: evil.example``. With ``ALLOWED_HOSTS`` set (a list
of entries; ``complaintwatch serve`` sets it, see :func:`default_allowed_hosts`)
every request whose Host is not on the list is refused with 400 before any
view runs. ``ALLOWED_HOSTS`` None (the app factory's default, tests) checks
nothing.

Entries: ``name`` (any port), ``name:port``, ``[v6addr]`` or ``[v6addr]:port``,
``.example.org`` (that name and every subdomain, any port) or ``*`` (no check:
only behind a proxy that checks Host itself).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable

from flask import Flask, abort, current_app, request

WILDCARD_BINDS = ("", "0.0.0.0", "::")
_PORT = re.compile(r"[0-9]{1,5}")


def _norm(name: str) -> str:
    return name.strip().lower().rstrip(".")


def parse_host(value: str | None) -> tuple[str, int | None] | None:
    """``'Example.ORG:8000'`` -> ``('example.org', 8000)``, ``'[::1]'`` -> ``('::1', None)``;
    None when it is not a host name with an optional port."""
    value = (value or "").strip()
    if not value or any(c in value for c in "/\\@?# \t"):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:] if rest else None
    else:
        name, sep, port = value.partition(":")
        if not sep:
            port = None
        if ":" in (port or ""):  # a bare IPv6 address is not a valid Host
            return None
    port_num: int | None = None
    if port is not None:
        if not _PORT.fullmatch(port) or int(port) > 65535:
            return None
        port_num = int(port)
    name = _norm(name)
    return (name, port_num) if name else None


def host_entry(host: str, port: int | None = None) -> str:
    """An allow-list entry for a bind address: IPv6 in brackets."""
    host = _norm(host)
    if ":" in host:
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    host = _norm(host).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_allowed_hosts(bind_host: str, port: int) -> list[str]:
    """What ``serve`` answers to without ``--allowed-host``: the address it binds
    and its port; on loopback also 127.0.0.1, localhost and [::1] on that port; on
    a wildcard address (0.0.0.0, ::) those plus this machine's own names."""
    loopback = [host_entry(h, port) for h in ("127.0.0.1", "localhost", "::1")]
    if _norm(bind_host) in WILDCARD_BINDS:
        names = set()
        try:
            names |= {socket.gethostname(), socket.getfqdn()}
        except OSError:
            pass
        return loopback + sorted(host_entry(n, port) for n in names if n and _norm(n) not in ("localhost",))
    own = [host_entry(bind_host, port)]
    if is_loopback(bind_host):
        return own + [e for e in loopback if e not in own]
    return own


def host_allowed(host_header: str | None, allowed: Iterable[str], default_port: int = 80) -> bool:
    """Whether a request's Host header matches an allow-list entry (see the module doc)."""
    allowed = list(allowed)
    if "*" in allowed:
        return True
    got = parse_host(host_header)
    if got is None:
        return False
    name, port = got
    port = default_port if port is None else port
    for entry in allowed:
        entry = entry.strip()
        if entry.startswith(".") and len(entry) > 1:
            suffix = _norm(entry[1:])
            if name == suffix or name.endswith("." + suffix):
                return True
            continue
        want = parse_host(entry)
        if want and want[0] == name and want[1] in (None, port):
            return True
    return False


def _check() -> None:
    allowed = current_app.config.get("ALLOWED_HOSTS")
    if allowed is None:
        return
    host = request.environ.get("HTTP_HOST")
    default_port = 443 if request.scheme == "https" else 80
    if not host_allowed(host, allowed, default_port):
        abort(
            400,
            description="This server does not answer to that Host name "
            "(complaintwatch serve --allowed-host NAME, or $COMPLAINTWATCH_ALLOWED_HOSTS, adds names).",
        )


def init_app(app: Flask) -> None:
    """Register the check first, so it runs before every other before-request hook."""
    app.before_request_funcs.setdefault(None, []).insert(0, _check)
