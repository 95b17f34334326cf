"""Where the SDK and CLI find the server and the token: arguments first, then RAYLANE_URL / RAYLANE_TOKEN /
RAYLANE_SERVE_URL, then the config file `raylane login` writes (RAYLANE_CONFIG, else the user's config folder).

The file holds a secret, so it is written readable by its owner only (0600, in a 0700 folder), atomically: a
crash mid-write leaves the old file, never half a token.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import RaylaneError

ENV_URL = "RAYLANE_URL"
ENV_TOKEN = "RAYLANE_TOKEN"
ENV_SERVE_URL = "RAYLANE_SERVE_URL"
ENV_CONFIG = "RAYLANE_CONFIG"
KEYS = ("url", "token", "serve_url")


class ConfigError(RaylaneError):
    """The config file exists but cannot be read as one."""


@dataclass(frozen=True)
class Settings:
    url: str | None = None
    token: str | None = None
    serve_url: str | None = None


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """RAYLANE_CONFIG, else `$XDG_CONFIG_HOME/raylane/config.json` (`~/.config/...`), `%APPDATA%\\raylane\\...` on
    Windows."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG]).expanduser()
    if sys.platform == "win32" and environ.get("APPDATA"):
        return Path(environ["APPDATA"]) / "raylane" / "config.json"
    base = environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "raylane" / "config.json"


def load_config(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from exc
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"the config file {path} is not JSON ({exc}); fix it or run `raylane login` again") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"the config file {path} must hold a JSON object; run `raylane login` again")
    return {key: str(values[key]) for key in KEYS if isinstance(values.get(key), str) and values[key]}


def save_config(path: Path, values: Mapping[str, str | None]) -> Path:
    """Write the settings (only the known keys, empty ones left out) owner-only, replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps({key: values[key] for key in KEYS if values.get(key)}, indent=2) + "\n"
    descriptor, temporary = tempfile.mkstemp(prefix=".config-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def forget_token(path: Path) -> bool:
    """Remove the token from the config file (keeping the URLs); False when there was none."""
    values = load_config(path)
    if "token" not in values:
        return False
    values.pop("token")
    save_config(path, values)
    return True


def resolve(
    *,
    url: str | None = None,
    token: str | None = None,
    serve_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Each setting from the first place that has it: the argument, the environment, the config file. The stored
    token and ingress URL belong to the stored server: they are not sent to another URL given by argument or
    environment."""
    environ = os.environ if environ is None else environ
    stored = load_config(path or config_path(environ))
    chosen_url = url or environ.get(ENV_URL) or stored.get("url") or None
    same_server = chosen_url is not None and same_url(chosen_url, stored.get("url"))
    return Settings(
        url=chosen_url,
        token=(token or environ.get(ENV_TOKEN) or (stored.get("token") if same_server else None) or None),
        serve_url=(serve_url or environ.get(ENV_SERVE_URL) or (stored.get("serve_url") if same_server else None)),
    )


def same_url(first: str, second: str | None) -> bool:
    def plain(url: str) -> str:
        url = url.strip().rstrip("/")
        return url if "://" in url else f"http://{url}"

    return second is not None and plain(first) == plain(second)
