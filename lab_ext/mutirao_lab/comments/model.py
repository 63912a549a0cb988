"""Comments as data, and the decisions about them: who may do what, whom a body mentions, which
threads are outdated. Pure and synchronous; the store and the handlers only move data in and out.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tornado.web import HTTPError

#: Room roles, lowest first (ARCHITECTURE.md: room role).
ROLES: tuple[str, ...] = ("viewer", "commenter", "editor", "owner")

#: What a request can do to comments. ``resolve`` covers both resolving and reopening a thread.
ACTIONS: tuple[str, ...] = ("read", "write", "edit", "delete", "resolve", "export_copy")

#: Bodies longer than this, in bytes of UTF-8, are refused with HTTP 413. 64 KiB is far more than
#: any review comment needs, and keeps one thread's JSON small enough to push to a room live.
MAX_BODY_BYTES = 64 * 1024


class CommentError(HTTPError):
    """A request that cannot be carried out: an HTTP status and a message for the client.

    A tornado ``HTTPError``, so that a handler answers it as JSON ``{"message": ...}``; the
    decisions raising it stay free of IO.
    """

    def __init__(self, status: int, message: str):
        super().__init__(status, message.replace("%", "%%"))
        self.status = status
        self.message = message


def role_rank(role: str | None) -> int:
    """The role's position in :data:`ROLES`, or -1 for no role (not a member)."""
    return ROLES.index(role) if role in ROLES else -1


def can(role: str | None, action: str, is_author: bool = False) -> bool:
    """Whether a member with ``role`` may do ``action`` on a comment or thread.

    ``is_author`` says whether the member wrote the comment (for ``edit`` and ``delete``) or
    started the thread (for ``resolve``). Viewers read; commenters also write, edit and delete
    their own comments and resolve or reopen their own threads; editors and owners moderate:
    they edit, delete, resolve and reopen anyone's, and may write a commented copy of a notebook
    (which creates a file). No role (not a member) may do nothing.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    rank = role_rank(role)
    if rank < 0:
        return False
    if action == "read":
        return True
    if rank >= role_rank("editor"):
        return True
    if rank == role_rank("commenter"):
        return action == "write" or (action in ("edit", "delete", "resolve") and is_author)
    return False


# -- data -----------------------------------------------------------------------------------


@dataclass
class Author:
    """Who wrote a comment, as the server's identity provider described them at the time."""

    username: str
    display_name: str = ""
    initials: str | None = None
    color: str | None = None
    avatar_url: str | None = None

    @classmethod
    def from_user(cls, user: Any) -> Author:
        """From a ``jupyter_server.auth.User`` (or anything with the same attributes)."""
        return cls(
            username=user.username,
            display_name=getattr(user, "display_name", "") or user.username,
            initials=getattr(user, "initials", None),
            color=getattr(user, "color", None),
            avatar_url=getattr(user, "avatar_url", None),
        )


@dataclass
class Anchor:
    """Where a thread is: a cell of a file, optionally one of its outputs or a range of its source.

    ``text_range`` is ``(start, end)`` in characters of the cell's source, ``start <= end``.
    """

    file_id: str
    cell_id: str
    output_index: int | None = None
    text_range: tuple[int, int] | None = None


@dataclass
class Comment:
    id: str
    thread_id: str
    author: Author
    body: str
    created_at: str
    edited_at: str | None = None
    mentions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Thread:
    """A thread: its anchor, its state, and its comments oldest first (the first one opened it)."""

    id: str
    anchor: Anchor
    created_at: str
    author: Author
    resolved: bool = False
    resolved_by: Author | None = None
    resolved_at: str | None = None
    outdated: bool = False
    #: the anchored cell's source when the server last saw the cell; shown once it is deleted
    last_source: str | None = None
    comments: list[Comment] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        anchor = self.anchor
        return {
            "id": self.id,
            "file_id": anchor.file_id,
            "cell_id": anchor.cell_id,
            "output_index": anchor.output_index,
            "text_range": (
                None
                if anchor.text_range is None
                else {"start": anchor.text_range[0], "end": anchor.text_range[1]}
            ),
            "created_at": self.created_at,
            "author": asdict(self.author),
            "resolved": self.resolved,
            "resolved_by": None if self.resolved_by is None else asdict(self.resolved_by),
            "resolved_at": self.resolved_at,
            "outdated": self.outdated,
            "last_source": self.last_source,
            "comments": [c.to_json() for c in self.comments],
        }


# -- input checks -----------------------------------------------------------------------------


def check_body(body: Any) -> str:
    """The comment body, or a :class:`CommentError`: 400 if it is not a non-empty string, 413 if
    it is over :data:`MAX_BODY_BYTES`. HTML is kept as written; clients render bodies sanitised."""
    if not isinstance(body, str):
        raise CommentError(400, "`body` must be a string")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise CommentError(413, f"`body` is longer than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise CommentError(400, "`body` is empty")
    return body


def parse_anchor_options(
    output_index: Any, text_range: Any
) -> tuple[int | None, tuple[int, int] | None]:
    """Check the optional parts of an anchor as sent by a client (400 when malformed)."""
    if output_index is not None and (
        isinstance(output_index, bool) or not isinstance(output_index, int) or output_index < 0
    ):
        raise CommentError(400, "`output_index` must be a non-negative integer")
    rng: tuple[int, int] | None = None
    if text_range is not None:
        if output_index is not None:
            raise CommentError(400, "give `output_index` or `text_range`, not both")
        if not isinstance(text_range, Mapping):
            raise CommentError(400, "`text_range` must be an object {start, end}")
        start, end = text_range.get("start"), text_range.get("end")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise CommentError(400, "`text_range.start` and `.end` must be integers")
        if not 0 <= start <= end:  # type: ignore[operator]
            raise CommentError(400, "`text_range` must have 0 <= start <= end")
        rng = (start, end)  # type: ignore[assignment]
    return output_index, rng


def check_anchor_in_cell(
    cell: Mapping[str, Any], output_index: int | None, text_range: tuple[int, int] | None
) -> None:
    """A new thread may point only at an output or a range that the cell has now."""
    if output_index is not None and output_index >= len(cell.get("outputs") or ()):
        raise CommentError(404, f"cell {cell.get('id')} has no output {output_index}")
    if text_range is not None and text_range[1] > len(cell_source(cell)):
        raise CommentError(400, "`text_range` goes past the end of the cell's source")


def cell_source(cell: Mapping[str, Any]) -> str:
    """A notebook cell's source as one string (nbformat allows a list of lines on disk)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# -- mentions ---------------------------------------------------------------------------------

# Code is quoted, not addressed: `@alice` in a code span or block mentions nobody.
_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`", re.DOTALL)
# characters a username can hold after the first one (JupyterHub allows e-mail-like names)
_NAME_CHAR = re.compile(r"[\w.\-+@]")


def parse_mentions(body: str, members: Iterable[str]) -> list[str]:
    """The members that ``body`` mentions with ``@username``, in order of first mention.

    Matching is case-insensitive and returns the member's own spelling. The longest member
    name wins (``@ana.maria`` is ana.maria, not ana), a mention must not continue into more
    name characters (``@anatole`` is not ana), and it must not follow a word character
    (``ana@example.org`` mentions nobody). Mentions inside Markdown code are ignored.
    """
    by_lower: dict[str, str] = {}
    for name in members:
        by_lower.setdefault(name.lower(), name)
    if not by_lower:
        return []
    names = sorted(by_lower, key=len, reverse=True)
    text = _CODE.sub(lambda m: " " * len(m.group(0)), body)
    lowered = text.lower()
    found: list[str] = []
    for i, ch in enumerate(text):
        if ch != "@" or (i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_@")):
            continue
        for name in names:
            end = i + 1 + len(name)
            if lowered.startswith(name, i + 1) and not (
                end < len(text) and _NAME_CHAR.match(text[end]) and not _ends_sentence(text, end)
            ):
                if by_lower[name] not in found:
                    found.append(by_lower[name])
                break
    return found


def _ends_sentence(text: str, i: int) -> bool:
    # "thanks @ana." or "@ana-" at the end: punctuation followed by nothing name-like
    return text[i] in ".-+@" and (i + 1 == len(text) or not _NAME_CHAR.match(text[i + 1]))


# -- outdated threads -------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorState:
    """What reconciliation needs to know about one thread."""

    thread_id: str
    cell_id: str
    outdated: bool
    last_source: str | None
    text_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class AnchorChange:
    thread_id: str
    outdated: bool
    last_source: str | None
    text_range: tuple[int, int] | None = None


def reconcile(
    threads: Iterable[AnchorState], cells: Sequence[Mapping[str, Any]]
) -> list[AnchorChange]:
    """Compare a file's threads with the notebook's current cells.

    A thread whose cell is gone becomes outdated and keeps the source last seen; one whose cell
    is back (undo, or a restored version) is current again; a current thread's last source
    follows the cell's edits, so it is fresh when the cell goes, and so does its text range
    (:func:`follow_range`). Only changes are returned.
    """
    sources = {c["id"]: cell_source(c) for c in cells if isinstance(c.get("id"), str)}
    changes = []
    for t in threads:
        if t.cell_id in sources:
            source = sources[t.cell_id]
            if t.outdated or t.last_source != source:
                text_range = t.text_range
                if text_range is not None and t.last_source is not None and not t.outdated:
                    text_range = follow_range(t.last_source, source, text_range)
                changes.append(AnchorChange(t.thread_id, False, source, text_range))
        elif not t.outdated:
            changes.append(AnchorChange(t.thread_id, True, t.last_source, t.text_range))
    return changes


def follow_range(before: str, after: str, text_range: tuple[int, int]) -> tuple[int, int]:
    """Where a text range of ``before`` (a cell's source) is in ``after``, the same cell edited.

    Text inserted or deleted elsewhere moves the range; text typed inside it (or just at its
    end, or at its start) is outside the range's ends, as an editor keeps a marked range.
    When the edit replaced the range's characters, the range covers what replaced them;
    when it deleted them, the range is empty where they were. Offsets are in characters
    (code points), like the anchor's.

    The time is linear in the cell's size, bar a bounded part (see :func:`edit_opcodes`).
    """
    start, end = (min(max(0, p), len(before)) for p in text_range)
    ops = edit_opcodes(before, after)
    new_start = len(after)
    for tag, i1, i2, j1, _ in ops:
        if i1 <= start < i2:  # the range's first character is in this block
            new_start = j1 + (start - i1) if tag == "equal" else j1
            break
    new_end = 0
    for tag, i1, i2, j1, j2 in ops:
        if i1 < end <= i2:  # the range's last character is in this block
            new_end = j1 + (end - i1) if tag == "equal" else j2
            break
    if end <= start:  # an empty range stays empty, where its start went
        return new_start, new_start
    return new_start, max(new_start, new_end)


#: Edited stretches up to this many characters (on both sides) are compared character by
#: character; longer ones line by line first. A character comparison costs up to the product
#: of the two lengths, and more on repetitive text: 300 characters stay near 10 ms at worst.
CHAR_DIFF_LIMIT = 300

Opcode = tuple[str, int, int, int, int]


def edit_opcodes(a: str, b: str) -> list[Opcode]:
    """``difflib``-style opcodes turning ``a`` into ``b``, in time linear in their lengths
    bar a bounded part.

    The common start and end are cut off first (one edit between two saves, the usual case,
    leaves only what was typed). What remains is compared character by character when it is
    short (:data:`CHAR_DIFF_LIMIT`), else line by line, and then character by character
    inside each changed stretch of lines that is short; a long stretch of changed lines stays
    one replacement.
    """
    n, m = len(a), len(b)
    p = _common_prefix(a, b)
    s = _common_prefix(a[p:][::-1], b[p:][::-1])
    ops: list[Opcode] = []
    if p:
        ops.append(("equal", 0, p, 0, p))
    ops.extend(_middle_opcodes(a[p : n - s], b[p : m - s], p, p))
    if s:
        ops.append(("equal", n - s, n, m - s, m))
    return ops


def _common_prefix(a: str, b: str) -> int:
    """Length of the common start of ``a`` and ``b``, by bisection over slice comparisons
    (done in C) rather than a loop over characters."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _middle_opcodes(a: str, b: str, i0: int, j0: int) -> list[Opcode]:
    if not a and not b:
        return []
    if not a:
        return [("insert", i0, i0, j0, j0 + len(b))]
    if not b:
        return [("delete", i0, i0 + len(a), j0, j0)]
    if len(a) <= CHAR_DIFF_LIMIT and len(b) <= CHAR_DIFF_LIMIT:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        return [
            (t, i0 + i1, i0 + i2, j0 + j1, j0 + j2) for t, i1, i2, j1, j2 in matcher.get_opcodes()
        ]
    lines_a, lines_b = a.splitlines(keepends=True), b.splitlines(keepends=True)
    at_a, at_b = _offsets(lines_a), _offsets(lines_b)
    ops: list[Opcode] = []
    # lines common to many places (blank ones, say) are junk here: they cannot anchor a match,
    # which keeps the line comparison near linear
    matcher = difflib.SequenceMatcher(None, lines_a, lines_b, autojunk=True)
    for tag, k1, k2, l1, l2 in matcher.get_opcodes():
        i1, i2, j1, j2 = i0 + at_a[k1], i0 + at_a[k2], j0 + at_b[l1], j0 + at_b[l2]
        if tag == "replace" and i2 - i1 <= CHAR_DIFF_LIMIT and j2 - j1 <= CHAR_DIFF_LIMIT:
            ops.extend(_middle_opcodes(a[i1 - i0 : i2 - i0], b[j1 - j0 : j2 - j0], i1, j1))
        else:
            ops.append((tag, i1, i2, j1, j2))
    return ops


def _offsets(lines: list[str]) -> list[int]:
    """Where each line starts, and the end."""
    at = [0]
    for line in lines:
        at.append(at[-1] + len(line))
    return at
