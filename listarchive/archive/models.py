"""Typed SQLAlchemy 2.0 models: the archive's storage schema.

Raw message bytes are the truth (``Message.raw``, zlib-compressed, byte-exact once inflated);
every other column and table except accounts and human decisions is derived and rebuilt by
``listarchive reindex``. Portable SQL only: the same models run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship

from listarchive.mail.msgids import MSGID_MAX


class Base(DeclarativeBase):
    pass


def newest_first(name: str, *leading: str, date: str, tiebreak: str) -> tuple[Index, Index]:
    """An index read in the order pages show rows: ``leading`` columns equal, then ``date``
    newest first with undated (NULL) rows last, then ``tiebreak`` descending. PostgreSQL must be
    told NULLS LAST to read such an index instead of sorting every row of a list; SQLite sorts
    NULL lowest, so descending is that order already (and it takes no NULLS LAST in an index)."""
    return (Index(name, *leading, text(f"{date} DESC NULLS LAST"), text(f"{tiebreak} DESC"))
            .ddl_if(dialect="postgresql"),
            Index(name, *leading, text(f"{date} DESC"), text(f"{tiebreak} DESC"))
            .ddl_if(dialect="sqlite"))


class MailingList(Base):
    __tablename__ = "lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    list_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)

    memberships: Mapped[list[MessageList]] = relationship(back_populates="mailing_list")


class Person(Base):
    """A sender, keyed by lower-cased address; ``name`` is the most recent display name."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")

    messages: Mapped[list[Message]] = relationship(back_populates="sender")


class Thread(Base):
    """A connected component of the References graph (ghosts included), see listarchive.mail.threads."""

    __tablename__ = "threads"
    __table_args__ = newest_first("ix_threads_recent", date="last_date", tiebreak="id")

    id: Mapped[int] = mapped_column(primary_key=True)
    root_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    first_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    # The first senders, one a line, and how many different senders there are (/all/ shows
    # them; a list's own come with its per-list row).
    participants: Mapped[str] = mapped_column(Text, default="")
    participant_count: Mapped[int] = mapped_column(Integer, default=0)

    messages: Mapped[list[Message]] = relationship(back_populates="thread")
    nodes: Mapped[list[Node]] = relationship(back_populates="thread")
    lists: Mapped[list[ThreadList]] = relationship(back_populates="thread")


class Node(Base):
    """Every Message-ID known to the threader: stored messages and ghosts (referenced, unseen)."""

    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    msgid: Mapped[str] = mapped_column(String(MSGID_MAX), unique=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)

    thread: Mapped[Thread] = relationship(back_populates="nodes")


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The archive's id: the header's Message-ID without <>, or a derived/synthetic one (flags say).
    msgid: Mapped[str] = mapped_column(String(MSGID_MAX), unique=True)
    header_msgid: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    raw: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    raw_size: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_name: Mapped[str] = mapped_column(Text, default="")
    from_email: Mapped[str] = mapped_column(String(320), default="", index=True)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    to_addrs: Mapped[str] = mapped_column(Text, default="")
    cc_addrs: Mapped[str] = mapped_column(Text, default="")
    date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    date_raw: Mapped[str] = mapped_column(Text, default="")
    # date if it is plausible, else a Received: date, else NULL: what ordering and activity use.
    sort_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    in_reply_to: Mapped[str] = mapped_column(String(MSGID_MAX), default="")
    parent_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), default="", index=True)
    references: Mapped[str] = mapped_column(Text, default="")
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"), nullable=True,
                                                  index=True)
    attachments: Mapped[int] = mapped_column(Integer, default=0)
    # Comma-separated markers: bad-date, synthetic-msgid, reused-msgid, long-msgid, html-only,
    # no-from, bad-charset.
    flags: Mapped[str] = mapped_column(String(255), default="")
    ingested_at: Mapped[datetime] = mapped_column(DateTime)

    sender: Mapped[Person | None] = relationship(back_populates="messages")
    thread: Mapped[Thread | None] = relationship(back_populates="messages")
    memberships: Mapped[list[MessageList]] = relationship(back_populates="message")


class MessageList(Base):
    __tablename__ = "message_lists"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id"), primary_key=True, index=True)

    message: Mapped[Message] = relationship(back_populates="memberships")
    mailing_list: Mapped[MailingList] = relationship(back_populates="memberships")


class ThreadList(Base):
    """Per-list view of a thread, kept for the list index (newest activity first): its summary
    over the thread's messages on that list, so that a list index page reads its threads from
    its own rows (:func:`listarchive.archive.derived.thread_list_rows`)."""

    __tablename__ = "thread_lists"
    __table_args__ = newest_first("ix_thread_lists_recent", "list_id", date="last_date",
                                  tiebreak="thread_id")

    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id"), primary_key=True)
    last_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    first_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The message the index shows for the thread: its root when on this list, else the list's
    # earliest message of the thread.
    root_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    # The first senders, one a line, and how many different senders there are.
    participants: Mapped[str] = mapped_column(Text, default="")
    participant_count: Mapped[int] = mapped_column(Integer, default=0)

    thread: Mapped[Thread] = relationship(back_populates="lists")


class ListStat(Base):
    """A list's totals over its per-thread rows (``thread_lists``): how many threads, and their
    messages on this list. Kept by the ingest with every change to those rows, so that no page
    counts a whole list; threads hidden from a viewer are subtracted when read."""

    __tablename__ = "list_stats"

    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id"), primary_key=True,
                                         autoincrement=False)
    threads: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)


class Quarantined(Base):
    """A message that could not be parsed, kept raw with its reason until retried."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    raw_size: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, default="")
    list_name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SourceState(Base):
    """Where ``watch`` stopped in a source (byte offset, git commit, ...), to resume after restart."""

    __tablename__ = "source_state"
    __table_args__ = (UniqueConstraint("source", name="uq_source_state_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    position: Mapped[str] = mapped_column(Text, default="")


class Meta(Base):
    """Small key/value facts: schema version, search-index watermark."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class Patch(Base):
    """A patch, cover letter, pull request or review suggestion (a diff in a reply) found in a
    message; its id is the message's id, so URLs survive ``reindex``."""

    __tablename__ = "patches"
    __table_args__ = (Index("ix_patches_sender_kind", "sender_email", "kind"),
                      Index("ix_patches_sender_date", "sender_email", "date"))

    id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(MSGID_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # patch | cover | pull | suggest
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"),
                                                  nullable=True, index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    counter: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    is_rfc: Mapped[bool] = mapped_column(Boolean, default=False)
    sender_email: Mapped[str] = mapped_column(String(320), default="")
    date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    patch_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    files: Mapped[str] = mapped_column(Text, default="")  # one path per line
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    insertions: Mapped[int] = mapped_column(Integer, default=0)
    deletions: Mapped[int] = mapped_column(Integer, default=0)
    pull_url: Mapped[str] = mapped_column(Text, default="")
    pull_ref: Mapped[str] = mapped_column(Text, default="")
    # The commit a pull request asks to fetch ("for you to fetch changes up to ..."): git-scan
    # accepts the pull when it is in the scanned branch.
    pull_head: Mapped[str] = mapped_column(String(40), default="")
    change_id: Mapped[str] = mapped_column(String(255), default="")
    links: Mapped[str] = mapped_column(Text, default="")  # msgids the body points to, one per line
    flags: Mapped[str] = mapped_column(String(255), default="")

    series: Mapped[Series | None] = relationship(back_populates="patches",
                                                 foreign_keys=[series_id])


class PatchDiff(Base):
    """What :func:`listarchive.mail.patches.extract_patches` read from a patch's mail, kept so
    that the pages showing diffs (the patch page, range-diffs, discussions) parse no mail: the
    commit message and the diff (compressed as the raw mail is, :mod:`.rawstore`), and each file
    touched as JSON ``[path, old_path, change, insertions, deletions]``. One row per patch, pull
    request or review suggestion whose mail has a diff or a pull request (cover letters have
    none); written with the patch row, rebuilt by ``reindex``."""

    __tablename__ = "patch_diffs"

    patch_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    commit_message: Mapped[bytes] = mapped_column(LargeBinary)
    diff: Mapped[bytes] = mapped_column(LargeBinary)
    files: Mapped[str] = mapped_column(Text, default="[]")


class Series(Base):
    """Patches sent together (cover + 1..N). Its id is the anchor message's id: the cover letter,
    else the lowest-numbered patch."""

    __tablename__ = "series"
    __table_args__ = (*newest_first("ix_series_recent", date="date", tiebreak="id"),
                      Index("ix_series_sender_title", "sender_email", "title_key"),
                      Index("ix_series_change_id", "change_id"))

    id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    anchor_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), unique=True)
    cover_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    total: Mapped[int] = mapped_column(Integer, default=1)
    received: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=True)
    missing: Mapped[str] = mapped_column(String(255), default="")
    is_rfc: Mapped[bool] = mapped_column(Boolean, default=False)
    sender_email: Mapped[str] = mapped_column(String(320), default="", index=True)
    date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    change_id: Mapped[str] = mapped_column(String(255), default="")
    # The revisions of one work share it (listarchive.mail.series.title_key): how a regroup
    # finds a series' title family without reading all of its sender's series.
    title_key: Mapped[str] = mapped_column(String(16), default="")

    patches: Mapped[list[Patch]] = relationship(back_populates="series",
                                                foreign_keys=[Patch.series_id])


class PatchLink(Base):
    """A Message-ID that a patch mail points to as an earlier posting (``Patch.links``, one row
    each): which series point at a posting, without reading every patch's links."""

    __tablename__ = "patch_links"

    patch_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    target_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), primary_key=True, index=True)


class SeriesRevision(Base):
    """``older`` was superseded by ``newer`` (v1 -> v2), with how the link was found."""

    __tablename__ = "series_revisions"

    older_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"),
                                          primary_key=True)
    newer_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)
    reason: Mapped[str] = mapped_column(String(16))  # change-id | link | title


class Trailer(Base):
    """A trailer line (Reviewed-by: ...) given in ``message_id`` to the message ``target_msgid``
    it replies to, or to itself (``own``: the patch's own commit message).

    ``anchor_msgid`` is the patch, cover letter or pull request the trailer counts for: the
    nearest one up the reply chain from ``target_msgid`` (a ``Reviewed-by`` in a reply to a review
    of patch 3 counts for patch 3; one to the cover letter for the whole series), '' when the chain
    reaches none. Every count and facet reads it (:func:`listarchive.archive.derived.trailer_anchors`
    derives it, the ingest keeps it as threads change)."""

    __tablename__ = "trailers"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    target_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), index=True)
    anchor_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), default="", index=True)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    person_email: Mapped[str] = mapped_column(String(320), default="")
    own: Mapped[bool] = mapped_column(Boolean, default=False)
    mismatch: Mapped[bool] = mapped_column(Boolean, default=False)


class ReviewComment(Base):
    """A review comment placed on a line of a patch's diff: the ``rank``-th comment of the
    reply ``message_id`` on the patch ``patch_id`` (a reply to a reply included, as
    :mod:`listarchive.review.discussion` places them), with its text and the diff line it
    answers (``quoted``, with its marker). Kept by the ingest as replies and patches arrive in
    any order (:mod:`listarchive.review.placement`), so counts and the pages that show the
    comments read no reply's quoting again."""

    __tablename__ = "review_comments"
    __table_args__ = (Index("ix_review_comments_patch", "patch_id", "message_id", "rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patch_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    path: Mapped[str] = mapped_column(Text, default="")
    old_line: Mapped[int] = mapped_column(Integer, default=0)
    new_line: Mapped[int] = mapped_column(Integer, default=0)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    quoted: Mapped[str] = mapped_column(Text, default="")


class Subsystem(Base):
    """A MAINTAINERS section (imported data, not derived from mail)."""

    __tablename__ = "subsystems"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(64), default="")
    lists: Mapped[str] = mapped_column(Text, default="")  # one per line
    maintainers: Mapped[str] = mapped_column(Text, default="")
    reviewers: Mapped[str] = mapped_column(Text, default="")
    patterns: Mapped[str] = mapped_column(Text, default="")  # the section's field lines, verbatim


class PatchSubsystem(Base):
    __tablename__ = "patch_subsystems"
    __table_args__ = (Index("ix_patch_subsystems_subsystem", "subsystem_id", "patch_id"),)

    patch_id: Mapped[int] = mapped_column(ForeignKey("patches.id", ondelete="CASCADE"),
                                          primary_key=True)
    subsystem_id: Mapped[int] = mapped_column(ForeignKey("subsystems.id", ondelete="CASCADE"),
                                              primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, default=0)  # 0 = most specific


class SeriesSubsystem(Base):
    """A series touches a subsystem when one of its patches does (derived from the patch links
    by :func:`ingest.seriesstore.link_subsystems`): a subsystem's queue is one index range."""

    __tablename__ = "series_subsystems"
    __table_args__ = {"sqlite_with_rowid": False}

    subsystem_id: Mapped[int] = mapped_column(
        ForeignKey("subsystems.id", ondelete="CASCADE"), primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"),
                                           primary_key=True, index=True)


# --- Accounts and human decisions: NOT derived, ``reindex`` keeps them -------------------------
# Patch and series rows are deleted and re-inserted (same ids) by reindex and regrouping, so the
# tables below refer to them by id without a foreign key: a state must outlive its patch row.


class User(Base):
    """A maintainer or reviewer who can log in; reading the archive needs no account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), default="", index=True)  # lower-cased
    password_hash: Mapped[str] = mapped_column(Text, default="")  # argon2 PHC string; '' = none
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # person: a maintainer or reviewer; bot: a CI system, whose grants let it post checks only
    # (never change states, never log in).
    kind: Mapped[str] = mapped_column(String(8), default="person", server_default="person")
    created: Mapped[datetime] = mapped_column(DateTime)

    grants: Mapped[list[Grant]] = relationship(back_populates="user", cascade="all, delete-orphan")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user",
                                                  cascade="all, delete-orphan")


class Grant(Base):
    """The right to change states on one list or one subsystem (by name)."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("user_id", "scope_kind", "scope_name",
                                       name="uq_grants_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope_kind: Mapped[str] = mapped_column(String(16))  # list | subsystem
    scope_name: Mapped[str] = mapped_column(String(255))

    user: Mapped[User] = relationship(back_populates="grants")


class ApiToken(Base):
    """An API token: only its SHA-256 is kept; ``prefix`` (its first characters) finds the row."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[datetime] = mapped_column(DateTime)
    last_used: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginFailure(Base):
    """A failed login, counted per (name, address) within a time window to slow guessing."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_name_ip", "name", "ip", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


class PatchState(Base):
    """The decided state of a patch (message pk); no row means the default (new, or rfc).

    ``via``/``rule`` say who decided the current state: a person (web, api, cli) or a rule; rules
    never override a person."""

    __tablename__ = "patch_states"
    __table_args__ = (Index("ix_patch_states_state", "state"),)

    patch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(24), default="")  # '' = not decided
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                    nullable=True, index=True)
    via: Mapped[str] = mapped_column(String(8), default="")
    rule: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SeriesState(Base):
    """A series' state as last computed from its patches (kept for filtering in SQL), or as set
    for a series without patches (a lone cover letter), plus its archived flag and delegate."""

    __tablename__ = "series_states"
    __table_args__ = (Index("ix_series_states_state", "state"),)

    series_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(24), default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                    nullable=True, index=True)
    via: Mapped[str] = mapped_column(String(8), default="")
    rule: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class StateChange(Base):
    """One entry of a patch's or series' history: what changed, from what to what, who or which
    rule did it, on what evidence (a commit id, a reply's Message-ID, a newer series)."""

    __tablename__ = "state_changes"
    # Evidence is looked up whole (a reply's Message-ID: was its command recorded?); it may be
    # 4,000 characters, past what a PostgreSQL B-tree entry holds, so a hash index there.
    __table_args__ = (Index("ix_state_changes_object", "object_kind", "object_id", "at"),
                      Index("ix_state_changes_evidence", "evidence", postgresql_using="hash"))

    id: Mapped[int] = mapped_column(primary_key=True)
    object_kind: Mapped[str] = mapped_column(String(8))  # patch | series
    object_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(16), default="state")  # state | archived | delegate
    from_value: Mapped[str] = mapped_column(String(255), default="")
    to_value: Mapped[str] = mapped_column(String(255), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                nullable=True, index=True)
    via: Mapped[str] = mapped_column(String(8))  # web | api | cli | rule
    rule: Mapped[str] = mapped_column(String(32), default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


# --- Embargoes: restricted messages and their audit trail (NOT derived, ``reindex`` keeps them) -
# An embargo hides messages named by Message-ID (:class:`EmbargoMember`): the report, the thread
# when a person restricted it, and replies to those as they arrive.


class Embargo(Base):
    """The thread holding ``anchor_msgid`` is visible only to admins and the allowed entries
    until it is disclosed (``disclosed_at`` set by a person, or by ``until`` passing)."""

    __tablename__ = "embargoes"

    id: Mapped[int] = mapped_column(primary_key=True)
    anchor_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")  # cli | web | rule:security-tag | ...
    created_by: Mapped[str] = mapped_column(String(64), default="")  # user name, or '' for a rule
    created_at: Mapped[datetime] = mapped_column(DateTime)
    until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    disclosed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    disclosed_by: Mapped[str] = mapped_column(String(64), default="")

    allowed: Mapped[list[EmbargoAllow]] = relationship(back_populates="embargo",
                                                       cascade="all, delete-orphan")


class EmbargoMember(Base):
    """A message an embargo hides, by Message-ID: its anchor (``how`` = anchor), the messages
    of the thread when a person restricted it (thread), and every message that replies to a
    member, whenever it arrives (reply). Messages that were public stay public: a reply that
    also references a public thread (merging the two) joins the embargo, the public messages
    do not. ``reply`` rows are derived (``reindex`` rebuilds them); the others are decisions."""

    __tablename__ = "embargo_members"

    embargo_id: Mapped[int] = mapped_column(ForeignKey("embargoes.id", ondelete="CASCADE"),
                                            primary_key=True)
    msgid: Mapped[str] = mapped_column(String(MSGID_MAX), primary_key=True, index=True)
    how: Mapped[str] = mapped_column(String(8), default="reply")  # anchor | thread | reply


class EmbargoAllow(Base):
    """Who may read an embargoed thread besides admins: a user, a group or a list's grantees."""

    __tablename__ = "embargo_allows"
    __table_args__ = (UniqueConstraint("embargo_id", "kind", "name", name="uq_embargo_allow"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    embargo_id: Mapped[int] = mapped_column(ForeignKey("embargoes.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[str] = mapped_column(String(8))  # user | group | list
    name: Mapped[str] = mapped_column(String(255))

    embargo: Mapped[Embargo] = relationship(back_populates="allowed")


class Group(Base):
    """A named set of users (``security``, ``clk-maintainers``) that embargoes can allow."""

    __tablename__ = "user_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)

    members: Mapped[list[GroupMember]] = relationship(back_populates="group",
                                                      cascade="all, delete-orphan")


class GroupMember(Base):
    __tablename__ = "user_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("user_groups.id", ondelete="CASCADE"),
                                          primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)

    group: Mapped[Group] = relationship(back_populates="members")


class AuditEvent(Base):
    """Who did what to a restricted thread: viewed | restricted | disclosed | unpublished |
    allowed. ``actor`` is a user name, ``rule:...`` for ingest rules, ``expiry`` for dates."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(16))
    target_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), default="", index=True)
    embargo_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    detail: Mapped[str] = mapped_column(Text, default="")


# --- Automation: CI checks, notification mail, follows (NOT derived, ``reindex`` keeps them) ---


class Check(Base):
    """One result a CI system posted on a patch (Patchwork's checks): the newest per ``context``
    counts. ``patch_id`` has no foreign key, like the states: a check outlives its patch row."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_patch", "patch_id", "context", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patch_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                nullable=True)
    state: Mapped[str] = mapped_column(String(8))  # pending | success | warning | fail
    context: Mapped[str] = mapped_column(String(255))
    target_url: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime, index=True)


class OutboxMail(Base):
    """A notification mail waiting for (or past) the SMTP relay. ``key`` names what it is about
    and to whom, so the same notification is never queued twice; ``sent_at`` is set once the
    relay took it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try: Mapped[datetime] = mapped_column(DateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Follow(Base):
    """A signed-in reader follows a series, subsystem, list or saved search (``kind``) and gets
    its new revisions and state changes by mail."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("user_id", "kind", "target", name="uq_follows"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # series | subsystem | list | search
    target: Mapped[str] = mapped_column(String(500))
    created: Mapped[datetime] = mapped_column(DateTime)
