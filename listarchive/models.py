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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship

# Message-IDs longer than this are replaced by a derived one (see ingest.message.normalize_msgid);
# it keeps unique indexes within PostgreSQL's btree limits and hostile input bounded.
MSGID_MAX = 500


class Base(DeclarativeBase):
    pass


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
    """A connected component of the References graph (ghosts included), see ingest.threads."""

    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    root_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    first_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)

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
    """Per-list view of a thread, kept for the list index (newest activity first)."""

    __tablename__ = "thread_lists"
    __table_args__ = (Index("ix_thread_lists_list_last", "list_id", "last_date"),)

    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id"), primary_key=True)
    last_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)

    thread: Mapped[Thread] = relationship(back_populates="lists")


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
    """A patch, cover letter or pull request found in a message; its id is the message's id, so
    URLs survive ``reindex``."""

    __tablename__ = "patches"
    __table_args__ = (Index("ix_patches_sender_kind", "sender_email", "kind"),)

    id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(MSGID_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # patch | cover | pull
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
    change_id: Mapped[str] = mapped_column(String(255), default="")
    links: Mapped[str] = mapped_column(Text, default="")  # msgids the body points to, one per line
    flags: Mapped[str] = mapped_column(String(255), default="")

    series: Mapped[Series | None] = relationship(back_populates="patches",
                                                 foreign_keys=[series_id])


class Series(Base):
    """Patches sent together (cover + 1..N). Its id is the anchor message's id: the cover letter,
    else the lowest-numbered patch."""

    __tablename__ = "series"

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
    date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    change_id: Mapped[str] = mapped_column(String(255), default="")

    patches: Mapped[list[Patch]] = relationship(back_populates="series",
                                                foreign_keys=[Patch.series_id])


class SeriesRevision(Base):
    """``older`` was superseded by ``newer`` (v1 -> v2), with how the link was found."""

    __tablename__ = "series_revisions"

    older_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"),
                                          primary_key=True)
    newer_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)
    reason: Mapped[str] = mapped_column(String(16))  # change-id | link | title


class Trailer(Base):
    """A trailer line (Reviewed-by: ...) given in ``message_id`` to the message ``target_msgid``:
    the patch or cover it replies to, or itself (``own``: the patch's own commit message)."""

    __tablename__ = "trailers"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    target_msgid: Mapped[str] = mapped_column(String(MSGID_MAX), index=True)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    person_email: Mapped[str] = mapped_column(String(320), default="")
    own: Mapped[bool] = mapped_column(Boolean, default=False)
    mismatch: Mapped[bool] = mapped_column(Boolean, default=False)


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
