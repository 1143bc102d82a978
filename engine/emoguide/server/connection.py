"""The connection file: where the engine listens and the key that signs every message.

Like Jupyter's kernel connection files, it is JSON written with mode 0600 so
only the user who started the engine (and the plugins they run) can read the
key. The key is per install: ``emoguide serve`` keeps the key of an existing
file and only refreshes ports and pid, so plugins configured once keep working.
Default place: ``$EMOGUIDE_CONNECTION_FILE`` or ``~/.config/emoguide/connection.json``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from emoguide.server.protocol import PROTOCOL_VERSION

log = logging.getLogger(__name__)

DEFAULT_CONTROL_PORT = 47110
DEFAULT_PUB_PORT = 47111
DEFAULT_WS_PORT = 47112


class ConnectionFileError(OSError):
    """The connection file is missing, unreadable or incomplete (names the file and what to do)."""


def default_connection_path() -> Path:
    env = os.environ.get("EMOGUIDE_CONNECTION_FILE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "emoguide" / "connection.json"


@dataclass
class ConnectionInfo:
    key: str
    ip: str = "127.0.0.1"
    control_port: int = DEFAULT_CONTROL_PORT
    pub_port: int = DEFAULT_PUB_PORT
    ws_port: int | None = DEFAULT_WS_PORT
    transport: str = "tcp"
    signature_scheme: str = "hmac-sha256"
    protocol_version: int = PROTOCOL_VERSION
    max_message_bytes: int | None = None
    pid: int | None = None

    @property
    def key_bytes(self) -> bytes:
        return self.key.encode("ascii")

    def _host(self) -> str:
        return "127.0.0.1" if self.ip in ("0.0.0.0", "*", "") else self.ip

    @property
    def control_url(self) -> str:
        return f"{self.transport}://{self._host()}:{self.control_port}"

    @property
    def pub_url(self) -> str:
        return f"{self.transport}://{self._host()}:{self.pub_port}"

    @property
    def ws_url(self) -> str | None:
        return f"ws://{self._host()}:{self.ws_port}" if self.ws_port else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_key() -> str:
    return secrets.token_hex(32)


def load_connection(path: str | Path | None = None) -> ConnectionInfo:
    path = Path(path) if path else default_connection_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConnectionFileError(f"{path}: no connection file; start the engine with 'emoguide serve'") from None
    except (OSError, ValueError) as exc:
        raise ConnectionFileError(f"{path}: unreadable connection file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("key"), str) or len(data["key"]) < 32:
        raise ConnectionFileError(f"{path}: connection file has no usable key")
    if data.get("signature_scheme", "hmac-sha256") != "hmac-sha256":
        raise ConnectionFileError(f"{path}: unsupported signature scheme {data.get('signature_scheme')!r}")
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s is readable by other users (mode %o); run 'chmod 600 %s'", path, mode, path)
    known = set(ConnectionInfo.__dataclass_fields__)
    return ConnectionInfo(**{k: v for k, v in data.items() if k in known})


def existing_key(path: str | Path) -> str | None:
    """The key already installed at ``path`` (kept across restarts), or None."""
    try:
        return load_connection(path).key
    except ConnectionFileError:
        return None


def write_connection(info: ConnectionInfo, path: str | Path | None = None) -> Path:
    """Atomically write ``info`` with mode 0600 (the folder is created 0700)."""
    path = Path(path) if path else default_connection_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".connection-", suffix=".json", dir=path.parent)
    try:
        os.fchmod(fd, 0o600) if hasattr(os, "fchmod") else None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(info.to_dict(), fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
