"""What the search language knows: its prefixes and the fields they name, the values its facets
take, and the bounds every query is held to.

The parser (:mod:`listarchive.search.queryparser`) reads queries with these tables, the query
tree (:mod:`listarchive.search.querytree`) writes them back with them, the engines map the field
names to their own columns (:mod:`listarchive.search.analysis`) and the help page lists them.
A new prefix or facet value starts here.
"""

from __future__ import annotations

import re

# b4 asks for the reviews of a series in one query, "patchid:<40 hex> OR ..." for each patch
# (52 characters a patch): these bounds take a 300-patch series.
MAX_QUERY_CHARS = 16_000
MAX_TERMS = 300
MIN_PREFIX_CHARS = 3
MAX_DEPTH = 16  # nested parentheses and negations; keeps every tree walk far from recursion limits
MAX_PREFIX_EXPANSION = 1000  # distinct words a prefix may stand for (engines check it)
LIMITS = {"characters": MAX_QUERY_CHARS, "terms": MAX_TERMS, "prefix": MIN_PREFIX_CHARS,
          "depth": MAX_DEPTH, "expansion": MAX_PREFIX_EXPANSION}

# lore prefix -> field name in the tree (engines map field names to their own columns).
FIELD_PREFIXES: dict[str, str] = {
    "s": "subject", "f": "from", "t": "to", "c": "cc", "a": "address", "b": "body",
    "bs": "subject_body", "nq": "nonquoted", "q": "quoted", "m": "msgid", "dfn": "diff_file",
    "dfa": "diff_removed", "dfb": "diff_added", "dfhh": "diff_hunk", "patchid": "patchid",
}
FLAG_PREFIXES: dict[str, str] = {
    "l": "list", "subsystem": "subsystem", "state": "state", "is": "is", "has": "has",
    "check": "check",
}
DATE_PREFIX = "d"
TEXT_FIELD = "text"  # free words: subject, body and sender
KNOWN_PREFIXES = frozenset(FIELD_PREFIXES) | frozenset(FLAG_PREFIXES) | {DATE_PREFIX}
# Field or flag name -> the prefix written for it.
PREFIX_OF = {v: k for k, v in FIELD_PREFIXES.items()} | {v: k for k, v in FLAG_PREFIXES.items()}
# Fields whose values are identifiers, not words: no wildcard, no phrase splitting.
EXACT_FIELDS = frozenset({"msgid", "patchid"})
# Upper case only: ``or`` is a word.
OPERATORS = frozenset({"AND", "OR", "NOT"})
# A prefix as written: letters, then a colon.
PREFIX_RE = re.compile(r"([A-Za-z]+):")

KINDS = frozenset({"patch", "cover", "pull", "reply"})
STATES = frozenset({"new", "under-review", "accepted", "rejected", "rfc", "not-applicable",
                    "changes-requested", "awaiting-upstream", "superseded", "deferred"})
CHECK_STATES = frozenset({"pending", "success", "warning", "fail"})
