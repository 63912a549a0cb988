"""Telling people what happened to them: the server's side of notifications.

A mention, a reply in a thread someone is in, and a restore or checkout that replaces a
notebook someone has open are posted to the hub-side rooms service's feed
(``POST <rooms service>/api/notifications``, see ``mutirao_hub.rooms.notifications``), with
the server's own JupyterHub token. Each of the person's labs reads that feed and shows it in
JupyterLab's notification centre, whichever server they have open.

Who is told is decided here, in pure functions; posting happens in the background, so that a
comment or a restore never waits for (or fails because of) the service. Outside JupyterHub,
or when the rooms service is not configured, nothing is posted.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

#: Tries of one post, and the first wait between two (doubled each time).
TRIES = 4
FIRST_WAIT_S = 0.5


def comment_recipients(
    author: str, mentions: Iterable[str], participants: Iterable[str], before: Iterable[str] = ()
) -> dict[str, str]:
    """Who hears about a comment, and as what: ``{user: "mention" | "reply"}``.

    The people it mentions (``before``: those its earlier text already mentioned, for an
    edit) hear of a mention; everyone else who wrote in the thread (``participants``; empty
    for a new thread or an edit) of a reply. Nobody hears of their own comment.
    """
    told: dict[str, str] = {}
    old = set(before)
    for user in mentions:
        if user != author and user not in old:
            told[user] = "mention"
    for user in participants:
        if user != author and user not in told and user not in old:
            told[user] = "reply"
    return told


class Notifier:
    """Posts events to the rooms service's notification feed."""

    def __init__(self, url: str, token: str, log: Any) -> None:
        self.url = url
        self.token = token
        self.log = log
        self._posting: set[asyncio.Task[None]] = set()

    @classmethod
    def from_env(cls, log: Any, url: str = "") -> Notifier | None:
        """The notifier of a server started by JupyterHub with the rooms service
        (``rooms_service_config`` sets ``MUTIRAO_ROOMS_URL``); ``None`` elsewhere."""
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not url:
            base = os.environ.get("MUTIRAO_ROOMS_URL", "").rstrip("/")
            name = os.environ.get("MUTIRAO_ROOMS_SERVICE", "mutirao-rooms")
            hub_base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
            if base:
                url = f"{base}{hub_base}services/{name}/api/notifications"
        if not (url and token):
            return None
        return cls(url, token, log)

    def send(self, to: Iterable[str], kind: str, actor: str, path: str, excerpt: str = "") -> None:
        """Post one event in the background; nobody (after leaving out ``actor``) is a no-op."""
        people = [u for u in dict.fromkeys(to) if u and u != actor]
        if not people:
            return
        body = {"to": people, "kind": kind, "actor": actor, "path": path, "excerpt": excerpt}
        task = asyncio.ensure_future(self._post(body))
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    async def _post(self, body: dict) -> None:
        request = HTTPRequest(
            self.url,
            method="POST",
            body=json.dumps(body),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            request_timeout=20,
        )
        wait = FIRST_WAIT_S
        for attempt in range(TRIES):
            try:
                await AsyncHTTPClient().fetch(request)
                return
            except HTTPClientError as e:
                if e.code < 500 and e.code != 429:
                    self.log.warning("Mutirão: the rooms service refused a notification: %s", e)
                    return
                error: Exception = e
            except OSError as e:
                error = e
            if attempt + 1 < TRIES:
                await asyncio.sleep(wait)
                wait *= 2
        self.log.warning("Mutirão: could not post a %s notification: %s", body["kind"], error)

    async def drain(self) -> None:
        """Wait for the posts in flight (tests, and a clean stop)."""
        if self._posting:
            await asyncio.gather(*self._posting, return_exceptions=True)
