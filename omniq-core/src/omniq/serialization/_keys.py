"""The project's signing keys: HMAC-SHA256 envelopes with a key id, so keys can rotate.

Anyone who can write to a store must not be able to make a worker run code, so every payload
a worker reads travels in a signed envelope, checked before a name is imported or a byte
unpickled (docs/user_guide/security.qmd). The envelope is a msgpack array
``[version, key_id, mac, body]`` where ``mac = HMAC-SHA256(key, body)``. Signing uses the
current key; verifying accepts any key of the ring, which is how a secret is rotated without
refusing payloads already in the stores.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from secrets import token_hex, token_urlsafe

import msgspec

from omniq.exceptions import ConfigError, SignatureError

logger = logging.getLogger("omniq.serialization")

ENVELOPE_VERSION = 1
_MAC_SIZE = hashlib.sha256().digest_size
SECRET_ENV = "OMNIQ_SECRET_KEY"
# Project names become file names: a conservative set, no path separators, no leading dot.
_PROJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

_encode = msgspec.msgpack.Encoder().encode
# A typed decoder rejects any envelope that is not exactly four fields of the right types.
_decode_envelope = msgspec.msgpack.Decoder(tuple[int, str, bytes, bytes]).decode

_project_cache: dict[tuple[str, str | None, str], Keyring] = {}
_project_lock = threading.Lock()

_ROTATION_HINT = (
    f"set the same {SECRET_ENV} on every machine that enqueues or runs tasks "
    f"(a comma-separated list verifies old keys too: '{SECRET_ENV}=new,old')"
)


def key_id_for(secret: bytes) -> str:
    """The public id of a secret: the first 8 hex characters of its SHA-256."""
    return hashlib.sha256(secret).hexdigest()[:8]


class Keyring:
    """Signs with the key ``current`` and verifies with any of ``keys`` (id -> secret)."""

    __slots__ = ("_keys", "_current", "_current_key")

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if not keys:
            raise ConfigError("a keyring needs at least one key", field="keys", value={})
        checked: dict[str, bytes] = {}
        for key_id, secret in keys.items():
            if not isinstance(key_id, str) or not key_id:
                raise ConfigError("key ids are non-empty strings", field="key_id", value=key_id)
            if not isinstance(secret, bytes | bytearray) or not secret:
                # Never echo the secret itself into an error message.
                raise ConfigError("a secret key must be non-empty bytes",
                                  field=f"keys[{key_id!r}]", expected="non-empty bytes")
            checked[key_id] = bytes(secret)
        if current not in checked:
            raise ConfigError("the signing key must be one of the keys", field="current",
                              value=current, expected=f"one of {sorted(checked)}")
        self._keys = checked
        self._current = current
        self._current_key = checked[current]

    @classmethod
    def from_secrets(cls, secrets: Sequence[str | bytes]) -> Keyring:
        """A keyring of ``secrets``: the first signs, all verify. A key's id derives from its
        secret (:func:`key_id_for`), so the same secret has the same id on every machine."""
        if isinstance(secrets, str | bytes):
            secrets = [secrets]
        keys: dict[str, bytes] = {}
        for index, secret in enumerate(secrets):
            raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
            if not raw:
                raise ConfigError("a secret key must not be empty", field=f"secrets[{index}]")
            keys.setdefault(key_id_for(raw), raw)
        if not keys:
            raise ConfigError("at least one secret key is needed", field="secrets", value=[])
        return cls(keys, next(iter(keys)))

    @classmethod
    def for_project(cls, project_name: str, secret_key: str | None = None) -> Keyring:
        """The keyring a project uses, found with no set-up on a single machine.

        The secret comes from ``secret_key`` when given, else from the environment variable
        ``OMNIQ_SECRET_KEY``, else from a key generated once for the project and kept in
        ``$XDG_CONFIG_HOME/omniq/keys/<project>.key`` (``~/.config`` when unset), mode 0600.
        A secret string is a comma-separated list: the first signs, all verify (rotation).
        An empty string counts as unset. Results are cached per project and secret.
        """
        if not isinstance(project_name, str) or not _PROJECT_RE.fullmatch(project_name):
            raise ConfigError("invalid project name", field="project_name", value=project_name,
                              expected="1-128 characters of A-Z a-z 0-9 _ . -, starting with a "
                                       "letter or digit")
        secret = _nonempty(secret_key) or _nonempty(os.environ.get(SECRET_ENV))
        path = "" if secret is not None else str(_key_path(project_name))
        cache_key = (project_name, secret, path)
        keyring = _project_cache.get(cache_key)
        if keyring is not None:
            return keyring
        with _project_lock:
            keyring = _project_cache.get(cache_key)
            if keyring is None:
                if secret is None:
                    secret = _load_or_create_key_file(Path(path), project_name)
                keyring = cls.from_secrets(_split(secret, source=path or SECRET_ENV))
                _project_cache[cache_key] = keyring
        return keyring

    @property
    def current_key_id(self) -> str:
        """The id of the key that signs."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of every key that verifies, the signing key first."""
        return (self._current, *(k for k in self._keys if k != self._current))

    def sign(self, body: bytes) -> bytes:
        """Wrap ``body`` in an envelope signed with the current key."""
        mac = hmac.digest(self._current_key, body, "sha256")
        return _encode((ENVELOPE_VERSION, self._current, mac, body))

    def verify(self, envelope: bytes) -> bytes:
        """The body of a signed envelope; SignatureError if it is missing or malformed, was
        signed with a key this ring does not know, or its signature does not match."""
        if not envelope:
            raise SignatureError("refused an unsigned payload: the signed envelope is missing")
        try:
            version, key_id, mac, body = _decode_envelope(envelope)
        except (msgspec.DecodeError, TypeError) as exc:
            raise SignatureError("refused a payload: it is not a signed OmniQ envelope") from exc
        if version != ENVELOPE_VERSION:
            raise SignatureError(f"refused a payload: unsupported envelope version {version}")
        key = self._keys.get(key_id)
        if key is None:
            raise SignatureError(
                f"refused a payload signed with key id {key_id!r}, which this process does not "
                f"know (it knows {', '.join(self.key_ids)}): {_ROTATION_HINT}"
            )
        if len(mac) != _MAC_SIZE or not hmac.compare_digest(mac, hmac.digest(key, body, "sha256")):
            raise SignatureError(
                f"refused a payload whose signature does not match (key id {key_id!r}): "
                "it was altered or forged"
            )
        return body

    def __repr__(self) -> str:
        # Ids only: a keyring's repr must never leak a secret into a log.
        return f"Keyring(key_ids={list(self.key_ids)!r})"


def _nonempty(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _split(secret: str, *, source: str) -> list[str]:
    parts = [part.strip() for part in secret.split(",")]
    parts = [part for part in parts if part]
    if not parts:
        raise ConfigError("the secret key is empty", field=SECRET_ENV, source=source)
    return parts


def _config_home() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    # The XDG spec says to ignore a relative path.
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    return Path.home() / ".config"


def _key_path(project_name: str) -> Path:
    return _config_home() / "omniq" / "keys" / f"{project_name}.key"


def _load_or_create_key_file(path: Path, project_name: str) -> str:
    """Read the project's key file, creating it first if it does not exist.

    Two processes starting together must agree on one key, so the new key is written in full to
    a private temporary file and then published with ``os.link``, which fails if the name exists:
    the loser discards its key and reads the winner's. Nobody ever sees a half-written file.
    """
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, (token_urlsafe(32) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            _publish(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        else:
            logger.info("generated a secret key for project %r in %s; %s", project_name, path,
                        _ROTATION_HINT)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key_file(path)


def _publish(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except (AttributeError, NotImplementedError, OSError):
        # No hard links here (Windows, some network file systems): rename, which on Windows
        # refuses an existing target just as link does.
        if path.exists():
            raise FileExistsError(path) from None
        os.rename(tmp, path)


def _read_key_file(path: Path) -> str:
    with open(path, encoding="utf-8") as file:
        mode = os.fstat(file.fileno()).st_mode & 0o777
        if os.name == "posix" and mode & 0o077:
            logger.warning("key file %s is readable by others (mode %o): chmod 600 it", path, mode)
        secret = file.read().strip()
    if not secret:
        raise ConfigError(f"the key file is empty: delete it to generate a new key, or set "
                          f"{SECRET_ENV}", source=str(path))
    return secret


def _clear_project_cache() -> None:
    """Forget cached project keyrings (for tests that change the environment)."""
    with _project_lock:
        _project_cache.clear()
