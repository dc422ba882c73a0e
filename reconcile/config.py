"""Settings: flag > environment > ``reconcile.yaml`` > default.

Every setting has one entry in :data:`SETTINGS`: its environment variable, whether the
config file may hold it, and how its value is read. :func:`load_settings` walks the
sources in order and records where each value came from, so an error names the flag,
the variable or the ``file:line`` that gave the bad value.

``reconcile.yaml`` is found by looking from the current directory upward to the git
root (the first directory holding ``.git``); outside a git repository only the current
directory is looked at. ``--config FILE`` or ``RECONCILE_CONFIG`` names another file.
Relative paths in the file resolve against the file's directory; relative paths from
flags and the environment resolve against the current directory.

Secrets never come from the config file: a key that looks like one is refused with
an error that names the environment variable to use instead (the value is not shown).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconcile.errors import ConfigError

CONFIG_NAMES = ("reconcile.yaml", "reconcile.yml")
"""File names looked for when no ``--config`` is given."""

CATALOG_TYPES = ("template", "agent", "user")
"""Accepted values of the PATCH ``type`` query parameter (the vendor's page)."""

DEFAULT_WRITE_ROLES = ("ticket_writer", "ticket_admin")

LOG_FORMATS = ("text", "json")
"""Values of ``--log-format`` (``reconcile watch``)."""

MIN_INTERVAL = 0.1
"""The shortest ``watch`` interval accepted (seconds); tests run at a fraction of a second."""

SECRET_KEYS = {
    "token": "RECONCILE_TOKEN (or --token-file FILE)",
    "access_token": "RECONCILE_TOKEN (or --token-file FILE)",
    "bearer_token": "RECONCILE_TOKEN (or --token-file FILE)",
    "client_secret": "RECONCILE_CLIENT_SECRET (or RECONCILE_CLIENT_SECRET_FILE)",
    "secret": "RECONCILE_CLIENT_SECRET (or RECONCILE_CLIENT_SECRET_FILE)",
    "password": "RECONCILE_CLIENT_SECRET (or RECONCILE_CLIENT_SECRET_FILE)",
    "notify_urls": "RECONCILE_NOTIFY_URLS (a webhook URL carries its own secret)",
    "notify_url": "RECONCILE_NOTIFY_URLS (a webhook URL carries its own secret)",
}
"""Keys refused in the config file, with the variable that holds the secret instead."""


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to reach the tenant, except the secrets.

    ``base_url``, ``tenant_id`` and ``realm`` may be None after loading (a command that
    talks to no API needs none); :meth:`require` raises when one is missing.
    ``sources`` maps each setting that was given to where it came from.
    """

    base_url: str | None = None
    tenant_id: str | None = None
    realm: str | None = None
    auth_url: str | None = None
    client_id: str | None = None
    catalog_type: str = "template"
    parallelism: int = 10
    timeout: float = 30.0
    manifests: tuple[Path, ...] = ()
    max_changes: int | None = None
    write_roles: tuple[str, ...] = DEFAULT_WRITE_ROLES
    rate_limit: float | None = None
    ca_bundle: Path | None = None
    allow_insecure_http: bool = False
    token_file: Path | None = None
    retries: int = 4
    retry_backoff: float = 0.5
    retry_wait_max: float = 30.0
    interval: float = 300.0
    self_heal: bool = False
    listen: str = "127.0.0.1:9464"
    notify_urls: tuple[str, ...] = ()
    state_dir: Path | None = None
    log_format: str = "text"
    config_path: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def token_base_url(self) -> str | None:
        """Where the token endpoint lives: ``auth_url``, else ``base_url``."""
        return self.auth_url or self.base_url

    def require(self, *names: str) -> None:
        """Raise :class:`ConfigError` naming every one of ``names`` that has no value."""
        missing = [name for name in names if getattr(self, name) in (None, "")]
        if missing:
            raise ConfigError("; ".join(_how_to_give(name) for name in missing))


@dataclass(frozen=True)
class _Spec:
    """How one setting is read: its flag, its variable(s) (first wins), whether it is a path."""

    name: str
    parse: Callable[[Any], Any]
    env: tuple[str, ...] = ()
    flag: str | None = None
    is_path: bool = False


def _string(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("expected a string")
    text = str(value).strip()
    if not text:
        raise ValueError("expected a non-empty string")
    return text


def _url(value: Any) -> str:
    text = _string(value).rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    if parts.username or parts.password:
        raise ValueError(
            "credentials in the URL are not allowed (secrets come from the environment)"
        )
    return text


def _catalog_type(value: Any) -> str:
    text = _string(value)
    if text not in CATALOG_TYPES:
        raise ValueError(f"expected one of {', '.join(CATALOG_TYPES)}, got {text!r}")
    return text


def _integer(value: Any, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {value!r}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"expected an integer >= {minimum}, got {value}")
    return int(value)


def _number(value: Any, *, positive: bool) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or value != value:  # NaN
        raise ValueError(f"expected a number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"expected a number > 0, got {value}")
    if value < 0:
        raise ValueError(f"expected a number >= 0, got {value}")
    return float(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
    raise ValueError(f"expected true or false, got {value!r}")


def _names(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError("expected a list of names")
    names = tuple(
        _string(item) for item in items if not (isinstance(item, str) and not item.strip())
    )
    if not names:
        raise ValueError("expected at least one name")
    return names


def _interval(value: Any) -> float:
    seconds = _number(value, positive=True)
    if seconds < MIN_INTERVAL:
        raise ValueError(f"expected at least {MIN_INTERVAL} seconds, got {seconds:g}")
    return seconds


def _log_format(value: Any) -> str:
    text = _string(value)
    if text not in LOG_FORMATS:
        raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}, got {text!r}")
    return text


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as ``(host, port)``; port 0 picks a free one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _listen(value: Any) -> str:
    text = _string(value)
    listen_address(text)
    return text


def _webhook_urls(value: Any) -> tuple[str, ...]:
    """Webhook URLs (whitespace-separated in the environment); never echoed in an error,
    since a token in the path or query is how most webhooks authenticate."""
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError("expected one or more URLs")
    urls = []
    for number, item in enumerate(items, 1):
        text = item.strip() if isinstance(item, str) else ""
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"URL {number}: expected an http:// or https:// URL (not shown)")
        urls.append(text)
    return tuple(urls)


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(_string(value)).expanduser()


def _paths(value: Any) -> tuple[Path, ...]:
    if isinstance(value, str):
        items: Any = [v for v in value.split(os.pathsep) if v.strip()]
    elif isinstance(value, Path):
        items = [value]
    else:
        items = value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError("expected a path or a list of paths")
    return tuple(_path(item) for item in items)


SPECS: tuple[_Spec, ...] = (
    _Spec("base_url", _url, ("RECONCILE_BASE_URL",), flag="--base-url"),
    _Spec("tenant_id", _string, ("RECONCILE_TENANT_ID",), flag="--tenant-id"),
    _Spec("realm", _string, ("RECONCILE_REALM",), flag="--realm"),
    _Spec("auth_url", _url, ("RECONCILE_AUTH_URL",)),
    _Spec("client_id", _string, ("RECONCILE_CLIENT_ID",)),
    _Spec("catalog_type", _catalog_type, ("RECONCILE_CATALOG_TYPE",), flag="--catalog-type"),
    _Spec(
        "parallelism", lambda v: _integer(v, 1), ("RECONCILE_PARALLELISM",), flag="--parallelism"
    ),
    _Spec("timeout", lambda v: _number(v, positive=True), ("RECONCILE_TIMEOUT",), flag="--timeout"),
    _Spec("manifests", _paths, ("RECONCILE_MANIFESTS",), is_path=True),
    _Spec(
        "max_changes", lambda v: _integer(v, 0), ("RECONCILE_MAX_CHANGES",), flag="--max-changes"
    ),
    _Spec("write_roles", _names, ("RECONCILE_WRITE_ROLES",)),
    _Spec(
        "rate_limit",
        lambda v: _number(v, positive=True),
        ("RECONCILE_RATE_LIMIT",),
        flag="--rate-limit",
    ),
    _Spec(
        "ca_bundle",
        _path,
        ("RECONCILE_CA_BUNDLE", "REQUESTS_CA_BUNDLE"),
        flag="--ca-bundle",
        is_path=True,
    ),
    _Spec(
        "allow_insecure_http",
        _boolean,
        ("RECONCILE_ALLOW_INSECURE_HTTP",),
        flag="--allow-insecure-http",
    ),
    _Spec("token_file", _path, ("RECONCILE_TOKEN_FILE",), flag="--token-file", is_path=True),
    _Spec("retries", lambda v: _integer(v, 0), ("RECONCILE_RETRIES",)),
    _Spec("retry_backoff", lambda v: _number(v, positive=False), ("RECONCILE_RETRY_BACKOFF",)),
    _Spec("retry_wait_max", lambda v: _number(v, positive=False), ("RECONCILE_RETRY_WAIT_MAX",)),
    _Spec("interval", _interval, ("RECONCILE_INTERVAL",), flag="--interval"),
    _Spec("self_heal", _boolean, ("RECONCILE_SELF_HEAL",), flag="--self-heal"),
    _Spec("listen", _listen, ("RECONCILE_LISTEN",), flag="--listen"),
    _Spec("notify_urls", _webhook_urls, ("RECONCILE_NOTIFY_URLS",), flag="--notify-url"),
    _Spec("state_dir", _path, ("RECONCILE_STATE_DIR",), flag="--state-dir", is_path=True),
    _Spec("log_format", _log_format, ("RECONCILE_LOG_FORMAT",), flag="--log-format"),
)
"""Every setting, in the order of the README's table."""

_BY_NAME = {spec.name: spec for spec in SPECS}
FILE_KEYS = tuple(spec.name for spec in SPECS if spec.name not in SECRET_KEYS)


def load_settings(
    flags: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Read the settings from ``flags`` (click's params; None means not given), ``env`` and
    the config file; raise :class:`ConfigError` naming the setting and its source."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    config_path = _find_config(flags, env, cwd)
    file_values = _read_config(config_path, cwd) if config_path else {}

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in SPECS:
        found = _pick(spec, flags, env, file_values)
        if found is None:
            continue
        raw, source, base = found
        try:
            value = spec.parse(raw)
        except ValueError as error:
            raise ConfigError(f"{source}: {spec.name}: {error}") from None
        if spec.is_path:
            value = _anchor(value, base)
        values[spec.name] = value
        sources[spec.name] = source

    ca_bundle = values.get("ca_bundle")
    if ca_bundle is not None and not ca_bundle.is_file():
        raise ConfigError(f"{sources['ca_bundle']}: ca_bundle: no such file {ca_bundle}")
    return Settings(**values, config_path=config_path, sources=sources)


def _pick(
    spec: _Spec,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    file_values: Mapping[str, tuple[Any, str, Path]],
) -> tuple[Any, str, Path | None] | None:
    """The winning raw value, a label of its source, and the directory relative paths hang from."""
    flag_value = flags.get(spec.name)
    if flag_value is not None and flag_value is not False and flag_value != ():
        return flag_value, spec.flag or f"--{spec.name.replace('_', '-')}", None
    for variable in spec.env:
        if env.get(variable, "").strip():
            return env[variable], variable, None
    if spec.name in file_values:
        raw, where, directory = file_values[spec.name]
        return raw, where, directory
    return None


def _anchor(value: Path | tuple[Path, ...], base: Path | None) -> Any:
    """Resolve relative paths against ``base`` (the config file's directory) or keep them
    relative to the current directory (flags and environment)."""
    if base is None:
        return value
    if isinstance(value, tuple):
        return tuple(p if p.is_absolute() else base / p for p in value)
    return value if value.is_absolute() else base / value


def _find_config(flags: Mapping[str, Any], env: Mapping[str, str], cwd: Path) -> Path | None:
    """``--config``, else ``RECONCILE_CONFIG``, else the nearest reconcile.yaml up to git root."""
    explicit = flags.get("config")
    label = "--config"
    if explicit is None and env.get("RECONCILE_CONFIG", "").strip():
        explicit, label = env["RECONCILE_CONFIG"], "RECONCILE_CONFIG"
    if explicit is not None:
        path = Path(explicit).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.is_file():
            raise ConfigError(f"{label}: no such config file {path}")
        return path
    for directory in _search_dirs(cwd):
        for name in CONFIG_NAMES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def _search_dirs(cwd: Path) -> list[Path]:
    """The directories from ``cwd`` up to the git root; just ``cwd`` outside a repository."""
    dirs = []
    for directory in (cwd, *cwd.parents):
        dirs.append(directory)
        if (directory / ".git").exists():
            return dirs
    return [cwd]


def _read_config(path: Path, cwd: Path) -> dict[str, tuple[Any, str, Path]]:
    """Parse the config file into ``{key: (raw value, "file:line", directory)}``."""
    shown = _display(path, cwd)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{shown}: cannot read config file: {error.__class__.__name__}") from None
    try:
        data = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f":{mark.line + 1}" if mark else ""
        problem = (error.problem or error.context or "invalid YAML").strip()
        raise ConfigError(f"{shown}{at}: {problem}") from None
    except YAMLError:
        raise ConfigError(f"{shown}: invalid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}:1: expected a mapping of settings (key: value)")

    problems = []
    values: dict[str, tuple[Any, str, Path]] = {}
    for key, raw in data.items():
        line = data.lc.key(key)[0] + 1 if hasattr(data, "lc") else 1
        where = f"{shown}:{line}"
        name = str(key)
        normal = name.lower().replace("-", "_")
        secret_hint = _secret_hint(normal)
        if secret_hint:
            problems.append(
                f"{where}: {name!r} looks like a secret; secrets are read only from the "
                f"environment or files, never from the config file: use {secret_hint}"
            )
        elif name not in _BY_NAME:
            close = difflib.get_close_matches(normal, FILE_KEYS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(FILE_KEYS)}"
            problems.append(f"{where}: unknown setting {name!r} ({hint})")
        else:
            values[name] = (raw, where, path.parent)
    if problems:
        raise ConfigError("\n".join(problems))
    return values


def _secret_hint(key: str) -> str | None:
    if key in SECRET_KEYS:
        return SECRET_KEYS[key]
    if key in _BY_NAME:
        return None
    for word in ("secret", "password", "token", "apikey", "api_key", "credential"):
        if word in key:
            return SECRET_KEYS["secret" if word != "token" else "token"]
    return None


def _display(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def _how_to_give(name: str) -> str:
    spec = _BY_NAME[name]
    ways = [spec.flag] if spec.flag else []
    ways += [f"set {variable}" for variable in spec.env[:1]]
    ways.append(f"add {name} to reconcile.yaml")
    return f"no {name}: {', '.join(ways[:-1])} or {ways[-1]}"
