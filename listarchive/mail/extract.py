"""ParsedMessage -> :class:`MailFacts`: what a mail says as a patch, cover, pull or review.

Pure: the database side is :mod:`ingest.seriesstore`.
"""

from __future__ import annotations

from dataclasses import dataclass

from listarchive.mail.message import ParsedMessage
from listarchive.mail.patches import PatchInfo, extract_patches
from listarchive.mail.series import extract_change_id, extract_links
from listarchive.mail.subject import SubjectInfo
from listarchive.mail.trailers import Trailer, extract_trailers


@dataclass(frozen=True)
class MailFacts:
    subject: SubjectInfo
    kind: str  # "patch", "cover", "pull" or "" (an ordinary mail or a reply)
    patch: PatchInfo | None
    given: tuple[Trailer, ...]  # trailers this reply gives to the message it answers
    own: tuple[Trailer, ...]  # trailers in the patch's own commit message
    change_id: str
    links: tuple[str, ...]


def mail_facts(msg: ParsedMessage) -> MailFacts:
    subject = SubjectInfo.parse(msg.subject)
    body_quoted_free = msg.body
    if subject.is_reply or (not subject.is_patch and not subject.is_pull and msg.parent
                            and not msg.patch_attachments):
        # A review or a discussion reply: what it gives, not what it is. Inline diffs in replies
        # are suggestions, not patches (Patchwork calls them comments too).
        return MailFacts(subject, "", None, extract_trailers(body_quoted_free), (), "", ())
    patch = extract_patches(msg)
    kind = ""
    if subject.is_pull or (patch is not None and patch.pull is not None):
        kind = "pull"
    elif subject.is_cover:
        kind = "cover"
    elif patch is not None and patch.files:
        kind = "patch"
    if not kind:
        return MailFacts(subject, "", None, extract_trailers(body_quoted_free), (), "", ())
    change = extract_change_id(msg.header("X-Change-ID"), msg.body)
    own = extract_trailers(patch.commit_message) if patch is not None and kind == "patch" else ()
    # Version links sit in a cover letter or a commit message, never in the diff (which is most
    # of a patch mail and made link scanning the slowest step of ingest).
    links = extract_links(msg.body if kind != "patch" or patch is None else patch.commit_message)
    return MailFacts(subject, kind, patch, (), own, change[:255], links)
