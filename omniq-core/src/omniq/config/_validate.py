"""Keeping identifiers safe to use and secrets out of messages.

Queue, project and schedule names end up in file paths, SQL identifiers and values, Redis keys
and NATS subjects; one conservative character set keeps every backend safe without escaping
rules of its own. Connection URLs and storage options are redacted wherever they are logged,
printed or raised (see docs/user_guide/security.qmd).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from ..exceptions import ConfigError

#: What :func:`validate_name` accepts, in words (used in its error messages).
NAME_RULE = "1 to 64 characters from A-Z a-z 0-9 '_' '.' '-', not starting with '.' or '-'"
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")

#: What a component or worker type name may look like (registry keys such as ``thread_pool``).
TYPE_RULE = "a type name: a letter, then up to 63 characters from A-Z a-z 0-9 '_' '.' '-'"
_TYPE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")

REDACTED = "***"
# Over-matching costs nothing (a value hidden in a message); under-matching leaks a secret.
_SENSITIVE_RE = re.compile(r"pass|pwd|secret|token|key|credential|auth|sig", re.IGNORECASE)
_SECRET_WORDS = ("password", "passphrase", "passwd", "secret", "token", "credentials",
                 "credential")
# "user:password@" in text that is not a URL (a scheme without its "://", say).
_USERINFO_RE = re.compile(r"(?P<user>(?:^|[/\s])[^:/@\s]*):(?P<pw>[^@\s/]+)@")
# "password=..." pairs outside a URL: libpq DSNs, connection strings, storage options.
_KV_SECRET_RE = re.compile(
    r"(?P<key>[\w.-]*(?:pass|pwd|secret|token|key|credential|sig)[\w.-]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<val>'[^']*'|\"[^\"]*\"|[^\s;&,]+)",
    re.IGNORECASE,
)


def validate_name(kind: str, value: str) -> str:
    """``value``, checked as a ``kind`` name (``"queue"``, ``"project"``, ``"schedule"``):
    anything but :data:`NAME_RULE` (path separators, spaces, quotes, colons, braces, wildcards,
    control characters) is a ConfigError."""
    if not isinstance(value, str) or _NAME_RE.fullmatch(value) is None:
        field = kind if kind.endswith("name") else f"{kind}_name"
        raise ConfigError(f"invalid {kind} name", field=field, value=value, expected=NAME_RULE)
    return value


#: What :func:`validate_task_id` accepts, in words.
TASK_ID_RULE = "a non-empty string without control characters (no newline, tab or NUL)"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def validate_task_id(value: str) -> str:
    """Check a task id a caller chose and return it unchanged.

    Task ids are otherwise free text (each backend stores them as values or encodes them into
    keys and paths), but a control character breaks line-based replies, cannot be stored in
    PostgreSQL text, and forges lines in logs.

    Raises:
        ConfigError: ``value`` is not a string, or holds a control character.
    """
    if not isinstance(value, str) or not value or _CONTROL_RE.search(value):
        raise ConfigError("invalid task_id", field="task_id", value=value,
                          expected=TASK_ID_RULE)
    return value


def validate_type_name(kind: str, value: str) -> str:
    """``value``, checked as a component or worker type name (``sqlite``, ``thread_pool``)."""
    if not isinstance(value, str) or _TYPE_RE.fullmatch(value) is None:
        raise ConfigError(f"invalid {kind}", field=kind, value=value, expected=TYPE_RULE)
    return value


def is_sensitive(key: str) -> bool:
    """Whether a setting or option name probably holds a secret (password, token, key), or
    is a misspelling of one (``pasword``: its value is shown in the error that names it)."""
    if _SENSITIVE_RE.search(key):
        return True
    words = re.split(r"[^a-z]+", key.lower())
    return any(difflib.get_close_matches(word, _SECRET_WORDS, n=1, cutoff=0.75)
               for word in words if len(word) >= 4)


def redact_value(key: str, value: Any) -> Any:
    """``value`` fit for a message: hidden when ``key`` names a secret, URLs redacted."""
    if value is None:
        return None
    if is_sensitive(key):
        return REDACTED
    if isinstance(value, str):
        return redact_url(value)
    return value


def redact_url(url: str) -> str:
    """``url`` with its password, secret-looking query parameters (``key``, ``secret``,
    ``pass``, ``token``, ``sig``, ``credential``) and a non-URL DSN's ``password=...`` pairs
    replaced by ``***``: ``postgresql://app:***@db:5432/x?sslpassword=***``."""
    if "://" not in url:
        return _USERINFO_RE.sub(rf"\g<user>:{REDACTED}@", _KV_SECRET_RE.sub(_hide_pair, url))
    scheme, sep, rest = url.partition("://")
    # The authority ends at the first '/', '?' or '#'; a password may hold '@', so the
    # user-info ends at the *last* '@' of the authority.
    end = min((i for i in (rest.find(c) for c in "/?#") if i != -1), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hostport = authority.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        authority = f"{user}:{REDACTED}@{hostport}"
    elif at and _is_token_userinfo(scheme, userinfo):
        authority = f"{REDACTED}@{hostport}"
    return f"{scheme}{sep}{authority}{_redact_query(tail)}"


def _is_token_userinfo(scheme: str, userinfo: str) -> bool:
    # "nats://token@host" carries a bare token, not a user name.
    return bool(userinfo) and scheme.lower() in {"nats", "tls"}


def _redact_query(tail: str) -> str:
    path, qmark, rest = tail.partition("?")
    if not qmark:
        return tail
    query, hash_, fragment = rest.partition("#")
    params = []
    for param in query.split("&"):
        name, eq, _ = param.partition("=")
        params.append(f"{name}={REDACTED}" if eq and is_sensitive(name) else param)
    return f"{path}?{'&'.join(params)}{hash_}{fragment}"


def _hide_pair(match: re.Match[str]) -> str:
    return f"{match['key']}{match['sep']}{REDACTED}"
