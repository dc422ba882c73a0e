"""Untrusted text made safe to show: invisible characters escaped, workflow commands defused.

Ticket values, field names, server messages, manifest content and file names reach
the terminal and the CI log. Two things in them can act instead of being read:

- control and invisible characters: ESC starts a terminal escape sequence, ``\\r``
  rewrites a line, U+202E and the other bidi controls reorder what is shown, U+200B
  hides text. Every character of the Unicode categories Cc (but ``\\n`` and ``\\t``),
  Cf, Zl and Zp is shown as its escape (``\\u202e``), the way a JSON string writes it,
  so JSON output stays valid JSON with the same value.
- GitHub Actions workflow commands: the runner acts on a line that starts with ``::``
  after leading whitespace (``::error file=…::``, ``::add-mask::``, ``::stop-commands::``)
  and on ``##[`` anywhere in a line (the older syntax). :func:`defuse_workflow_commands`
  escapes the ``:`` or ``[`` that would make such a line a command.

The CLI applies both to every line it writes (:mod:`reconcile.cli.output`); the
renderers apply :func:`escape_invisible` to text bound for files (the step summary).
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_KEPT = frozenset("\n\t")
_STYLE = re.compile(r"\x1b\[([0-9;]{0,16})m")
_STYLE_PARAMS = frozenset(
    {"", "0", "1", "2", "3", "4", "22", "23", "24", "39"}
    | {str(n) for n in (*range(30, 38), *range(90, 98))}
)
"""SGR parameters of colour, bold, dim, italic and underline: what the text renderer and
click's styles use. Anything else (concealed text, cursor movement, titles) is escaped."""

_COMMAND_START = re.compile(r"^(\s*):(?=:)", re.MULTILINE)
_OLD_COMMAND = "##["


def escape_char(char: str) -> str:
    """``char`` as a JSON-style escape: ``\\u001b``, ``\\u202e`` (``\\U000e0001`` above
    U+FFFF)."""
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_invisible(text: str, *, keep_style: bool = False) -> str:
    """``text`` with every control and invisible character (Cc but newline and tab, Cf,
    Zl, Zp) escaped; with ``keep_style`` the colour and bold SGR sequences stay."""
    if _nothing_to_escape(text):
        return text
    if not keep_style:
        return _escape_chars(text)
    parts = []
    last = 0
    for match in _STYLE.finditer(text):
        if all(p in _STYLE_PARAMS for p in match.group(1).split(";")):
            parts.append(_escape_chars(text[last : match.start()]))
            parts.append(match.group())
            last = match.end()
    parts.append(_escape_chars(text[last:]))
    return "".join(parts)


def _nothing_to_escape(text: str) -> bool:
    """True when ``text`` holds no character to escape (most text: checked in C, not
    character by character). ``isprintable`` is False for newline and tab, which stay,
    and for other separators, which the slow path looks at."""
    return text.isprintable() or text.replace("\n", " ").replace("\t", " ").isprintable()


def _escape_chars(text: str) -> str:
    if _nothing_to_escape(text):
        return text
    return "".join(
        escape_char(c) if c not in _KEPT and unicodedata.category(c) in _INVISIBLE_CATEGORIES else c
        for c in text
    )


def defuse_workflow_commands(text: str) -> str:
    """``text`` with no line the Actions runner would take for a workflow command.

    The ``:`` that starts a line (after whitespace) is written ``\\u003a`` and ``##[``
    as ``##\\u005b``: the log shows the text, the runner sees no command. Run it after
    :func:`escape_invisible`, which has already turned ``\\r`` (a line break to the
    runner) into text.
    """
    text = _COMMAND_START.sub(lambda m: m.group(1) + escape_char(":"), text)
    return text.replace(_OLD_COMMAND, "##" + escape_char("["))
