"""Hostile input to Mutirão's APIs in a room server (comments, versioning): deeply nested or
oversized JSON, NUL characters and lone surrogates, a notebook with deeply nested metadata in
history. Every answer is a clear 4xx with a JSON message, never a 5xx, and no message names a
server path. Real server (pytest-jupyter), real git."""

from __future__ import annotations

import json

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from . import test_git_api as base
from .test_git_api import git, notebook

# the shared fixtures, by name
repo, _owner = base.repo, base._owner


@pytest.fixture
def jp_server_config(tmp_path_factory):
    # a conflict resolution may send max_diff_bytes: small here, so that 413 is cheap to reach
    return base.server_config(tmp_path_factory, max_diff_bytes=2_000_000)


DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"body": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}"


@pytest.fixture
def raw(jp_fetch, jp_root_dir):
    """``await raw(method, *parts, body=bytes, params=)`` → ``(status, json)``, as olga (owner);
    asserts that the answer names no server path."""

    async def call(method, *parts, body=None, params=None, user="olga"):
        kwargs = {"body": body} if body is not None else {}
        try:
            r = await jp_fetch(
                "mutirao", "api", *parts, method=method, params=params,
                headers={"Authorization": f"token tok-{user}"}, **kwargs,
            )  # fmt: skip
        except HTTPClientError as e:
            if e.response is None:
                raise
            r = e.response
        text = r.body.decode("utf-8", "replace")
        assert str(jp_root_dir) not in text, text
        return r.code, (json.loads(r.body) if r.body else None)

    return call


BODY_ENDPOINTS = [
    ("POST", ("comments", "threads")),
    ("POST", ("comments", "threads", "{thread}", "comments")),
    ("PATCH", ("comments", "threads", "{thread}", "comments", "{comment}")),
    ("POST", ("comments", "mentions", "read")),
    ("POST", ("comments", "export")),
    ("POST", ("git", "commit")),
    ("POST", ("git", "stage")),
    ("POST", ("git", "branches")),
    ("POST", ("git", "resolve")),
    ("PUT", ("git", "credentials")),
    ("POST", ("git", "clone")),
]


@pytest.mark.parametrize(("method", "parts"), BODY_ENDPOINTS)
async def test_deep_and_huge_json_bodies_are_4xx(raw, repo, method, parts):
    body = b'{"cell_id": "c0", "path": "proj/analysis.ipynb", "body": "a thought"}'
    code, thread = await raw("POST", "comments", "threads", body=body)
    assert code == 201, thread
    ids = {"thread": thread["id"], "comment": thread["comments"][0]["id"]}
    parts = tuple(p.format(**ids) for p in parts)
    for body in (DEEP, DEEP_OBJECT):
        code, answer = await raw(method, *parts, body=body)
        assert code == 400, (parts, answer)
        assert "nested" in answer["message"]
    code, answer = await raw(method, *parts, body=b'{"body": "' + b"x" * 3_000_000 + b'"}')
    assert code == 413, (parts, answer)
    code, answer = await raw(method, *parts, body=b'{"body": "\\ud800", "paths": ["a\\u0000"]}')
    assert code == 400, (parts, answer)


async def test_nul_and_surrogates_in_comment_bodies_are_400(raw, repo):
    for text in ('"a\\u0000b"', '"lone \\udc80 surrogate"', '"\\ud83d"'):
        body = b'{"cell_id": "c0", "path": "proj/analysis.ipynb", "body": ' + text.encode() + b"}"
        code, answer = await raw("POST", "comments", "threads", body=body)
        assert code == 400, answer
        assert "NUL" in answer["message"] or "surrogate" in answer["message"]
    # a pair of surrogate escapes is one character, and fine
    body = b'{"cell_id": "c0", "path": "proj/analysis.ipynb", "body": "ok \\ud83d\\ude00"}'
    code, answer = await raw("POST", "comments", "threads", body=body)
    assert code == 201, answer
    assert answer["comments"][0]["body"] == "ok \U0001f600"


@pytest.mark.parametrize(
    "params",
    [
        {"repo": "proj", "path": "analysis\0.ipynb"},
        {"repo": "proj\0", "path": "analysis.ipynb"},
        {"repo": "proj", "path": "analysis.ipynb", "rev": "HEAD\0"},
        {"repo": "proj", "path": "analysis.ipynb", "from": "HEAD\0", "to": "WORKING"},
    ],
)
@pytest.mark.parametrize("endpoint", ["show", "diff", "log", "status"])
async def test_nul_in_git_query_arguments_is_never_5xx(raw, repo, endpoint, params):
    # tornado turns control characters of query arguments into spaces (and strips them at
    # the ends): such a file or version is then not found, or is the one without them
    code, answer = await raw("GET", "git", endpoint, params=params)
    assert code < 500, answer
    if code >= 400:
        assert answer["message"]


async def test_nul_in_git_bodies_is_400(raw, repo):
    for endpoint, body in [
        ("commit", {"repo": "proj", "paths": ["notes.md"], "message": "a\0b"}),
        ("branches", {"repo": "proj", "name": "x\0y"}),
        ("checkout", {"repo": "proj", "branch": "main\0"}),
        ("restore", {"repo": "proj", "path": "notes.md", "rev": "HEAD\0"}),
    ]:
        code, answer = await raw("POST", "git", endpoint, body=json.dumps(body).encode())
        assert code == 400, (endpoint, answer)


async def test_a_notebook_with_deeply_nested_metadata_in_history(raw, repo):
    """Committed by someone with a terminal: history, show and diff answer, never a 500."""
    text = nbformat.writes(notebook("x = 3"))
    # nbformat cannot write such a notebook (it recurses too); a terminal user's editor can
    deep = '{"a": ' * 20_000 + "{}" + "}" * 20_000
    text = text.replace('"metadata": {', '"metadata": {"deep": ' + deep + ", ", 1)
    (repo / "analysis.ipynb").write_text(text)
    git(repo, "commit", "-q", "-am", "deep")
    for endpoint, params in [
        ("log", {"repo": "proj", "path": "analysis.ipynb"}),
        ("show", {"repo": "proj", "path": "analysis.ipynb", "rev": "HEAD"}),
        ("diff", {"repo": "proj", "path": "analysis.ipynb", "from": "HEAD~1", "to": "HEAD"}),
        ("diff", {"repo": "proj", "path": "analysis.ipynb", "from": "HEAD", "to": "WORKING"}),
    ]:
        code, answer = await raw("GET", "git", endpoint, params=params)
        assert code < 500, (endpoint, answer)
        if code >= 400:
            assert answer["message"], answer
