"""Settings: flag > environment > ``reconcile.yaml`` > default.

Every setting has one entry in :data:`SPECS`: its environment variable, whether the
config file may hold it, and how its value is read. :func:`load_settings` walks the
sources in order and records where each value came from, so an error names the flag,
the variable or the ``file:line`` that gave the bad value.

``reconcile.yaml`` is found by looking from the current directory upward to the git
root (the first directory holding ``.git``); outside a git repository only the current
directory is looked at. A ``pyproject.toml`` with a ``[tool.reconcile]`` table counts
too: the nearest directory holding either file wins, and in one directory
``reconcile.yaml`` wins (the two are never merged), as a tool's own file beats
pyproject.toml for ruff or mypy. ``--config FILE`` or ``RECONCILE_CONFIG`` names
another file (a ``.toml`` one is read as a pyproject.toml).
Relative paths in the file resolve against the file's directory; relative paths from
flags and the environment resolve against the current directory.

Secrets never come from the config file: a key that looks like one is refused with
an error that names the environment variable to use instead (the value is not shown).
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from reconcile.errors import ConfigError

CONFIG_NAMES = ("reconcile.yaml", "reconcile.yml")
"""File names looked for when no ``--config`` is given."""

PYPROJECT = "pyproject.toml"
"""Looked for after :data:`CONFIG_NAMES` in each directory; used if it has ``[tool.reconcile]``."""

CATALOG_TYPES = ("template", "agent", "user")
"""Accepted values of the PATCH ``type`` query parameter (the vendor's page)."""

DEFAULT_WRITE_ROLES = ("ticket_writer", "ticket_admin")

LOG_FORMATS = ("text", "json")
"""Values of ``--log-format`` (``reconcile watch``)."""

MAX_PARALLELISM = 64
"""The most requests in flight: each is a worker thread and a pooled connection. Past a
few dozen a tenant's rate limit answers 429 and the run gets slower, not faster
(``bench/`` peaks well below this); a larger value is far more likely a typo."""

MAX_WAIT = 3600.0
"""The longest timeout, retry wait or watch interval, in seconds: longer waits would
hold a CI job for hours, and near-infinite ones overflow the timers that wait for them."""

MAX_RATE = 10_000.0
"""The highest ``rate_limit`` (requests per second): far above what a tenant serves."""

MAX_RETRIES = 100
"""The most read retries: each waits up to ``retry_wait_max``."""

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
    max_change_ratio: float | None = None
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
    key_field: str | Mapping[str, str] | None = None
    """The text field that holds a declared ticket's key: one name, label or UUID for
    every type, or (``reconcile.yaml`` only) a map of type prefix to field."""
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


class _Spec(NamedTuple):
    """One setting: how it is read, and how the command line offers it.

    ``parse`` validates a value from any source (flags arrive as the strings typed:
    the click options built from this table convert nothing, so each value is checked
    once, here). ``env`` lists its variables (the first one set wins); ``flag``,
    ``metavar``, ``help`` and ``multiple`` describe its option, if it has one
    (:func:`reconcile.cli.options.setting_option`); ``choices`` feed shell completion.
    """

    name: str
    parse: Callable[[Any], Any]
    env: tuple[str, ...] = ()
    flag: str | None = None
    is_path: bool = False
    metavar: str | None = None
    help: str = ""
    multiple: bool = False
    choices: tuple[str, ...] = ()

    @property
    def is_flag(self) -> bool:
        """An on/off setting: its option takes no value."""
        return self.parse is _boolean

    @property
    def default(self) -> Any:
        """The value when no source gives one (:class:`Settings`' own default)."""
        return _DEFAULTS[self.name]


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


def _integer(value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {_shown(value)}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"expected an integer, got {_shown(value)}")
    if value < minimum:
        raise ValueError(f"expected an integer >= {minimum}, got {_shown(value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"expected an integer <= {maximum}, got {_shown(value)}")
    return int(value)


def _number(value: Any, *, positive: bool, minimum: float = 0.0, maximum: float) -> float:
    """A finite number in range: ``inf``, ``nan`` and values that overflow (``1e999``)
    are refused, as are values above ``maximum`` that no timer could wait for."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {_shown(value)}") from None
    if not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"expected a number <= {maximum:g}, got {_shown(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {_shown(value)}")
    if positive and number <= 0:
        raise ValueError(f"expected a number > 0, got {number:g}")
    if number < minimum:
        raise ValueError(f"expected a number >= {minimum:g}, got {number:g}")
    if number > maximum:
        raise ValueError(f"expected a number <= {maximum:g}, got {number:g}")
    return number


def _shown(value: Any) -> str:
    """``value`` for an error message, cut short (a 5,000-digit number is one line too)."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


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
    seconds = _number(value, positive=True, maximum=MAX_WAIT)
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


def _key_field(value: Any) -> str | dict[str, str]:
    """One field key for every type, or a map of type prefix to field key."""
    if isinstance(value, Mapping):
        if not value:
            raise ValueError("expected a field name, or a map of type prefix to field name")
        fields = {}
        for prefix, key in value.items():
            if not isinstance(prefix, str) or not prefix.strip():
                raise ValueError(f"expected type prefixes as keys, got {prefix!r}")
            try:
                fields[prefix.strip()] = _string(key)
            except ValueError as error:
                raise ValueError(f"{prefix}: {error}") from None
        return fields
    return _string(value)


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
    _Spec(
        "base_url",
        _url,
        ("RECONCILE_BASE_URL",),
        flag="--base-url",
        metavar="URL",
        help="API base URL",
    ),
    _Spec(
        "tenant_id",
        _string,
        ("RECONCILE_TENANT_ID",),
        flag="--tenant-id",
        metavar="UUID",
        help="Tenant id",
    ),
    _Spec("realm", _string, ("RECONCILE_REALM",), flag="--realm", metavar="NAME", help="Realm"),
    _Spec("auth_url", _url, ("RECONCILE_AUTH_URL",)),
    _Spec("client_id", _string, ("RECONCILE_CLIENT_ID",)),
    _Spec(
        "catalog_type",
        _catalog_type,
        ("RECONCILE_CATALOG_TYPE",),
        flag="--catalog-type",
        metavar="TYPE",
        help=f"PATCH 'type' query value: {', '.join(CATALOG_TYPES)}",
        choices=CATALOG_TYPES,
    ),
    _Spec(
        "parallelism",
        lambda v: _integer(v, 1, MAX_PARALLELISM),
        ("RECONCILE_PARALLELISM",),
        flag="--parallelism",
        metavar="N",
        help=f"Requests in flight at once, 1 to {MAX_PARALLELISM}",
    ),
    _Spec(
        "timeout",
        lambda v: _number(v, positive=True, maximum=MAX_WAIT),
        ("RECONCILE_TIMEOUT",),
        flag="--timeout",
        metavar="SECONDS",
        help="Time limit of each request attempt as a whole: connect, send, complete answer",
    ),
    _Spec("manifests", _paths, ("RECONCILE_MANIFESTS",), is_path=True),
    _Spec(
        "max_changes",
        lambda v: _integer(v, 0),
        ("RECONCILE_MAX_CHANGES",),
        flag="--max-changes",
        metavar="N",
        help="Refuse to write anything when more than N tickets would change",
    ),
    _Spec(
        "max_change_ratio",
        lambda v: _number(v, positive=True, maximum=1.0),
        ("RECONCILE_MAX_CHANGE_RATIO",),
        flag="--max-change-ratio",
        metavar="R",
        help=(
            "Refuse to write anything when more than R (0 to 1) of a policy's matched "
            "tickets would change, for a policy that matched at least 10"
        ),
    ),
    _Spec("write_roles", _names, ("RECONCILE_WRITE_ROLES",)),
    _Spec(
        "rate_limit",
        lambda v: _number(v, positive=True, minimum=1 / MAX_WAIT, maximum=MAX_RATE),
        ("RECONCILE_RATE_LIMIT",),
        flag="--rate-limit",
        metavar="N",
        help="At most N requests per second across all workers",
    ),
    _Spec(
        "ca_bundle",
        _path,
        ("RECONCILE_CA_BUNDLE", "REQUESTS_CA_BUNDLE"),
        flag="--ca-bundle",
        is_path=True,
        metavar="FILE",
        help="CA certificates to verify TLS with",
    ),
    _Spec(
        "allow_insecure_http",
        _boolean,
        ("RECONCILE_ALLOW_INSECURE_HTTP",),
        flag="--allow-insecure-http",
        help="Allow plain http:// to a host that is not loopback",
    ),
    _Spec(
        "token_file",
        _path,
        ("RECONCILE_TOKEN_FILE",),
        flag="--token-file",
        is_path=True,
        metavar="FILE",
        help="Read the bearer token from FILE; else RECONCILE_TOKEN, else client credentials "
        "(RECONCILE_CLIENT_ID, RECONCILE_CLIENT_SECRET)",
    ),
    _Spec("retries", lambda v: _integer(v, 0, MAX_RETRIES), ("RECONCILE_RETRIES",)),
    _Spec(
        "retry_backoff",
        lambda v: _number(v, positive=False, maximum=MAX_WAIT),
        ("RECONCILE_RETRY_BACKOFF",),
    ),
    _Spec(
        "retry_wait_max",
        lambda v: _number(v, positive=False, maximum=MAX_WAIT),
        ("RECONCILE_RETRY_WAIT_MAX",),
    ),
    _Spec(
        "interval",
        _interval,
        ("RECONCILE_INTERVAL",),
        flag="--interval",
        metavar="SECONDS",
        help="Seconds between cycles, ±10 % jitter",
    ),
    _Spec(
        "self_heal",
        _boolean,
        ("RECONCILE_SELF_HEAL",),
        flag="--self-heal",
        help="Apply the plan when live tickets drift (under apply's safety checks)",
    ),
    _Spec(
        "listen",
        _listen,
        ("RECONCILE_LISTEN",),
        flag="--listen",
        metavar="HOST:PORT",
        help="Serve /metrics, /healthz, /readyz, /status",
    ),
    _Spec(
        "notify_urls",
        _webhook_urls,
        ("RECONCILE_NOTIFY_URLS",),
        flag="--notify-url",
        metavar="URL",
        help="POST drift, resolved and error events as JSON to URL (repeatable; the variable "
        "space-separated: prefer it, a URL's token shows in ps)",
        multiple=True,
    ),
    _Spec(
        "state_dir",
        _path,
        ("RECONCILE_STATE_DIR",),
        flag="--state-dir",
        is_path=True,
        metavar="DIR",
        help="Keep the notified drifts here, so a restart does not notify again",
    ),
    _Spec(
        "log_format",
        _log_format,
        ("RECONCILE_LOG_FORMAT",),
        flag="--log-format",
        metavar="FORMAT",
        help=f"Logs on stderr as text or one JSON object a line: {', '.join(LOG_FORMATS)}",
        choices=LOG_FORMATS,
    ),
    _Spec(
        "key_field",
        _key_field,
        ("RECONCILE_KEY_FIELD",),
        flag="--key-field",
        metavar="FIELD",
        help="Text field that holds each declared ticket's key, for every type (config: "
        "also a map of type prefix to field)",
    ),
)
"""Every setting, in the order of the README's table."""

_BY_NAME = {spec.name: spec for spec in SPECS}
SPEC_BY_NAME: Mapping[str, _Spec] = _BY_NAME
"""Each setting's entry of :data:`SPECS`, by name."""
_DEFAULTS = {f.name: f.default for f in fields(Settings) if f.name in _BY_NAME}
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
    """``--config``, else ``RECONCILE_CONFIG``, else the nearest reconcile.yaml, or
    pyproject.toml with a ``[tool.reconcile]`` table, up to the git root."""
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
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject, cwd):
            return pyproject
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
    text = _read_text(path, shown)
    if path.suffix == ".toml":
        return _checked(_toml_settings(text, shown), shown, path.parent)
    # Imported here: runs without a YAML config file never load ruamel (start-up time).
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        data = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = (error.problem or error.context or "invalid YAML").strip()
        raise ConfigError(f"{shown}{line}: {problem}") from None
    except YAMLError:
        raise ConfigError(f"{shown}: invalid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}:1: expected a mapping of settings (key: value)")
    lines = [
        (key, raw, data.lc.key(key)[0] + 1 if hasattr(data, "lc") else 1)
        for key, raw in data.items()
    ]
    return _checked(lines, shown, path.parent)


def _read_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{shown}: cannot read config file: {error.__class__.__name__}") from None


def _checked(
    entries: Iterable[tuple[Any, Any, int]], shown: str, directory: Path
) -> dict[str, tuple[Any, str, Path]]:
    """``(key, raw value, line)`` entries of a config file, with unknown keys and
    secrets refused (every problem at once, each at ``file:line``, no value shown)."""
    problems = []
    values: dict[str, tuple[Any, str, Path]] = {}
    for key, raw, line in entries:
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
            import difflib  # only for the message of a misspelt key

            close = difflib.get_close_matches(normal, FILE_KEYS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(FILE_KEYS)}"
            problems.append(f"{where}: unknown setting {name!r} ({hint})")
        else:
            values[name] = (raw, where, directory)
    if problems:
        raise ConfigError("\n".join(problems))
    return values


def _has_tool_table(path: Path, cwd: Path) -> bool:
    """Whether a pyproject.toml found on the way up holds ``[tool.reconcile]``."""
    shown = _display(path, cwd)
    text = _read_text(path, shown)
    if "reconcile" not in text:  # most pyproject.toml files: no need to parse them
        return False
    escaped = "\\u" in text or "\\U" in text  # a quoted key may spell "tool" with escapes
    if not escaped and not _MAY_HOLD_TOOL_TABLE.search(text):
        return False  # reconcile named as a dependency or a script only
    return "reconcile" in _toml(text, shown).get("tool", {})


_MAY_HOLD_TOOL_TABLE = re.compile(
    r"""tool["']?\s*\.\s*["']?reconcile"""  # [tool.reconcile], tool.reconcile.x = 1
    r"""|^\s*\[\[?\s*["']?tool["']?\s*\]"""  # [tool], then reconcile = {...} in it
    r"""|tool["']?\s*=""",  # tool = {reconcile = {...}}
    re.MULTILINE,
)
"""Text that every way of writing a ``tool.reconcile`` table without escapes holds: a
pyproject.toml that names reconcile elsewhere only is not parsed (tomllib's import and
parse took about a tenth of ``reconcile validate``'s start-up in such a project)."""


def _toml(text: str, shown: str) -> dict[str, Any]:
    # Imported here: only a run that finds a pyproject.toml with [tool.reconcile] parses one.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib ends its messages with "(at line N, column M)"
        found = re.search(r"\s*\(at line (\d+), column \d+\)$", str(error))
        line = f":{found.group(1)}" if found else ""
        problem = str(error)[: found.start()] if found else str(error)
        raise ConfigError(f"{shown}{line}: invalid TOML: {problem}") from None


def _toml_settings(text: str, shown: str) -> list[tuple[str, Any, int]]:
    """The ``[tool.reconcile]`` table of a pyproject.toml as ``(key, value, line)``."""
    table = _toml(text, shown).get("tool", {}).get("reconcile")
    lines, header = _toml_key_lines(text)
    if table is None:
        raise ConfigError(f"{shown}: no [tool.reconcile] table")
    if not isinstance(table, dict):
        raise ConfigError(f"{shown}:{header}: tool.reconcile must be a table of settings")
    return [(key, value, lines.get(key, header)) for key, value in table.items()]


_TOML_HEADER = re.compile(r"\[\s*([^\[\]]+?)\s*\](?:\s*#.*)?$")
_TOML_KEY = re.compile(r"""(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")


def _toml_key_lines(text: str) -> tuple[dict[str, int], int]:
    """Where each key of ``[tool.reconcile]`` is (1-based), and the table's header line.

    Only for messages: tomllib gives values without positions. A key written another
    way (``tool.reconcile.x = 1`` at the top) is placed at the header, or line 1.
    """
    lines: dict[str, int] = {}
    header, section = 1, None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        heading = _TOML_HEADER.match(stripped)
        if heading:
            section = re.sub(r"\s+", "", heading.group(1)).replace('"', "")
            if section == "tool.reconcile":
                header = number
            continue
        key = _TOML_KEY.match(stripped) if section == "tool.reconcile" else None
        if key:
            lines.setdefault(next(g for g in key.groups() if g), number)
    return lines, header


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
    ways.append(f"add {name} to reconcile.yaml (or [tool.reconcile] in pyproject.toml)")
    return f"no {name}: {', '.join(ways[:-1])} or {ways[-1]}"


def manifest_paths(paths: Sequence[str], settings: Settings) -> list[str]:
    """The PATH arguments, else the ``manifests`` setting, else ``manifests/``."""
    if paths:
        return list(paths)
    return [str(p) for p in settings.manifests] or ["manifests"]
