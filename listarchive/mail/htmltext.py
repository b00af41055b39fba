"""HTML-only mail to plain text. The archive never renders mail HTML; it shows this text instead."""

from __future__ import annotations

import re
import warnings

_BLOCK = ("p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre")


def html_to_text(html: str) -> str:
    """Visible text of an HTML part: scripts/styles dropped, block elements on their own lines."""
    # Imported here: HTML-only mail is rare on development lists, and the import was a tenth
    # of what every delivery from the mail server cost.
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title"]):
        tag.decompose()
    for tag in soup.find_all(_BLOCK):
        tag.insert_before("\n")
    for link in soup.find_all("a", href=True):
        href = str(link.get("href", ""))
        if href.startswith(("http://", "https://")) and href not in link.get_text():
            link.append(f" <{href}>")
    text = soup.get_text()
    text = re.sub(r"[ \t\r\f\v]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
