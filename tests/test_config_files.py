"""Config files that are empty, undecodable or not YAML, pyproject.toml files that are
not reconcile's, and the less common valid spellings of settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.config import load_settings
from reconcile.errors import ConfigError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


def test_an_empty_config_file_sets_nothing(repo: Path) -> None:
    (repo / "reconcile.yaml").write_text("# nothing yet\n", encoding="utf-8")
    settings = load_settings({}, env={}, cwd=repo)
    assert settings.config_path == repo / "reconcile.yaml" and settings.sources == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"realm: caf\xe9\n", "reconcile.yaml: cannot read config file: UnicodeDecodeError"),
        (b"realm: a\x07b\n", "reconcile.yaml: invalid YAML"),
    ],
)
def test_a_config_file_that_cannot_be_read(repo: Path, content: bytes, message: str) -> None:
    (repo / "reconcile.yaml").write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        load_settings({}, env={}, cwd=repo)
    assert str(raised.value) == message


def test_a_pyproject_without_reconcile_is_not_a_config_file(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    assert load_settings({}, env={}, cwd=repo).config_path is None


@pytest.mark.parametrize(
    "table",
    [
        '[tool.reconcile]\nrealm = "r"\n',
        '[ "tool" . \'reconcile\' ]\nrealm = "r"\n',
        'tool.reconcile.realm = "r"\n',
        '[tool]\nreconcile = {realm = "r"}\n',
        '[tool]\nreconcile.realm = "r"\n',
        'tool = {reconcile = {realm = "r"}}\n',
        '[tool."\\u0072econcile"]\nrealm = "r"\n',
        '["t\\u006fol".reconcile]\nrealm = "r"\n',
    ],
)
def test_each_way_to_write_the_tool_table_is_found(repo: Path, table: str) -> None:
    """A pyproject.toml is parsed only when its text may hold the table: every way TOML
    has to write it must still be found."""
    (repo / "pyproject.toml").write_text(
        table + '[project]\nname = "x"\ndependencies = ["reconcile"]\n', encoding="utf-8"
    )
    settings = load_settings({}, env={}, cwd=repo)
    assert settings.config_path == repo / "pyproject.toml" and settings.realm == "r"


def test_a_pyproject_naming_reconcile_as_a_script_only_is_not_parsed(repo: Path) -> None:
    """Not parsed: invalid TOML elsewhere in it is no error of reconcile's."""
    (repo / "pyproject.toml").write_text(
        '[project.scripts]\nreconcile = "reconcile.cli:main"\n[tool.other]\nx = \n',
        encoding="utf-8",
    )
    assert load_settings({}, env={}, cwd=repo).config_path is None


def test_less_common_valid_spellings(repo: Path) -> None:
    (repo / "reconcile.yaml").write_text(
        "catalog_type: agent\nallow_insecure_http: 'off'\nlisten: '[::1]:9464'\n"
        "key_field: {REQ: external_ref, CTC: ' change_ref '}\n",
        encoding="utf-8",
    )
    settings = load_settings({}, env={}, cwd=repo)
    assert settings.catalog_type == "agent"
    assert settings.allow_insecure_http is False
    assert settings.listen == "[::1]:9464"
    assert settings.key_field == {"REQ": "external_ref", "CTC": "change_ref"}


def test_paths_given_as_path_objects_are_kept(repo: Path) -> None:
    settings = load_settings(
        {"token_file": repo / "tok", "manifests": repo / "m"}, env={}, cwd=repo
    )
    assert settings.token_file == repo / "tok"
    assert settings.manifests == (repo / "m",)
