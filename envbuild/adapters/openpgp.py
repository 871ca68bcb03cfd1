"""OpenPGP signatures, checked with Sequoia (pysequoia, in-process): the apt archives' InRelease and Release.gpg.

Why Sequoia in-process rather than ``gpgv`` or ``sqv``: it is on PyPI with wheels for Linux and macOS, so a
laptop without apt's tools verifies exactly as a Debian build host does, and it is the implementation apt itself
uses from Debian 13 on (``sqv``).  Its standard policy applies: signatures by SHA-1, by expired or revoked keys,
or made outside a key's validity are not good signatures.  Nothing here is hand-written cryptography.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from envbuild.errors import EnvbuildError


class SignatureError(EnvbuildError):
    """A signature is missing, bad, or by a key the keyring does not hold."""


@dataclass(frozen=True)
class Keyring:
    """Trusted certificates, as armored or binary OpenPGP data, with a name for messages."""

    name: str  # "the debian archive keys", "keys/internal.asc"
    blobs: tuple[bytes, ...]

    def fingerprints(self) -> tuple[str, ...]:
        return tuple(sorted(c.fingerprint for c in _certs(self)))


def _sequoia() -> Any:
    import pysequoia

    return pysequoia


@cache
def _certs(keyring: Keyring) -> tuple[Any, ...]:
    sequoia = _sequoia()
    out: list[Any] = []
    for blob in keyring.blobs:
        try:
            out += sequoia.Cert.split_bytes(blob)
        except Exception as exc:
            raise SignatureError(f"{keyring.name}: not an OpenPGP public key ({_first_line(exc)})") from None
    if not out:
        raise SignatureError(f"{keyring.name}: holds no OpenPGP public key")
    return tuple(out)


def verify_clearsigned(data: bytes, keyring: Keyring, where: str) -> tuple[bytes, str]:
    """(the signed text, the fingerprint of the certificate that signed it) of a cleartext-signed DATA (InRelease)."""
    if not data.lstrip().startswith(b"-----BEGIN PGP SIGNED MESSAGE-----"):
        raise SignatureError(f"{where}: not signed (no cleartext signature)")
    return _verify(where, keyring, bytes=data)


def verify_detached(data: bytes, signature: bytes, keyring: Keyring, where: str) -> str:
    """The fingerprint of the certificate whose SIGNATURE (Release.gpg) over DATA (Release) is good."""
    sequoia = _sequoia()
    try:
        sig = sequoia.Sig.from_bytes(signature)
    except Exception as exc:
        raise SignatureError(f"{where}: the signature cannot be read ({_first_line(exc)})") from None
    return _verify(where, keyring, bytes=data, signature=sig)[1]


def _verify(where: str, keyring: Keyring, **kwargs: Any) -> tuple[bytes, str]:
    sequoia = _sequoia()
    certs = _certs(keyring)
    try:
        result = sequoia.verify(store=lambda _ids: list(certs), **kwargs)
    except Exception as exc:
        raise SignatureError(f"{where}: no good signature by {keyring.name} ({_first_line(exc)})") from None
    signers = sorted(str(s.certificate) for s in result.valid_sigs)
    if not signers:
        raise SignatureError(f"{where}: no good signature by {keyring.name}")
    content = result.bytes if result.bytes is not None else kwargs["bytes"]
    return content, signers[0]


def _first_line(exc: Exception) -> str:
    """Sequoia's message without its cause chain and backtrace."""
    return (str(exc).strip().splitlines() or ["unknown error"])[0].rstrip(".")


def fingerprints_of(blob: bytes) -> list[str]:
    """The fingerprints of the certificates in BLOB (for the shipped keys' self-check)."""
    return [c.fingerprint for c in _certs(Keyring("a key", (blob,)))]


def armored(blob: bytes) -> str:
    """The public certificates in BLOB as ASCII armor (one block each), as the lock keeps them."""
    return "".join(str(c) for c in _certs(Keyring("[system] signed-by", (blob,))))
