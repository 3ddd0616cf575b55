"""Secrets by key id, with several secrets per key id during rotation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from imref.auth.primitives import HmacKey
from imref.errors import ImrefError

_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
MIN_SECRET_BYTES = 16


class KeyConfigError(ImrefError, ValueError):
    """A key id or secret given to imref is unusable."""


def check_key_id(key_id: str) -> str:
    """Return ``key_id`` if it is 1 to 64 of ``A-Z a-z 0-9 . _ -``.

    Raises:
        KeyConfigError: the key id has other characters or another length.
    """
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise KeyConfigError(
            f"key id {key_id!r} is invalid; use 1 to 64 characters from "
            "A-Z, a-z, 0-9, '.', '_' and '-'"
        )
    return key_id


def secret_bytes(secret: str | bytes) -> bytes:
    """Return a secret as bytes (UTF-8 for a str), checking its length.

    Raises:
        KeyConfigError: the secret is shorter than 16 bytes. The message
            gives the length only, never the secret.
    """
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes | bytearray):
        raise KeyConfigError(f"a secret must be str or bytes, not {type(secret)!r}")
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyConfigError(
            f"a secret of {len(secret)} bytes is too short; use at least "
            f"{MIN_SECRET_BYTES} random bytes, for example secrets.token_bytes(32), or "
            "the hex text that 'openssl rand -hex 32' prints"
        )
    return bytes(secret)


class KeyStore:
    """Active secrets per key id; the verifier accepts a tag from any of them.

    Rotation: add the new secret to the key id, move signers to it, then
    retire the old one once no request signed with it can still be in its
    timestamp window. The repr shows key ids and secret counts only.
    """

    def __init__(self, keys: Mapping[str, str | bytes | Iterable[str | bytes]] = ()):
        self._secrets: dict[str, list[bytes]] = {}
        # Changed in place only, because RequestVerifier keeps its get method.
        self._hmac_keys: dict[str, tuple[HmacKey, ...]] = {}
        for key_id, secrets in dict(keys).items():
            if isinstance(secrets, str | bytes):
                secrets = [secrets]
            for secret in secrets:
                self.add_secret(key_id, secret)

    def add_secret(self, key_id: str, secret: str | bytes) -> None:
        """Activate ``secret`` for ``key_id``, alongside any secret it has.

        Raises:
            KeyConfigError: the key id or the secret is invalid.
        """
        value = secret_bytes(secret)
        active = self._secrets.setdefault(check_key_id(key_id), [])
        if value not in active:
            active.append(value)
        self._hmac_keys[key_id] = tuple(HmacKey(s) for s in active)

    def retire_secret(self, key_id: str, secret: str | bytes) -> None:
        """Deactivate one secret of ``key_id``; a key id with none left is removed.

        Raises:
            KeyConfigError: the key id does not have that secret.
        """
        value = secret_bytes(secret)
        active = self._secrets.get(key_id, [])
        if value not in active:
            raise KeyConfigError(f"key id {key_id!r} has no such active secret")
        active.remove(value)
        self._hmac_keys[key_id] = tuple(HmacKey(s) for s in active)
        if not active:
            del self._secrets[key_id]
            del self._hmac_keys[key_id]

    def secrets_for(self, key_id: str) -> tuple[bytes, ...]:
        """Return the active secrets of ``key_id``, empty if it is unknown."""
        return tuple(self._secrets.get(key_id, ()))

    def hmac_keys_for(self, key_id: str) -> tuple[HmacKey, ...]:
        """Return the active secrets of ``key_id`` as precomputed HMAC keys."""
        return self._hmac_keys.get(key_id, ())

    def key_ids(self) -> list[str]:
        """Return the known key ids, sorted."""
        return sorted(self._secrets)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._secrets

    def __repr__(self) -> str:
        counts = ", ".join(f"{k!r}: {len(v)}" for k, v in sorted(self._secrets.items()))
        return f"KeyStore({{{counts}}} secrets)"
