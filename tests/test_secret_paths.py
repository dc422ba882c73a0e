"""A secret given where a file name belongs is masked like any other token value.

A user who pastes the token (or the client secret) after ``--token-file`` (or into
``RECONCILE_CLIENT_SECRET_FILE``) gets an error about a file that does not exist; that
error must not echo the value. JWT-shaped tokens are masked by their shape; these are
opaque ones, which only the registry can mask.
"""

from __future__ import annotations

from collections.abc import Callable

from cli_runner import CliResult


def test_opaque_token_given_as_token_file_is_masked(cli: Callable[..., CliResult]) -> None:
    token = "opaque-pasted-token-4f1c9a77e2"
    result = cli("plan", "--token-file", token, expect=1, RECONCILE_TOKEN=None)
    assert result.stderr == "Error: token file [redacted] does not exist\n"
    assert token not in result.stdout + result.stderr


def test_opaque_token_in_an_unreadable_token_path_is_masked(
    cli: Callable[..., CliResult],
) -> None:
    token = "opaque-pasted-token-83bd01c5aa"
    result = cli("whoami", "--token-file", f"/dev/null/{token}", expect=1, RECONCILE_TOKEN=None)
    assert result.stderr == "Error: cannot read token file [redacted]: NotADirectoryError\n"
    assert token not in result.stdout + result.stderr


def test_client_secret_given_as_its_file_is_masked(cli: Callable[..., CliResult]) -> None:
    secret = "opaque-pasted-secret-c07d9e1b52"
    result = cli(
        "whoami",
        expect=1,
        RECONCILE_TOKEN=None,
        RECONCILE_CLIENT_ID="ci-bot",
        RECONCILE_CLIENT_SECRET_FILE=secret,
    )
    assert "Error: cannot read RECONCILE_CLIENT_SECRET_FILE [redacted]: " in result.stderr
    assert secret not in result.stdout + result.stderr


def test_a_short_token_file_name_stays_readable(cli: Callable[..., CliResult]) -> None:
    result = cli("plan", "--token-file", "token", expect=1, RECONCILE_TOKEN=None)
    assert result.stderr == "Error: token file token does not exist\n"
