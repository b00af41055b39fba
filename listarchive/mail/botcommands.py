"""``pw-bot: STATE`` lines in replies: netdev's mail commands for patch states.

A maintainer replies to a patch (or to the cover letter, for the whole series) with a line
``pw-bot: cr`` and the patch's state changes without a visit to the site. Only the sender's own
lines count: a quoted ``> pw-bot: accepted`` is someone else's command, not this mail's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from listarchive.mail.quotes import own_lines

_LINE = re.compile(r"^\s*pw-bot\s*:\s*(\S+)\s*$", re.I)
# netdev's short names and ours; anything else is an unknown command (reported, not applied).
STATES = {
    "cr": "changes-requested", "changes-requested": "changes-requested",
    "accepted": "accepted", "accept": "accepted", "applied": "accepted",
    "rejected": "rejected", "reject": "rejected", "rfc": "rfc",
    "deferred": "deferred", "defer": "deferred", "superseded": "superseded",
    "not-applicable": "not-applicable", "na": "not-applicable",
    "under-review": "under-review", "awaiting-upstream": "awaiting-upstream",
}
# What a series' author may ask for: withdrawing their own work, never accepting it.
AUTHOR_STATES = frozenset({"rfc", "superseded", "not-applicable"})


@dataclass(frozen=True)
class BotCommand:
    word: str  # as written, lower-cased
    state: str | None  # ours; None for a word that names no state

    @property
    def line(self) -> str:
        return f"pw-bot: {self.word}"


def bot_command(body: str) -> BotCommand | None:
    """The first ``pw-bot:`` line among the sender's own lines, if any.

    >>> bot_command("Thanks.\\n\\npw-bot: cr\\n")
    BotCommand(word='cr', state='changes-requested')
    >>> bot_command("> pw-bot: accepted\\nI disagree.") is None
    True
    """
    if "pw-bot" not in body.lower():  # in every command: most replies are passed over by it
        return None
    for line in own_lines(body, until_signature=True):
        found = _LINE.match(line)
        if found is not None:
            word = found.group(1).lower()[:40]
            return BotCommand(word, STATES.get(word))
    return None
