"""Notifications: one durable feed per person, shown in JupyterLab's notification centre.

A mention, a reply in a thread someone is in, a restore or checkout that replaces a notebook
someone has open, and a share to someone each become a row of the rooms service's
``mutirao_notifications`` table, addressed to one person. Every lab a person opens (their own
server or any room) reads the person's feed from this service with their own hub login
(``GET api/notifications``), shows the unread ones in the notification centre (the bell), and
marks them read when they are opened or dismissed (``POST api/notifications/read``). One
table in the hub-side service, rather than one per server, is what lets a mention made in a
room reach the person while they work in another server.

Room servers post their events (``POST api/notifications``) with the server's own JupyterHub
token. The service trusts a room's server as much as the room (it runs the members' code), and
delivers only to people who are members of that room; a person's own server may notify only
that person. Shares are written by the service itself when they are made.

Optional e-mail (:class:`Mailer`) goes through an SMTP server the admin configures.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import quote

from sqlalchemy import delete, func, select, update

from .db import Notification, utcnow
from .policy import PolicyError

log = logging.getLogger("mutirao.rooms")

#: What a server may post; ``share`` is written by the service alone.
SERVER_KINDS = ("mention", "reply", "restore", "checkout")
KINDS = (*SERVER_KINDS, "share")
MAX_RECIPIENTS = 100
MAX_PATH = 1024
MAX_EXCERPT = 280
#: Rows kept per person (the newest); older ones are dropped when new ones come.
KEEP_PER_PERSON = 200
#: Larger ids are refused before they reach the database (SQLite's integers are 64-bit).
MAX_ID = 1 << 62
#: The most a feed answers at once.
MAX_FEED = 50


def check_post(body: object) -> dict:
    """A server's event, checked: ``{"to": [user, ...], "kind": ..., "actor": user,
    "path": "dir/file.ipynb", "excerpt": "..."}``. Unknown fields are refused."""
    if not isinstance(body, dict):
        raise PolicyError(400, "The request body must be a JSON object.")
    unknown = sorted(set(body) - {"to", "kind", "actor", "path", "excerpt"})
    if unknown:
        raise PolicyError(400, f"Unknown fields: {', '.join(unknown)}.")
    to = body.get("to")
    if (
        not isinstance(to, list)
        or not to
        or len(to) > MAX_RECIPIENTS
        or not all(isinstance(u, str) and 0 < len(u) <= 255 for u in to)
    ):
        raise PolicyError(400, f"to must be a list of 1 to {MAX_RECIPIENTS} user names.")
    kind = body.get("kind")
    if kind not in SERVER_KINDS:
        raise PolicyError(400, f"kind must be one of {', '.join(SERVER_KINDS)}.")
    actor = body.get("actor", "")
    path = body.get("path", "")
    excerpt = body.get("excerpt", "")
    for key, value, limit in (("actor", actor, 255), ("path", path, MAX_PATH)):
        if not isinstance(value, str) or len(value) > limit:
            raise PolicyError(400, f"{key} must be a string of at most {limit} characters.")
    if not isinstance(excerpt, str):
        raise PolicyError(400, "excerpt must be a string.")
    return {
        "to": list(dict.fromkeys(to)),
        "kind": kind,
        "actor": actor,
        "path": path.strip("/"),
        "excerpt": shorten(excerpt),
    }


def shorten(text: str, limit: int = MAX_EXCERPT) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def message(kind: str, actor_name: str, place: str, path: str) -> str:
    """The sentence a notice shows: "Bruno Lima mentioned you in analysis.ipynb (ML research)"."""
    who = actor_name or "Someone"
    name = path.rsplit("/", 1)[-1] if path else ""
    where = f" ({place})" if place else ""
    if kind == "mention":
        return f"{who} mentioned you in {name or 'a comment'}{where}"
    if kind == "reply":
        return f"{who} replied to a thread you are in, on {name or 'a notebook'}{where}"
    if kind == "restore":
        return f"{who} restored {name or 'a notebook'} you have open to an earlier version{where}"
    if kind == "checkout":
        return f"{who} switched branches: {name or 'a notebook'} you have open changed{where}"
    if kind == "share":
        return f"{who} shared {place or 'a room'} with you"
    return f"{who}: {name}{where}"


def lab_url(base_url: str, server_user: str, path: str = "") -> str:
    """Where a notice leads: the lab of ``server_user``, at ``path`` when there is one."""
    url = f"{base_url}user/{quote(server_user, safe='')}/lab"
    if path:
        url += "/tree/" + quote(path)
    return url


@dataclass
class Notice:
    """One notice before it is stored: the same for each of its recipients."""

    kind: str
    actor: str = ""
    actor_name: str = ""
    place: str = ""
    path: str = ""
    excerpt: str = ""
    url: str = ""
    emails: dict[str, str] = field(default_factory=dict)


def to_json(row: Notification) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "actor": row.actor,
        "actor_name": row.actor_name or row.actor,
        "place": row.place,
        "path": row.path,
        "excerpt": row.excerpt,
        "url": row.url,
        "message": message(row.kind, row.actor_name or row.actor, row.place, row.path),
        "created_at": row.created_at.isoformat(timespec="milliseconds") + "Z",
        "read": row.read_at is not None,
    }


class Notifications:
    """The feeds, in the service's database (the session is the rooms manager's)."""

    def __init__(self, db, mailer: Mailer | None = None):
        self.db = db
        self.mailer = mailer

    def add(self, users: Iterable[str], notice: Notice) -> list[Notification]:
        rows = [
            Notification(
                user=user,
                kind=notice.kind,
                actor=notice.actor,
                actor_name=notice.actor_name,
                place=notice.place,
                path=notice.path,
                excerpt=notice.excerpt,
                url=notice.url,
            )
            for user in dict.fromkeys(users)
        ]
        if not rows:
            return []
        self.db.add_all(rows)
        self.db.commit()
        for row in rows:
            self._trim(row.user)
        if self.mailer is not None and self.mailer.wants(notice.kind):
            for row in rows:
                address = notice.emails.get(row.user)
                if address:
                    self.mailer.send_later(address, notice, to_json(row))
        return rows

    def _trim(self, user: str) -> None:
        ids = self.db.scalars(
            select(Notification.id)
            .where(Notification.user == user)
            .order_by(Notification.id.desc())
            .offset(KEEP_PER_PERSON)
        ).all()
        if ids:
            self.db.execute(delete(Notification).where(Notification.id.in_(ids)))
            self.db.commit()

    def feed(self, user: str, unread_only: bool, after: int = 0) -> dict:
        query = select(Notification).where(Notification.user == user, Notification.id > after)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        rows = self.db.scalars(query.order_by(Notification.id.desc()).limit(MAX_FEED)).all()
        unread = self.db.scalar(
            select(func.count(Notification.id)).where(
                Notification.user == user, Notification.read_at.is_(None)
            )
        )
        return {"unread": unread or 0, "notifications": [to_json(r) for r in rows]}

    def mark_read(self, user: str, ids: list[int] | None) -> int:
        """Mark the person's notices read (``ids``, or all when ``None``); answer how many."""
        query = update(Notification).where(
            Notification.user == user, Notification.read_at.is_(None)
        )
        if ids is not None:
            query = query.where(Notification.id.in_(ids))
        result = self.db.execute(query.values(read_at=utcnow()))
        self.db.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def check_read(body: object) -> list[int] | None:
    """``{"ids": [1, 2]}`` marks those, ``{}`` marks every notice read."""
    if not isinstance(body, dict) or set(body) - {"ids"}:
        raise PolicyError(400, 'The body must be {"ids": [...]} or {}.')
    ids = body.get("ids")
    if ids is None:
        return None
    if (
        not isinstance(ids, list)
        or len(ids) > 1000
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < MAX_ID for i in ids)
    ):
        raise PolicyError(400, "ids must be a list of notification ids.")
    return ids


# -- e-mail ------------------------------------------------------------------------------------


@dataclass
class SMTPSettings:
    """Where e-mail goes (see the ``smtp_*`` options of :class:`.app.RoomsService`)."""

    host: str = ""
    port: int = 587
    sender: str = ""
    security: str = "starttls"  # "starttls", "ssl" or "none"
    username: str = ""
    password: str = ""
    kinds: frozenset = frozenset({"mention", "share"})
    timeout: float = 20.0


class Mailer:
    """Sends notices by e-mail, each in a worker thread (SMTP is slow, the event loop is not)."""

    def __init__(self, settings: SMTPSettings, hub_url: str = ""):
        self.settings = settings
        self.hub_url = hub_url.rstrip("/")
        self._sending: set[asyncio.Future] = set()

    def wants(self, kind: str) -> bool:
        return bool(self.settings.host) and kind in self.settings.kinds

    def compose(self, address: str, notice: Notice, model: Mapping) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = address
        mail["Subject"] = model["message"]
        lines = [model["message"] + "."]
        if notice.excerpt:
            lines += ["", f"    {notice.excerpt}"]
        if notice.url:
            lines += ["", f"Open it: {self.hub_url}{notice.url}"]
        lines += ["", "-- ", "Mutirão: you get this because someone addressed you."]
        mail.set_content("\n".join(lines))
        return mail

    def send(self, mail: EmailMessage) -> None:
        """Send one message now (blocking: call it in a thread)."""
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with smtp:
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password)
            smtp.send_message(mail)

    def send_later(self, address: str, notice: Notice, model: Mapping) -> None:
        mail = self.compose(address, notice, model)

        async def run() -> None:
            try:
                await asyncio.to_thread(self.send, mail)
            except (OSError, smtplib.SMTPException) as e:
                log.warning("Could not e-mail a %s notice to %s: %s", notice.kind, address, e)

        task = asyncio.ensure_future(run())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def drain(self) -> None:
        """Wait for the messages being sent (at shutdown)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


# -- who gets what -----------------------------------------------------------------------------


async def _identity(manager, name: str) -> tuple[dict | None, str, str]:
    """``(hub model, display name, e-mail)`` of a person; ``None`` model for nobody."""
    if not name:
        return None, "", ""
    model = await manager.hub.get_user(name)
    info = (model or {}).get("user_info") or {}
    display = info.get("display_name")
    email = info.get("email")
    return (
        model,
        display if isinstance(display, str) and display else name,
        email if isinstance(email, str) else "",
    )


async def server_event(manager, feed: Notifications, poster: str, body: Mapping) -> list[str]:
    """Store a server's event for those of its recipients it may address; answer who got it.

    A room's server (its hub user) addresses the room's members; anyone else's server only
    its owner. Others are left out silently (the server cannot know who left the room a
    second ago), so the answer lists who was notified.
    """
    prefix = manager.settings.prefix
    room = manager.find(poster[len(prefix) :]) if poster.startswith(prefix) else None
    if poster.startswith(prefix) and room is None:
        raise PolicyError(403, "Only a room's server or a person's own server may notify.")
    _, actor_name, _ = await _identity(manager, body["actor"])
    notice = Notice(
        kind=body["kind"],
        actor=body["actor"],
        actor_name=actor_name,
        place=(room.display_name or room.name) if room is not None else "",
        path=body["path"],
        excerpt=body["excerpt"],
        url=lab_url(manager.settings.base_url, poster, body["path"]),
    )
    recipients = []
    for user in body["to"]:
        if room is None and user != poster:
            continue
        model, _, email = await _identity(manager, user)
        if model is None:
            continue
        if room is not None and (await manager.actor(model, room)).role is None:
            continue
        recipients.append(user)
        if email:
            notice.emails[user] = email
    feed.add(recipients, notice)
    return recipients


async def share_event(
    manager, feed: Notifications, sharer: Mapping, room_name: str, share: Mapping
) -> list[str]:
    """Tell the people a share reaches (a person, or a team's members) that they have it."""
    room = manager.find(room_name)
    if room is None:
        return []
    if share.get("kind") not in ("user", "group"):
        return []  # an invitation by e-mail: nobody to address until they sign in
    if share.get("kind") == "group":
        group = await manager.hub.get_group(share["name"]) or {}
        users = [u for u in group.get("users") or [] if isinstance(u, str)]
    else:
        users = [share["name"]]
    users = [u for u in users if u != sharer["name"]]
    _, actor_name, _ = await _identity(manager, sharer["name"])
    notice = Notice(
        kind="share",
        actor=sharer["name"],
        actor_name=actor_name,
        place=room.display_name or room.name,
        excerpt=f"as {share.get('role', 'member')}",
        url=lab_url(manager.settings.base_url, manager.room_user(room)),
    )
    for user in users:
        _, _, email = await _identity(manager, user)
        if email:
            notice.emails[user] = email
    # a share waiting for someone who never signed in reaches them at their first visit
    feed.add(users, notice)
    return users
