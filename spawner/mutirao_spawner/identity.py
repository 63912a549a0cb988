"""The hub identity: a random id made once per hub database and kept in it.

Servers carry it (the ``org.mutirao.hub`` container label, the ``MUTIRAO_HUB_ID`` process
environment variable), so that a hub never takes another hub's servers for its own when two
hubs share a Docker host or a machine. It lives in the hub's database (the table
``mutirao_hub_identity``, one row), so it survives restarts and moves with the database, and two
hubs with databases of their own differ even when their ``db_url`` reads the same (JupyterHub's
default ``sqlite:///jupyterhub.sqlite`` is relative to each hub's folder).

Before version 0.2 the identity was a hash of ``db_url``. A database that already had servers
when its identity was made keeps that old id as an alias: servers labelled with it are still
this hub's (see docs/admin/gpus.md, "Hub identity").
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import Column, MetaData, Table, Unicode, insert, select

__all__ = ["hub_aliases", "hub_identity", "legacy_identity", "stored_identity"]

TABLE = Table(
    "mutirao_hub_identity",
    MetaData(),
    Column("id", Unicode(64), primary_key=True),
    # the pre-0.2 identity (a hash of db_url), kept when the database already had servers
    Column("legacy_id", Unicode(64), nullable=True),
)

_cached: tuple[str, frozenset[str]] | None = None


def legacy_identity(db_url: str) -> str:
    """The identity before 0.2: a hash of the database URL."""
    return hashlib.sha256(db_url.encode()).hexdigest()[:16]


def stored_identity(session: Any, db_url: str) -> tuple[str, frozenset[str]]:
    """``(id, aliases)`` from the hub database behind ``session`` (a SQLAlchemy session, the
    hub's own), made on first use: a random id and, when the database already has servers, the
    legacy id as an alias."""
    # through the session's own connection: a second connection would wait for the session's
    # open transaction to end (SQLite's lock), holding the hub's event loop meanwhile
    TABLE.create(session.connection(), checkfirst=True)
    row = session.execute(select(TABLE.c.id, TABLE.c.legacy_id)).first()
    if row is None:
        from jupyterhub import orm

        upgraded = session.query(orm.Server).first() is not None
        row = (secrets.token_hex(8), legacy_identity(db_url) if upgraded else None)
        session.execute(insert(TABLE).values(id=row[0], legacy_id=row[1]))
        session.commit()
    return row[0], frozenset(a for a in (row[1],) if a)


def _current() -> tuple[str, frozenset[str]]:
    global _cached
    if _cached is not None:
        return _cached
    try:
        from jupyterhub.app import JupyterHub
    except ImportError:  # pragma: no cover
        return "", frozenset()
    if not JupyterHub.initialized():
        return "", frozenset()
    hub = JupyterHub.instance()
    session = getattr(hub, "db", None)
    if session is None:  # the hub has not opened its database yet
        return "", frozenset()
    _cached = stored_identity(session, str(hub.db_url or ""))
    return _cached


def hub_identity() -> str:
    """This hub's id (16 hex digits), the same across its restarts; ``""`` outside a hub.
    Read from the database once per process."""
    return _current()[0]


def hub_aliases() -> frozenset[str]:
    """Older ids whose servers are this hub's too (the pre-0.2 identity after an upgrade)."""
    return _current()[1]
