"""ParsedMessage -> :class:`MailFacts`: what a mail says as a patch, cover, pull, review
suggestion or review.

The classification follows the rules Patchwork's parser and ``b4`` share:

* a reply (``Re: ...``) is never a submission: what it gives are trailers for the message it
  answers; a diff in it is a *review suggestion* (Patchwork files it as a comment, b4 walks past
  it), kept so that it can be read, downloaded and searched, never a member of a series;
* ``git request-pull`` output is a pull request, also when it carries a diffstat and the diff;
* ``[PATCH 0/N]`` is a cover letter, with or without a diff (``git format-patch --interdiff``
  puts one in the cover);
* any other mail with a diff is a patch, whatever its subject says: 1990s linux-mips patches
  are titled "ethernet driver patch" or "copy_from_user() bugfix", and a patch sent with
  ``--in-reply-to`` to a discussion has a parent.

Pure: the database side is :mod:`ingest.seriesstore`.
"""

from __future__ import annotations

from dataclasses import dataclass

from listarchive.mail.message import ParsedMessage
from listarchive.mail.patches import PatchInfo, extract_patches
from listarchive.mail.series import extract_change_id, extract_links
from listarchive.mail.subject import SubjectInfo
from listarchive.mail.trailers import Trailer, extract_trailers

PATCH = "patch"
COVER = "cover"
PULL = "pull"
SUGGESTION = "suggest"
# The kinds Patchwork lists as patches (a pull request is a patch with a pull URL there).
SUBMISSIONS = (PATCH, PULL)
# The kinds whose diff is kept and indexed.
WITH_DIFF = (PATCH, PULL, SUGGESTION)


@dataclass(frozen=True)
class MailFacts:
    subject: SubjectInfo
    kind: str  # PATCH, COVER, PULL, SUGGESTION or "" (an ordinary mail or a reply)
    patch: PatchInfo | None
    given: tuple[Trailer, ...]  # trailers this reply gives to the message it answers
    own: tuple[Trailer, ...]  # trailers in the patch's own commit message
    change_id: str
    links: tuple[str, ...]


def classify(subject: SubjectInfo, patch: PatchInfo | None) -> str:
    """The kind of a mail with this subject and these patch facts (see the module docstring).

    ``[PATCH 0/3] clk: add foo`` without a diff is a cover; ``Re: [PATCH 2/3]`` with an inline
    diff is a suggestion; ``[GIT PULL] clk fixes`` with request-pull text is a pull.
    """
    has_diff = patch is not None and bool(patch.diff) and bool(patch.files)
    if subject.is_reply:
        return SUGGESTION if has_diff else ""
    if subject.is_pull or (patch is not None and patch.pull is not None):
        return PULL
    if subject.is_cover:
        return COVER
    return PATCH if has_diff else ""


def mail_facts(msg: ParsedMessage) -> MailFacts:
    subject = SubjectInfo.parse(msg.subject)
    patch = extract_patches(msg)
    kind = classify(subject, patch)
    if kind in ("", SUGGESTION):
        # A review or a discussion reply: what it gives to the message it answers.
        return MailFacts(subject, kind, patch if kind else None, extract_trailers(msg.body),
                         (), "", ())
    if kind == COVER:
        patch = None  # an interdiff or range-diff in a cover letter is not a change to apply
    change = extract_change_id(msg.header("X-Change-ID"), msg.body)
    own = extract_trailers(patch.commit_message) if patch is not None and kind == PATCH else ()
    # Version links sit in a cover letter or a commit message, never in the diff (which is most
    # of a patch mail and made link scanning the slowest step of ingest).
    links = extract_links(msg.body if kind != PATCH or patch is None else patch.commit_message)
    return MailFacts(subject, kind, patch, (), own, change[:255], links)
