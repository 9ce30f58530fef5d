"""The credential store: credentials saved under ids of the user's choosing.

Secrets go to the system keyring when one is available (the optional `keyring` package with a
real backend) and otherwise into a JSON file readable only by the user (mode 0600, in the
platform's config directory, or where `CONFLUENCE_V2_CREDENTIALS` or `path=` says). Every write
is atomic (a temporary file, fsync, rename) under a lock, so a crash never leaves a half-written
file and a refreshed OAuth token is on disk before it is used. Listing shows ids, kinds and
sites, never secrets.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .credentials import ConfluenceCredential, OAuthCredential
from .errors import BadArgumentError, ConfluenceError

APP_NAME = "llama-index-readers-confluence-v2"
ENV_PATH = "CONFLUENCE_V2_CREDENTIALS"
Credential = ConfluenceCredential | OAuthCredential
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class StoredCredential:
    """What listing shows: never a secret."""

    id: str
    kind: str
    site: str
    user: str


def default_path() -> Path:
    if os.environ.get(ENV_PATH):
        return Path(os.environ[ENV_PATH]).expanduser()
    if sys.platform == "win32":
        root = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Application Support"
    else:
        root = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return root / APP_NAME / "credentials.json"


class CredentialStore:
    """Save, load, list and delete credentials by id."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, use_keyring: bool | None = None
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self._keyring = _keyring() if use_keyring is not False else None
        if use_keyring and self._keyring is None:
            raise BadArgumentError(
                "no usable system keyring: install the 'keyring' package, or pass use_keyring=False"
            )

    def __repr__(self) -> str:
        return f"CredentialStore({str(self.path)!r}, keyring={self._keyring is not None})"

    @property
    def backend(self) -> str:
        return "keyring" if self._keyring is not None else "file"

    def save(self, credential_id: str, credential: Credential, *, site: str = "") -> None:
        _check_id(credential_id)
        secret = (
            credential.to_dict()
            if isinstance(credential, OAuthCredential)
            else _token_dict(credential)
        )
        entry: dict[str, Any] = {
            "kind": secret["kind"],
            "site": site
            or (credential.site_url if isinstance(credential, OAuthCredential) else "")
            or "",
            "user": credential.username
            if isinstance(credential, ConfluenceCredential)
            else credential.client_id,
        }
        if self._keyring is not None:
            self._keyring.set_password(APP_NAME, credential_id, json.dumps(secret))
            entry["keyring"] = True
        else:
            entry["secret"] = secret
        with self._locked() as data:
            data["credentials"][credential_id] = entry

    def load(self, credential_id: str) -> Credential:
        entry = self._read()["credentials"].get(credential_id)
        if entry is None:
            raise BadArgumentError(
                f"no stored credential {credential_id!r} in {self.path}; `confluence-v2 auth list` shows "
                "the ids, `confluence-v2 auth add-token` or `auth login` adds one"
            )
        secret = self._secret_of(credential_id, entry)
        if secret.get("kind") == "oauth":
            credential = OAuthCredential.from_dict(secret)
            credential.on_refresh = lambda refreshed: self.save(
                credential_id, refreshed, site=entry.get("site", "")
            )
            return credential
        return ConfluenceCredential(secret["username"], secret["password"], secret.get("scoped"))

    def site(self, credential_id: str) -> str:
        """The site a credential was stored for ("" when none was given, or no such id)."""
        entry = self._read()["credentials"].get(credential_id) or {}
        return str(entry.get("site", ""))

    def list(self) -> list[StoredCredential]:
        credentials = self._read()["credentials"]
        return [
            StoredCredential(
                cid, str(e.get("kind", "")), str(e.get("site", "")), str(e.get("user", ""))
            )
            for cid, e in sorted(credentials.items())
        ]

    def delete(self, credential_id: str) -> None:
        with self._locked() as data:
            entry = data["credentials"].pop(credential_id, None)
        if entry is None:
            raise BadArgumentError(f"no stored credential {credential_id!r}; nothing was deleted")
        if entry.get("keyring") and self._keyring is not None:
            with contextlib.suppress(Exception):
                self._keyring.delete_password(APP_NAME, credential_id)

    # ---- the file -----------------------------------------------------------------------------

    def _secret_of(self, credential_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        if not entry.get("keyring"):
            return dict(entry["secret"])
        if self._keyring is None:
            raise ConfluenceError(
                f"credential {credential_id!r} is in the system keyring, which is not available here"
            )
        raw = self._keyring.get_password(APP_NAME, credential_id)
        if raw is None:
            raise ConfluenceError(
                f"credential {credential_id!r} is missing from the system keyring; add it again"
            )
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ConfluenceError(f"credential {credential_id!r} in the keyring is not readable")
        return data

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "credentials": {}}
        except (OSError, ValueError) as exc:
            raise ConfluenceError(
                f"the credential store {self.path} cannot be read: {type(exc).__name__}"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("credentials"), dict):
            raise ConfluenceError(f"the credential store {self.path} is not in the expected format")
        return data

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Read, let the caller change, write atomically; one writer at a time."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _file_lock(self.path.with_name(self.path.name + ".lock")):
            data = self._read()
            yield data
            _atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode())


def _token_dict(credential: ConfluenceCredential) -> dict[str, Any]:
    return {
        "kind": credential.kind,
        "username": credential.username,
        "password": credential.password,
        "scoped": credential.scoped,
    }


def _check_id(credential_id: str) -> None:
    if not isinstance(credential_id, str) or not _ID.match(credential_id):
        raise BadArgumentError(
            "a credential id is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )


def _atomic_write(path: Path, data: bytes) -> None:
    # mkstemp creates the file with mode 0600: the secret is never readable by others
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    if hasattr(os, "O_DIRECTORY"):
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl
        except ImportError:  # Windows: one process at a time is the user's business
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def _keyring() -> Any:
    """The keyring module when a real backend is there; None otherwise."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) < 1:
        return None
    return keyring
