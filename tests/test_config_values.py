"""Each setting refuses a value of the wrong shape with a one-line error naming the
setting and where the value came from (reconcile.yaml line, variable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.config import load_settings
from reconcile.errors import ConfigError

FILE_CASES = [
    ("realm: [a, b]", "realm: expected a string"),
    ('realm: "  "', "realm: expected a non-empty string"),
    ("catalog_type: agents", "catalog_type: expected one of template, agent, user, got 'agents'"),
    ("timeout: true", "timeout: expected a number, got a boolean"),
    ("timeout: [1]", "timeout: expected a number, got [1]"),
    (
        "timeout: 1" + "0" * 400,
        "timeout: expected a number <= 3600, got 1000000000000000000000000000000000000...",
    ),
    ("timeout: .nan", "timeout: expected a finite number, got nan"),
    ("parallelism: true", "parallelism: expected an integer, got a boolean"),
    ("parallelism: 2.5", "parallelism: expected an integer, got 2.5"),
    ("write_roles: 7", "write_roles: expected a list of names"),
    ("write_roles: ['', ' ']", "write_roles: expected at least one name"),
    ("log_format: xml", "log_format: expected one of text, json, got 'xml'"),
    ("listen: 'nohost'", "listen: expected HOST:PORT, got 'nohost'"),
    ("key_field: {}", "key_field: expected a field name, or a map of type prefix to field name"),
    ("key_field: {1: ref}", "key_field: expected type prefixes as keys, got 1"),
    ("key_field: {REQ: ''}", "key_field: REQ: expected a non-empty string"),
    ("manifests: []", "manifests: expected a path or a list of paths"),
    ("allow_insecure_http: maybe", "allow_insecure_http: expected true or false, got 'maybe'"),
]


@pytest.mark.parametrize(("line", "message"), FILE_CASES)
def test_a_config_file_value_of_the_wrong_shape(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "reconcile.yaml").write_text(f"# settings\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings({}, env={}, cwd=tmp_path)
    assert str(raised.value) == f"reconcile.yaml:2: {message}"


ENV_CASES = [
    (
        "RECONCILE_NOTIFY_URLS",
        "https://hooks.example/ok ftp://hooks.example/T0K3N",
        "URL 2: expected an http:// or https:// URL (not shown)",
    ),
    ("RECONCILE_LISTEN", "[::1]:99999", "expected HOST:PORT, got '[::1]:99999'"),
    ("RECONCILE_RATE_LIMIT", "0.0001", "expected a number >= 0.000277778, got 0.0001"),
    ("RECONCILE_INTERVAL", "0.01", "expected at least 0.1 seconds, got 0.01"),
    (
        "RECONCILE_BASE_URL",
        "https://user:pw@api.example",
        "credentials in the URL are not allowed (secrets come from the environment)",
    ),
]


@pytest.mark.parametrize(("variable", "value", "message"), ENV_CASES)
def test_a_variable_of_the_wrong_shape(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({}, env={variable: value}, cwd=tmp_path)
    assert str(raised.value).endswith(f": {message}")


def test_an_empty_list_of_webhooks_from_a_library_caller(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"notify_urls": []}, env={}, cwd=tmp_path)
    assert str(raised.value) == "--notify-url: notify_urls: expected one or more URLs"
