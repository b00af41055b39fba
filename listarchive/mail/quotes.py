"""A reply's own words and the words it quotes.

Mail clients mark quoted text with ``>`` at the start of the line, often after indentation
(``  > ...`` from some webmail) and nested (``>> ...``, ``> > ...``). Search indexes the two parts
in different fields (``nq:``/``q:``), snippets show only the own part, and maintainer commands
("Applied, thanks") count only when the sender wrote them, not when they quote them.
"""

from __future__ import annotations

SIGNATURES = frozenset({"-- ", "--"})  # "-- " as RFC 3676 writes it; some clients strip the space


def is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def split_quoted(body: str) -> tuple[str, str]:
    """(own text, quoted text) of ``body``, each with its lines in order."""
    own: list[str] = []
    quoted: list[str] = []
    for line in body.splitlines():
        (quoted if is_quoted(line) else own).append(line)
    return "\n".join(own), "\n".join(quoted)


def own_lines(body: str, until_signature: bool = False) -> list[str]:
    """The sender's own lines; with ``until_signature``, none after the signature line."""
    out: list[str] = []
    for line in body.splitlines():
        if until_signature and line in SIGNATURES:
            break
        if not is_quoted(line):
            out.append(line)
    return out
