"""The rooms service's own tables: each room's policy, apart from what the hub already keeps.

Who may reach a room's server lives in the hub's database (its shares); this database keeps
what the hub has no column for: the owning teams and their roles, the profile, who may share,
whether the room is archived (and, while it is, the shares to give back when it is not).
The URL defaults to SQLite in the service's state folder and accepts any SQLAlchemy URL
(``postgresql://...``), like ``JupyterHub.db_url``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Room(Base):
    """One room: a hub user (``room-<name>``) and its policy."""

    __tablename__ = "mutirao_rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    profile: Mapped[str] = mapped_column(String(255), default="")
    #: the lowest room role that may share the room
    share_role: Mapped[str] = mapped_column(String(32), default="owner")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    #: JSON list of the shares revoked at archive time, re-granted when unarchived
    archived_shares: Mapped[str] = mapped_column(Text, default="[]")
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    teams: Mapped[list[RoomTeam]] = relationship(
        back_populates="room", cascade="all, delete-orphan", lazy="selectin"
    )
    people: Mapped[list[RoomPerson]] = relationship(
        back_populates="room", cascade="all, delete-orphan", lazy="selectin"
    )
    pending: Mapped[list[PendingShare]] = relationship(
        back_populates="room", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def team_roles(self) -> dict[str, str]:
        return {t.team: t.role for t in sorted(self.teams, key=lambda t: t.team)}

    @property
    def saved_shares(self) -> list[dict]:
        return json.loads(self.archived_shares or "[]")


class RoomTeam(Base):
    """An owning team of a room and the room role its members have."""

    __tablename__ = "mutirao_room_teams"
    __table_args__ = (UniqueConstraint("room_id", "team"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("mutirao_rooms.id", ondelete="CASCADE"))
    team: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)

    room: Mapped[Room] = relationship(back_populates="teams")


class RoomPerson(Base):
    """Why a person has a share of a room's server: their own share, their teams, or both.

    JupyterHub 6 leaves the scopes of team (group) shares out of people's tokens, so a room's
    server would refuse team members. The service therefore also gives each member of a
    sharing team a share of their own, and keeps it in step with the team's membership;
    this row remembers which part of that share is the team's (``team_role``) and which is
    the person's own (``direct_role``), so leaving the team takes away only the team's part.
    """

    __tablename__ = "mutirao_room_people"
    __table_args__ = (UniqueConstraint("room_id", "user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("mutirao_rooms.id", ondelete="CASCADE"))
    user: Mapped[str] = mapped_column(String(255), nullable=False)
    team_role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    direct_role: Mapped[str | None] = mapped_column(String(32), nullable=True)

    room: Mapped[Room] = relationship(back_populates="people")


class PendingShare(Base):
    """A share waiting for someone the hub does not know yet (see the admin guide).

    Sharing with a user name the hub has no user for, an e-mail address, or a team that has
    no hub group yet stores the share here; the rooms service grants it on the hub once the
    person (or the team's first member) has signed in, and deletes the row. ``kind`` is
    ``user``, ``email`` (``target`` lower-cased) or ``team``.
    """

    __tablename__ = "mutirao_pending_shares"
    __table_args__ = (UniqueConstraint("room_id", "kind", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("mutirao_rooms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    target: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    invited_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    room: Mapped[Room] = relationship(back_populates="pending")


class RoomLink(Base):
    """Who made a share link, so the page that accepts it can say who invites.

    The hub keeps the link itself (a share code); this row keeps what the hub has no column
    for. ``code_hash`` is the SHA-256 of the code (the secret is not stored): the hub's
    accept page looks the row up by the code in its URL (:mod:`.linkpage`).
    """

    __tablename__ = "mutirao_room_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("mutirao_rooms.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    link_id: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_by_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    room: Mapped[Room] = relationship()


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class Notification(Base):
    """One notice for one person: a mention, a reply, a share, a restore (see
    :mod:`.notifications`). Kept until read and for a while after, per person."""

    __tablename__ = "mutirao_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    #: who did it: their user name and the name they are shown by
    actor: Mapped[str] = mapped_column(String(255), default="")
    actor_name: Mapped[str] = mapped_column(String(255), default="")
    #: where: the room's display name, or empty for the person's own server
    place: Mapped[str] = mapped_column(String(255), default="")
    path: Mapped[str] = mapped_column(Text, default="")
    excerpt: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


def make_session_factory(url: str) -> sessionmaker[Session]:
    """Create the tables if needed and return a session factory for ``url``."""
    kwargs: dict = {}
    if url.startswith("sqlite"):
        # tornado runs every request on one thread, but be explicit for tools that do not
        kwargs["connect_args"] = {"check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_connection, _record):
            # SQLite ignores ON DELETE CASCADE unless asked
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

    Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)
