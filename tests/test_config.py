"""Settings: flag > environment > reconcile.yaml > default; discovery; refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.config import Settings, load_settings
from reconcile.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository root (a directory holding .git) inside an outer directory."""
    root = tmp_path / "outer" / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def test_defaults_without_any_source(repo: Path) -> None:
    settings = load_settings({}, env={}, cwd=repo)
    assert settings == Settings()
    assert settings.parallelism == 10
    assert settings.timeout == 30.0
    assert settings.catalog_type == "template"
    assert settings.write_roles == ("ticket_writer", "ticket_admin")
    assert settings.config_path is None


def test_precedence_flag_over_env_over_file_over_default(repo: Path) -> None:
    write(repo / "reconcile.yaml", "parallelism: 3\ntimeout: 7\nrealm: from-file\n")
    env = {"RECONCILE_PARALLELISM": "5", "RECONCILE_TIMEOUT": "9"}
    flags = {"parallelism": 8, "timeout": None, "realm": None}

    settings = load_settings(flags, env=env, cwd=repo)

    assert settings.parallelism == 8  # flag
    assert settings.timeout == 9.0  # environment
    assert settings.realm == "from-file"  # config file
    assert settings.catalog_type == "template"  # default
    assert settings.sources["parallelism"] == "--parallelism"
    assert settings.sources["timeout"] == "RECONCILE_TIMEOUT"
    assert settings.sources["realm"].endswith("reconcile.yaml:3")
    assert "catalog_type" not in settings.sources


def test_empty_environment_variable_counts_as_unset(repo: Path) -> None:
    write(repo / "reconcile.yaml", "realm: from-file\n")
    settings = load_settings({}, env={"RECONCILE_REALM": "  "}, cwd=repo)
    assert settings.realm == "from-file"


def test_config_found_upward_up_to_git_root(repo: Path) -> None:
    write(repo / "reconcile.yaml", "tenant_id: t-1\n")
    deep = repo / "manifests" / "network"
    deep.mkdir(parents=True)

    settings = load_settings({}, env={}, cwd=deep)

    assert settings.tenant_id == "t-1"
    assert settings.config_path == repo / "reconcile.yaml"


def test_config_above_git_root_is_not_used(repo: Path) -> None:
    write(repo.parent / "reconcile.yaml", "tenant_id: outside\n")
    settings = load_settings({}, env={}, cwd=repo / ".git" / "..")
    assert settings.tenant_id is None
    assert settings.config_path is None


def test_nearest_config_wins(repo: Path) -> None:
    write(repo / "reconcile.yaml", "tenant_id: root\n")
    write(repo / "sub" / "reconcile.yaml", "tenant_id: nearer\n")
    assert load_settings({}, env={}, cwd=repo / "sub").tenant_id == "nearer"


def test_outside_git_only_the_current_directory_is_searched(tmp_path: Path) -> None:
    write(tmp_path / "reconcile.yaml", "tenant_id: parent\n")
    child = tmp_path / "child"
    child.mkdir()
    assert load_settings({}, env={}, cwd=child).tenant_id is None
    assert load_settings({}, env={}, cwd=tmp_path).tenant_id == "parent"


def test_config_flag_and_variable_select_another_file(repo: Path) -> None:
    write(repo / "reconcile.yaml", "realm: default-file\n")
    write(repo / "envs" / "staging.yaml", "realm: staging\n")
    write(repo / "envs" / "prod.yaml", "realm: prod\n")

    by_env = load_settings({}, env={"RECONCILE_CONFIG": "envs/staging.yaml"}, cwd=repo)
    by_flag = load_settings(
        {"config": "envs/prod.yaml"}, env={"RECONCILE_CONFIG": "envs/staging.yaml"}, cwd=repo
    )

    assert by_env.realm == "staging"
    assert by_flag.realm == "prod"
    assert by_flag.config_path == repo / "envs" / "prod.yaml"


def test_missing_explicit_config_is_an_error(repo: Path) -> None:
    with pytest.raises(ConfigError, match=r"--config: no such config file .*nope\.yaml"):
        load_settings({"config": "nope.yaml"}, env={}, cwd=repo)


def test_relative_paths_in_the_file_resolve_against_its_directory(repo: Path) -> None:
    write(repo / "certs" / "ca.pem", "not really a cert\n")
    write(
        repo / "envs" / "prod.yaml",
        "manifests: [../manifests/a, /abs/b]\nca_bundle: ../certs/ca.pem\ntoken_file: tok\n",
    )
    elsewhere = repo / "somewhere"
    elsewhere.mkdir()

    settings = load_settings({"config": str(repo / "envs" / "prod.yaml")}, env={}, cwd=elsewhere)

    assert settings.manifests == (repo / "envs" / "../manifests/a", Path("/abs/b"))
    assert settings.ca_bundle == repo / "envs" / "../certs/ca.pem"
    assert settings.token_file == repo / "envs" / "tok"


def test_relative_paths_from_flags_stay_relative_to_the_current_directory(repo: Path) -> None:
    settings = load_settings({"token_file": "tok"}, env={"RECONCILE_MANIFESTS": "a"}, cwd=repo)
    assert settings.token_file == Path("tok")
    assert settings.manifests == (Path("a"),)


def test_unknown_key_names_file_line_and_suggests(repo: Path) -> None:
    write(repo / "reconcile.yaml", "realm: r\nparalelism: 4\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, env={}, cwd=repo)
    message = str(caught.value)
    assert "reconcile.yaml:2: unknown setting 'paralelism'" in message
    assert "did you mean 'parallelism'?" in message


@pytest.mark.parametrize(
    ("key", "variable"),
    [
        ("token", "RECONCILE_TOKEN"),
        ("access_token", "RECONCILE_TOKEN"),
        ("client_secret", "RECONCILE_CLIENT_SECRET"),
        ("secret", "RECONCILE_CLIENT_SECRET"),
        ("password", "RECONCILE_CLIENT_SECRET"),
        ("api_token", "RECONCILE_TOKEN"),
    ],
)
def test_secret_in_config_is_refused_without_echoing_it(
    repo: Path, key: str, variable: str
) -> None:
    value = "s3cr3t-value-that-must-not-show"
    write(repo / "reconcile.yaml", f"realm: r\n{key}: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, env={}, cwd=repo)
    message = str(caught.value)
    assert f"reconcile.yaml:2: {key!r} looks like a secret" in message
    assert "read only from the environment or files" in message
    assert variable in message
    assert value not in message


@pytest.mark.parametrize(
    ("flags", "env", "text", "expected"),
    [
        ({"parallelism": "ten"}, {}, "", r"--parallelism: parallelism: expected an integer"),
        ({}, {"RECONCILE_PARALLELISM": "0"}, "", r"RECONCILE_PARALLELISM: parallelism: .*>= 1"),
        ({}, {}, "parallelism: true\n", r"reconcile.yaml:1: parallelism: .*boolean"),
        ({}, {"RECONCILE_TIMEOUT": "-1"}, "", r"RECONCILE_TIMEOUT: timeout: expected a number > 0"),
        ({}, {}, "rate_limit: fast\n", r"reconcile.yaml:1: rate_limit: expected a number"),
        ({}, {}, "catalog_type: nope\n", r"catalog_type: expected one of template, agent, user"),
        ({}, {}, "base_url: ftp://x\n", r"base_url: expected an http:// or https:// URL"),
        ({}, {}, "max_changes: -3\n", r"max_changes: expected an integer >= 0"),
        ({}, {}, "write_roles: {a: 1}\n", r"write_roles: expected a list of names"),
        ({}, {"RECONCILE_ALLOW_INSECURE_HTTP": "maybe"}, "", r"allow_insecure_http: expected"),
    ],
)
def test_bad_values_name_the_setting_and_source(
    repo: Path, flags: dict, env: dict, text: str, expected: str
) -> None:
    if text:
        write(repo / "reconcile.yaml", text)
    with pytest.raises(ConfigError, match=expected):
        load_settings(flags, env=env, cwd=repo)


def test_credentials_in_base_url_are_refused(repo: Path) -> None:
    with pytest.raises(ConfigError, match="credentials in the URL") as caught:
        load_settings({"base_url": "https://user:hunter22@example.test"}, env={}, cwd=repo)
    assert "hunter22" not in str(caught.value)


def test_yaml_syntax_error_and_duplicate_key_name_the_line(repo: Path) -> None:
    write(repo / "reconcile.yaml", "realm: r\ntimeout: [1\n")
    with pytest.raises(ConfigError, match=r"reconcile.yaml:\d+: "):
        load_settings({}, env={}, cwd=repo)
    write(repo / "reconcile.yaml", "realm: a\nrealm: b\n")
    with pytest.raises(ConfigError, match=r"reconcile.yaml:2: .*duplicate"):
        load_settings({}, env={}, cwd=repo)


def test_config_must_be_a_mapping(repo: Path) -> None:
    write(repo / "reconcile.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match=r"reconcile.yaml:1: expected a mapping"):
        load_settings({}, env={}, cwd=repo)


def test_yaml_12_scalars_and_lists(repo: Path) -> None:
    write(
        repo / "reconcile.yaml",
        "realm: no\nwrite_roles: [editor, ticket_admin]\nmax_changes: 0\nrate_limit: 2.5\n",
    )
    settings = load_settings({}, env={"RECONCILE_CLIENT_ID": "ci"}, cwd=repo)
    assert settings.realm == "no"  # YAML 1.2: a string, not False
    assert settings.write_roles == ("editor", "ticket_admin")
    assert settings.max_changes == 0
    assert settings.rate_limit == 2.5
    assert settings.client_id == "ci"


def test_write_roles_from_environment_are_comma_separated(repo: Path) -> None:
    env = {"RECONCILE_WRITE_ROLES": "editor, admin"}
    assert load_settings({}, env=env, cwd=repo).write_roles == ("editor", "admin")


def test_ca_bundle_must_exist_and_requests_variable_is_honoured(repo: Path) -> None:
    with pytest.raises(ConfigError, match=r"REQUESTS_CA_BUNDLE: ca_bundle: no such file"):
        load_settings({}, env={"REQUESTS_CA_BUNDLE": str(repo / "missing.pem")}, cwd=repo)
    bundle = write(repo / "ca.pem", "x")
    settings = load_settings({}, env={"REQUESTS_CA_BUNDLE": str(bundle)}, cwd=repo)
    assert settings.ca_bundle == bundle


def test_allow_insecure_http_flag_false_means_not_given(repo: Path) -> None:
    env = {"RECONCILE_ALLOW_INSECURE_HTTP": "true"}
    assert load_settings({"allow_insecure_http": False}, env=env, cwd=repo).allow_insecure_http
    assert load_settings({"allow_insecure_http": True}, env={}, cwd=repo).allow_insecure_http


def test_require_names_every_missing_setting_and_how_to_give_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(realm="r").require("base_url", "tenant_id", "realm")
    message = str(caught.value)
    assert "no base_url: --base-url, set RECONCILE_BASE_URL or add base_url to reconcile.yaml" in (
        message
    )
    assert "no tenant_id" in message
    assert "no realm" not in message


def test_token_base_url_defaults_to_base_url() -> None:
    assert Settings(base_url="https://api").token_base_url == "https://api"
    assert Settings(base_url="https://api", auth_url="https://sso").token_base_url == "https://sso"


# --------------------------------------------------------------------------- pyproject.toml

PYPROJECT = """\
[project]
name = "tickets"

[tool.ruff]
line-length = 100

[tool.reconcile]
realm = "from-pyproject"   # a comment
parallelism = 3
manifests = ["tickets/"]
"""


def test_pyproject_tool_table_is_a_config_source(repo: Path) -> None:
    write(repo / "pyproject.toml", PYPROJECT)
    (repo / "tickets").mkdir()
    settings = load_settings({}, env={"RECONCILE_PARALLELISM": "5"}, cwd=repo / "tickets")
    assert settings.config_path == repo / "pyproject.toml"
    assert settings.realm == "from-pyproject"
    assert settings.parallelism == 5  # environment over file
    assert settings.manifests == (repo / "tickets/",)
    assert settings.sources["realm"].endswith("repo/pyproject.toml:8")


def test_pyproject_without_the_table_is_passed_over(repo: Path) -> None:
    write(repo / "reconcile.yaml", "realm: root-yaml\n")
    write(repo / "sub" / "pyproject.toml", '[project]\nname = "reconcile-tools"\n')
    assert load_settings({}, env={}, cwd=repo / "sub").realm == "root-yaml"


def test_reconcile_yaml_wins_over_pyproject_in_the_same_directory(repo: Path) -> None:
    write(repo / "pyproject.toml", PYPROJECT)
    write(repo / "reconcile.yaml", "realm: from-yaml\n")
    settings = load_settings({}, env={}, cwd=repo)
    assert settings.realm == "from-yaml"
    assert settings.parallelism == 10  # the two are not merged
    write(repo / "sub" / "pyproject.toml", '[tool.reconcile]\nrealm = "nearer"\n')
    assert load_settings({}, env={}, cwd=repo / "sub").realm == "nearer"


def test_pyproject_named_by_config(repo: Path) -> None:
    write(repo / "envs" / "pyproject.toml", '[tool.reconcile]\nrealm = "named"\n')
    settings = load_settings({"config": "envs/pyproject.toml"}, env={}, cwd=repo)
    assert settings.realm == "named"
    write(repo / "other.toml", "[tool.black]\nline-length = 1\n")
    with pytest.raises(ConfigError, match=r"^other.toml: no \[tool.reconcile\] table$"):
        load_settings({"config": "other.toml"}, env={}, cwd=repo)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            'realm = "r"\nparalelism = 4\n',
            r"pyproject.toml:9: unknown setting 'paralelism' \(did you mean 'parallelism'\?\)",
        ),
        (
            'client_secret = "s3cr3t-never-shown"\n',
            r"pyproject.toml:8: 'client_secret' looks like a secret.*RECONCILE_CLIENT_SECRET",
        ),
        ("timeout = inf\n", r"pyproject.toml:8: timeout: expected a finite number, got inf"),
        (
            "parallelism = 1000\n",
            r"pyproject.toml:8: parallelism: expected an integer <= 64, got 1000",
        ),
        (
            '"base_url" = "ftp://x"\n',
            r"pyproject.toml:8: base_url: expected an http:// or https:// URL",
        ),
        ("realm = \n", r"pyproject.toml:8: invalid TOML: "),
    ],
)
def test_pyproject_problems_name_file_and_line(repo: Path, table: str, expected: str) -> None:
    write(
        repo / "pyproject.toml",
        '[project]\nname = "x"\n\n# settings\n\n\n[tool.reconcile]\n' + table,
    )
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings({}, env={}, cwd=repo)
    assert "s3cr3t" not in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_pyproject_tool_reconcile_must_be_a_table(repo: Path) -> None:
    write(repo / "pyproject.toml", "[tool]\nreconcile = 3\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml:1: tool.reconcile must be a table"):
        load_settings({}, env={}, cwd=repo)
