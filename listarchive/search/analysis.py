"""How mail is cut into searchable words, for every engine: the rules both adapters follow.

- *Words of mail and code.* ``\\w`` runs joined by ``. - + @ / '`` form one word
  (``pci_enable_device``, ``v6.1-rc3``, ``john@example.org``, ``drivers/clk/qcom``), and typing
  either the whole or one of its pieces (``rc3``, ``clk``) finds it. Words over
  :data:`MAX_WORD_CHARS` (base64, hex dumps) are not indexed.
- *Addresses* in From/To/Cc are found whole, by their local part and by their domain and parent
  domains (``f:kernel.org``); display names word by word.
- *English stemming on prose only*: subject and body text (:data:`STEMMED`), never code, paths
  or addresses: ``s:leak`` finds "leaking", ``dfb:leak`` does not find ``leaks++``.
- *Paths of a diff*: each file is indexed with its basename and every directory above it, so
  ``dfn:drivers/clk/`` is one term lookup, not a prefix expansion (:func:`path_terms`).
- *Facets* (lists, subsystems, states, kinds, trailers) are exact values, compared lower-cased
  with runs of white space made one space (:func:`facet_value`).

Each index column is named here with the query-language fields that search it
(:data:`SEARCHED`), so both engines answer the same words from the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from listarchive.search.vocabulary import TEXT_FIELD

WORD = re.compile(r"\w+(?:[.\-+@/']+\w+)*")
JOINERS = re.compile(r"[.\-+@/']+")
MAX_WORD_CHARS = 200

# Query-language field -> index columns. Diff lines are indexed once, in dfa/dfb, and searched
# wherever lore's body is meant.
SEARCHED: dict[str, tuple[str, ...]] = {
    TEXT_FIELD: ("subject", "nq", "quoted", "dfb", "dfa", "from_addr", "attachments"),
    "subject": ("subject",), "from": ("from_addr",), "to": ("to_addr",), "cc": ("cc_addr",),
    "address": ("from_addr", "to_addr", "cc_addr"), "body": ("nq", "quoted", "dfb", "dfa"),
    "subject_body": ("subject", "nq", "quoted", "dfb", "dfa"), "nonquoted": ("nq", "dfb", "dfa"),
    "quoted": ("quoted",),
    "msgid": ("msgid",), "diff_file": ("dfn",), "diff_removed": ("dfa",),
    "diff_added": ("dfb",), "diff_hunk": ("dfhh",), "patchid": ("patchid",),
}
FLAG_COLUMNS = {"list": "lists", "subsystem": "subsystems", "state": "state", "is": "kinds",
                "has": "trailers", "check": "checks"}
STEMMED = frozenset({"subject", "nq", "quoted"})
ADDRESSES = frozenset({"from_addr", "to_addr", "cc_addr"})
# Bulky secondary columns keep no word positions: a phrase there is matched as all of its words.
UNPOSITIONED = frozenset({"quoted", "attachments", "dfa", "dfb", "dfhh"})
PATH = "dfn"


def pieces(word: str, addresses: bool = False) -> list[tuple[str, int]]:
    """``word`` (one match of :data:`WORD`) and the pieces indexed with it, with their offsets.

    ``v6.1-rc3`` -> ``v6.1-rc3``, ``v6``, ``1``, ``rc3``. With ``addresses`` an e-mail address
    gives itself, its local part and its domains instead (``john.smith@kernel.org`` ->
    ``john.smith``, ``kernel.org``): Cc lists of forty addresses split into pieces made a third
    of all index terms.
    """
    out = [(word, 0)]
    if word.isidentifier() or word.isalnum():  # C-speed test for the common plain word
        return out
    if addresses and "@" in word:
        return out + address_parts(word)
    offset = 0
    for part in JOINERS.split(word):
        offset = word.index(part, offset)
        out.append((part, offset))
        offset += len(part)
    return out


def address_parts(address: str) -> list[tuple[str, int]]:
    """The local part, the domain and its parent domains of ``address``, with offsets."""
    domain = address.rsplit("@", 1)[1]
    offset = len(address) - len(domain)
    out = [(address[:offset - 1], 0)]
    while domain.count(".") >= 1:
        out.append((domain, offset))
        cut = domain.index(".") + 1
        domain, offset = domain[cut:], offset + cut
    return out


def address_terms(text: str) -> list[str]:
    """The lower-cased address parts of every address in ``text`` (whole addresses excluded)."""
    out: list[str] = []
    for word in WORD.findall(text):
        if "@" in word and len(word) <= MAX_WORD_CHARS:
            out.extend(part.lower() for part, _ in address_parts(word))
    return out


def path_terms(paths: Iterable[str]) -> list[str]:
    """Index terms of the files of a diff: each path, every directory above it and its basename.

    ``drivers/clk/qcom/gcc.c`` -> ``drivers``, ``drivers/clk``, ``drivers/clk/qcom``,
    ``drivers/clk/qcom/gcc.c``, ``gcc.c``. Lower-cased, leading and trailing ``/`` dropped.
    """
    out: list[str] = []
    for raw in paths:
        path = raw.strip().strip("/").lower()
        if not path:
            continue
        parts = path.split("/")
        out.extend("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        if len(parts) > 1:
            out.append(parts[-1])
    return out


def query_path(text: str) -> str:
    """A ``dfn:`` value as the term it looks up: ``dfn:drivers/clk/`` and ``dfn:drivers/clk``
    both find every file below that directory."""
    return text.strip().strip("/").lower()


def facet_value(text: str) -> str:
    """An exact facet as indexed and as queried: ``"COMMON CLK  FRAMEWORK"`` ->
    ``"common clk framework"``."""
    return " ".join(text.split()).lower()
