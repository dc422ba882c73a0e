"""GitHub Actions workflow commands: problems as ``::error file=…,line=…::`` annotations."""

from __future__ import annotations

from collections.abc import Iterable

from reconcile.errors import Problem


def github_annotations(problems: Iterable[Problem]) -> list[str]:
    """One ``::error`` line per problem, with its file and line when it has them.

    Escaped as GitHub's toolkit does: ``%``, ``\\r`` and ``\\n`` everywhere, and also
    ``:`` and ``,`` in properties (the file name).
    """
    lines = []
    for problem in problems:
        properties = []
        if problem.path:
            properties.append(f"file={_escape_property(problem.path)}")
            if problem.line:
                properties.append(f"line={problem.line}")
            message = problem.message
        else:
            message = str(problem)
        head = f"::error {','.join(properties)}" if properties else "::error"
        lines.append(f"{head}::{_escape_data(message)}")
    return lines


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
