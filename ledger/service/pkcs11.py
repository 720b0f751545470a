"""Signing keys held in a PKCS#11 token (an HSM, a smart card, SoftHSM2).

A key setting (``PROVENANCE_OPERATOR_KEY``, ``PROVENANCE_CHECKPOINT_KEY``, a deployment
file's ``operator_key`` / ``checkpoint_key``) is a PEM file or an RFC 7512 PKCS#11 URI
naming a key in a token::

    pkcs11:token=ledger;object=log-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:LEDGER_PIN

- ``token`` (path attribute, required): the token's label;
- ``object`` (path attribute, required): the label of the Ed25519 key pair (CKK_EC_EDWARDS;
  the private and the public object share it);
- ``module-path`` (query attribute, required): the PKCS#11 module to load;
- ``pin-source`` (query attribute): ``file:/path`` (a file of mode 0600 holding the user
  PIN, RFC 7512) or ``env:NAME`` (an environment variable); absent, the PIN is read from
  ``PROVENANCE_PKCS11_PIN``. A ``pin-value`` in the URI is refused: a URI is a setting,
  copied into files and process listings, and a PIN is a secret.

`Pkcs11Signer` satisfies `ledger.crypto.Signer`: the private key never leaves the token,
which signs with CKM_EDDSA (pure Ed25519, RFC 8032); the signature is the one an
in-memory key would make over the same bytes, so verifiers cannot tell (and need not).
Opening one checks everything at once (module, token, PIN, key, that the private and
public objects are one pair, by a test signature), so a server with a broken token
refuses to start instead of failing at its first write.

The binding is python-pkcs11 (the optional extra ``hsm``), imported only when a token is
opened: nothing else in the ledger loads it, and the core never does.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature

from ledger import crypto
from ledger.errors import KeyFormatError, KeyUnavailableError
from ledger.service.keyfiles import read_key_file

SCHEME = "pkcs11:"
#: where the PIN comes from when the URI names no ``pin-source``
PIN_ENV = "PROVENANCE_PKCS11_PIN"
#: RFC 8410: the object identifier of Ed25519, the curve of a CKK_EC_EDWARDS key
_ED25519_OID = "1.3.101.112"
_SELF_TEST = b"provenance-ledger: PKCS#11 key self-test\n"


def is_uri(text: str) -> bool:
    """Whether a key setting names a key in a token (else it is a file path)."""
    return text.startswith(SCHEME)


@dataclass(frozen=True)
class Pkcs11Uri:
    """A key in a token: module, token label, key label and where the PIN comes from."""

    module: Path
    token: str
    object: str
    pin_source: str | None = None

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse ``pkcs11:token=T;object=K?module-path=M[&pin-source=S]`` (RFC 7512;
        values percent-encoded).

        Raises:
            KeyFormatError: not a ``pkcs11:`` URI, an attribute missing, repeated or
                unknown, a ``pin-value``, or a ``pin-source`` that is neither
                ``file:`` nor ``env:``.
        """
        if not is_uri(text):
            raise KeyFormatError("a PKCS#11 key URI starts with pkcs11:", field="key")
        path, _, query = text[len(SCHEME) :].partition("?")
        in_path, in_query = _attributes(path, ";", "path"), _attributes(query, "&", "query")
        both = set(in_path) & set(in_query)
        if both:
            raise KeyFormatError(
                f"PKCS#11 URI attribute {sorted(both)[0]!r} given twice", field="key"
            )
        attrs = in_path | in_query
        if "pin-value" in attrs:
            raise KeyFormatError(
                "a PKCS#11 URI must not hold the PIN (pin-value): use "
                "pin-source=file:/path or pin-source=env:NAME",
                field="key",
            )
        unknown = set(attrs) - {"token", "object", "module-path", "pin-source"}
        if unknown:
            raise KeyFormatError(
                f"unknown PKCS#11 URI attribute {sorted(unknown)[0]!r} "
                "(known: token, object, module-path, pin-source)",
                field="key",
            )
        for required in ("token", "object", "module-path"):
            if not attrs.get(required):
                raise KeyFormatError(f"the PKCS#11 URI names no {required}", field="key")
        source = attrs.get("pin-source")
        if source is not None and not source.startswith(("file:", "env:")):
            raise KeyFormatError("pin-source is file:/path or env:NAME", field="key")
        return cls(Path(attrs["module-path"]), attrs["token"], attrs["object"], source)

    def __str__(self) -> str:
        """The key as people read it in messages (no PIN is ever in it)."""
        return f"key {self.object!r} in token {self.token!r} ({self.module})"

    def pin(self, environ: Mapping[str, str] | None = None) -> str:
        """The user PIN from ``pin-source`` (a 0600 file, or an environment variable),
        else from ``PROVENANCE_PKCS11_PIN``.

        Raises:
            KeyFormatError: the PIN file is missing, unreadable or readable by others.
            KeyUnavailableError: the environment variable is not set, or the PIN is empty.
        """
        env = os.environ if environ is None else environ
        source = self.pin_source or f"env:{PIN_ENV}"
        if source.startswith("file:"):
            path = Path(source[len("file:") :])
            try:
                pin = read_key_file(path, "the PKCS#11 PIN file").decode("utf-8")
            except UnicodeDecodeError as e:
                raise KeyFormatError(f"the PKCS#11 PIN file {path} is not text") from e
        else:
            name = source[len("env:") :]
            if name not in env:
                raise KeyUnavailableError(f"no PIN for the {self}: set {name}", field="key")
            pin = env[name]
        pin = pin.strip()
        if not pin:
            raise KeyUnavailableError(f"the PIN for the {self} is empty", field="key")
        return pin


def _attributes(part: str, separator: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, part.split(separator)):
        name, sep, value = item.partition("=")
        if not sep or not name:
            # never echo the item: a mistyped pin-value would put the PIN in a log line
            raise KeyFormatError(
                f"malformed PKCS#11 URI {where} attribute (expected name=value)", field="key"
            )
        if name in out:
            raise KeyFormatError(f"PKCS#11 URI attribute {name!r} given twice", field="key")
        try:
            out[name] = unquote(value, errors="strict")
        except UnicodeDecodeError as e:
            raise KeyFormatError(f"PKCS#11 URI attribute {name!r} is not UTF-8", field="key") from e
    return out


class Pkcs11Signer:
    """An Ed25519 key in a PKCS#11 token, signing through the process's logged-in session
    with that token.

    Satisfies `ledger.crypto.Signer`. PKCS#11 logs a whole process in to a token, not a
    session, so every key of one token (the log key and the registry key, say) shares one
    session (`_Login`); a session is not safe for concurrent use, so signing takes its
    lock (a signature takes well under a millisecond in SoftHSM2).
    """

    def __init__(self, uri: Pkcs11Uri, login: _Login, private: Any, public: bytes) -> None:
        self.uri = uri
        self._login = login
        self._private = private
        self._public = crypto.public_key_from_raw(public)
        self._closed = False

    @classmethod
    def open(cls, uri: Pkcs11Uri, environ: Mapping[str, str] | None = None) -> Pkcs11Signer:
        """Log in to the token and find the key pair; check it with a test signature.

        Raises:
            KeyFormatError: the PIN file is exposed or unreadable.
            KeyUnavailableError: the binding or the module is missing, no such token,
                the PIN is refused or the token locked, no such key (or several), or the
                private key does not sign for the public one.
        """
        binding = _binding()
        login = _Login.acquire(uri, uri.pin(environ))
        try:
            with login.lock, _errors(uri):
                private = login.session.get_key(
                    object_class=binding.ObjectClass.PRIVATE_KEY,
                    key_type=binding.KeyType.EC_EDWARDS,
                    label=uri.object,
                )
                public = login.session.get_key(
                    object_class=binding.ObjectClass.PUBLIC_KEY,
                    key_type=binding.KeyType.EC_EDWARDS,
                    label=uri.object,
                )
                raw = _raw_point(public[binding.Attribute.EC_POINT], uri)
            signer = cls(uri, login, private, raw)
            signer._self_test()
        except BaseException:
            login.release()
            raise
        return signer

    def public_key(self) -> crypto.Ed25519PublicKey:
        """The key's public half (read from the token once, when opened)."""
        return self._public

    def sign(self, data: bytes) -> bytes:
        """The token's Ed25519 signature (CKM_EDDSA) of ``data``.

        Raises:
            KeyUnavailableError: the signer was closed, or the token failed (removed,
                logged out, out of order).
        """
        binding = _binding()
        with self._login.lock, _errors(self.uri):
            if self._closed:
                raise KeyUnavailableError(f"the {self.uri} is closed", field="key")
            return bytes(self._private.sign(bytes(data), mechanism=binding.Mechanism.EDDSA))

    def close(self) -> None:
        """Stop signing; the token's session closes (logging out) with its last key."""
        with self._login.lock:
            if self._closed:
                return
            self._closed = True
        self._login.release()

    def _self_test(self) -> None:
        try:
            self._public.verify(self.sign(_SELF_TEST), _SELF_TEST)
        except InvalidSignature as e:
            raise KeyUnavailableError(
                f"the {self.uri}: its private key does not sign for its public key", field="key"
            ) from e


class _Login:
    """This process's logged-in session with one token, shared by the keys it opens."""

    _open: ClassVar[dict[tuple[Path, str], _Login]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, where: tuple[Path, str], session: Any, pin: str) -> None:
        self.where = where
        self.session = session
        self.lock = threading.Lock()
        self.users = 1
        # to refuse a second key of the token opened with another PIN (the token would
        # not be asked again: it is logged in); a digest, so the PIN is not kept
        self._pin = hashlib.sha256(pin.encode()).digest()

    @classmethod
    def acquire(cls, uri: Pkcs11Uri, pin: str) -> _Login:
        """The token's session, logging in (read-write) when this process is not yet.

        Raises:
            KeyUnavailableError: module, token or PIN refused (see `Pkcs11Signer.open`).
        """
        where = (uri.module, uri.token)
        with cls._guard:
            login = cls._open.get(where)
            if login is not None:
                if not hmac.compare_digest(login._pin, hashlib.sha256(pin.encode()).digest()):
                    raise KeyUnavailableError(
                        f"the token {uri.token!r} refused the PIN", field="key"
                    )
                login.users += 1
                return login
            with _errors(uri):
                token = _library(uri.module).get_token(token_label=uri.token)
                session = token.open(user_pin=pin, rw=True)
            login = cls._open[where] = cls(where, session, pin)
            return login

    def release(self) -> None:
        """One key fewer; the last one closes the session (and so logs out)."""
        with self._guard:
            self.users -= 1
            if self.users:
                return
            del self._open[self.where]
        with self.lock, contextlib.suppress(Exception):  # a token already gone
            self.session.close()


def generate(uri: Pkcs11Uri, environ: Mapping[str, str] | None = None) -> crypto.Ed25519PublicKey:
    """Generate an Ed25519 key pair in the token under the URI's label (private key
    sensitive and never extractable) and return its public key.

    Raises:
        KeyFormatError: the PIN file is exposed or unreadable.
        KeyUnavailableError: as `Pkcs11Signer.open`, or a key with that label exists.
    """
    binding = _binding()
    from pkcs11.util.ec import encode_named_curve_parameters

    login = _Login.acquire(uri, uri.pin(environ))
    try:
        with login.lock, _errors(uri):
            session = login.session
            if list(session.get_objects({binding.Attribute.LABEL: uri.object})):
                raise KeyUnavailableError(
                    f"the token {uri.token!r} already holds an object labelled {uri.object!r}",
                    field="key",
                )
            public, _private = session.generate_keypair(
                binding.KeyType.EC_EDWARDS,
                0,
                mechanism=binding.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                store=True,
                label=uri.object,
                public_template={
                    binding.Attribute.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID),
                },
                private_template={
                    binding.Attribute.SENSITIVE: True,
                    binding.Attribute.EXTRACTABLE: False,
                },
            )
            raw = _raw_point(public[binding.Attribute.EC_POINT], uri)
    finally:
        login.release()
    return crypto.public_key_from_raw(raw)


def _binding() -> Any:
    try:
        import pkcs11
    except ImportError as e:
        raise KeyUnavailableError(
            "a key in a PKCS#11 token needs python-pkcs11: pip install 'provenance-ledger[hsm]'",
            field="key",
        ) from e
    return pkcs11


_LIBRARIES: dict[Path, Any] = {}
_LIBRARIES_LOCK = threading.Lock()


def _library(module: Path) -> Any:
    # A module is initialised once per process (C_Initialize); later opens share it.
    with _LIBRARIES_LOCK:
        found = _LIBRARIES.get(module)
        if found is None:
            found = _LIBRARIES[module] = _binding().lib(str(module))
        return found


def _raw_point(point: bytes, uri: Pkcs11Uri) -> bytes:
    # CKA_EC_POINT of an Edwards key: the 32 bytes, DER-wrapped in an OCTET STRING by
    # most modules (SoftHSM2: 04 20 || key), bare by some.
    if len(point) == crypto.PUBLIC_KEY_SIZE + 2 and point[:2] == b"\x04\x20":
        return bytes(point[2:])
    if len(point) == crypto.PUBLIC_KEY_SIZE:
        return bytes(point)
    raise KeyUnavailableError(f"the {uri} is not an Ed25519 key", field="key")


@contextlib.contextmanager
def _errors(uri: Pkcs11Uri) -> Iterator[None]:
    """Turn the binding's exceptions into one `KeyUnavailableError` line that says what
    is wrong and with which token (never the PIN)."""
    try:
        yield
    except KeyUnavailableError:
        raise
    except Exception as error:
        import pkcs11.exceptions as e

        if not isinstance(error, e.PKCS11Error):
            raise
        reasons: list[tuple[type[Exception], str]] = [
            (e.NoSuchToken, f"no token labelled {uri.token!r} in {uri.module}"),
            (e.TokenNotPresent, f"the token {uri.token!r} is not present"),
            (e.PinLocked, f"the token {uri.token!r} is locked (too many wrong PINs)"),
            (e.PinExpired, f"the PIN of the token {uri.token!r} has expired"),
            (e.PinIncorrect, f"the token {uri.token!r} refused the PIN"),
            (e.PinInvalid, f"the token {uri.token!r} refused the PIN"),
            (e.PinLenRange, f"the token {uri.token!r} refused the PIN"),
            (e.UserPinNotInitialized, f"the token {uri.token!r} has no user PIN set"),
            (e.NoSuchKey, f"no Ed25519 key labelled {uri.object!r} in token {uri.token!r}"),
            (
                e.MultipleObjectsReturned,
                f"several keys labelled {uri.object!r} in token {uri.token!r}",
            ),
            (e.MultipleTokensReturned, f"several tokens labelled {uri.token!r}"),
        ]
        message = next(
            (text for cls, text in reasons if isinstance(error, cls)),
            f"the {uri} failed: {str(error) or type(error).__name__}",
        )
        raise KeyUnavailableError(message, field="key") from error
