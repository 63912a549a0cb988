"""A differential state machine: the versioning API against the git CLI, step by step.

Hypothesis draws sequences of what people do to a repository: commits through the API (the
in-process path for changed tracked files, git for new ones), saves that take snapshots,
restores of an older version followed by a commit, branch creation and switching, merges (and
aborting a conflicted one), interleaved with plain ``git`` commands run on the same repository
by someone at a terminal. A second repository, the replica, receives the same changes through
the git CLI alone. After every step, the repository the API works on must be one git itself
accepts and agrees with: ``git fsck --strict`` finds nothing, ``git status`` is clean, and the
current branch and the tree of every branch are the replica's.

The server is a real ``jupyter server`` process with the Mutirão extension (a personal server:
the token's user is its owner), driven over HTTP. :func:`run` is also what ``make bench`` prints
as the ``GIT:`` line.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ..harness import free_port, wait_for

FILES = ("a.txt", "b.txt", "data/c.txt")
LINES = ("alpha\n", "beta\n", "gamma\n", "delta\n")
BRANCHES = ("main", "feature", "fix")
REPO = "proj"
COUNTS = ("steps", "fsck_errors", "status_mismatches", "branch_mismatches", "tree_mismatches")


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Terminal",
        GIT_AUTHOR_EMAIL="terminal@example.org",
        GIT_COMMITTER_NAME="Terminal",
        GIT_COMMITTER_EMAIL="terminal@example.org",
    )
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    if check and done.returncode:
        raise AssertionError(f"git {' '.join(args)} in {cwd.name}: {done.stderr}")
    return done


class Server:
    """A ``jupyter server`` with Mutirão, serving ``root``, and its versioning API."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            str(Path(sys.executable).parent / "jupyter"),
            "server",
            f"--port={self.port}",
            "--ip=127.0.0.1",
            "--no-browser",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--MutiraoApp.snapshot_interval=0",
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            args, cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.token}"
        wait_for(lambda: self.get("status")[0] == 200, 120, what="the jupyter server")

    def get(self, route: str) -> tuple[int, dict]:
        r = self.session.get(
            f"{self.url}/mutirao/api/git/{route}", params={"repo": REPO}, timeout=60
        )
        return r.status_code, r.json()

    def post(self, route: str, **body) -> tuple[int, dict]:
        r = self.session.post(
            f"{self.url}/mutirao/api/git/{route}", json={"repo": REPO, **body}, timeout=60
        )
        return r.status_code, r.json()

    def save(self, path: str, text: str) -> int:
        r = self.session.put(
            f"{self.url}/api/contents/{REPO}/{path}",
            json={"type": "file", "format": "text", "content": text},
            timeout=60,
        )
        return r.status_code

    def stop(self) -> None:
        self.proc.terminate()
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
        self.session.close()
        self.log.close()


def remove(folder: Path) -> None:
    """Remove a repository the server may still be writing into (a snapshot, a detached
    ``git gc --auto``): again until it is gone."""
    for _ in range(50):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"{folder} could not be removed")


def make_repo(folder: Path) -> None:
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    (folder / "a.txt").write_text("alpha\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "start")


def branch_trees(folder: Path) -> dict[str, str]:
    names = git(folder, "for-each-ref", "--format=%(refname:short)", "refs/heads").stdout
    return {n: git(folder, "rev-parse", f"{n}^{{tree}}").stdout.strip() for n in names.split()}


class GitAgrees(RuleBasedStateMachine):
    """One repository through the API and the terminal; its replica through the CLI alone."""

    server: Server
    work: Path
    replica: Path
    stats: dict[str, int]
    strict = True  # the test stops at the first disagreement; the benchmark counts them

    def __init__(self) -> None:
        super().__init__()
        # each example starts from a fresh pair (the server finds the new repository)
        for folder in (self.work, self.replica):
            remove(folder)
            make_repo(folder)

    def _write(self, folder: Path, path: str, text: str) -> None:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)

    def _replica_commit(self, path: str, text: str, message: str) -> None:
        self._write(self.replica, path, text)
        git(self.replica, "add", "--", path)
        git(self.replica, "commit", "-q", "-m", message, "--", path)

    def _unchanged(self, path: str, text: str) -> bool:
        target = self.replica / path
        return target.exists() and target.read_text() == text

    @rule(path=st.sampled_from(FILES), lines=st.lists(st.sampled_from(LINES), min_size=1))
    def commit_through_the_api(self, path: str, lines: list[str]) -> None:
        text = "".join(lines)
        if self._unchanged(path, text):
            return
        self._write(self.work, path, text)
        code, body = self.server.post("commit", paths=[path], message=f"api: {path}")
        assert code == 201, body
        self._replica_commit(path, text, f"api: {path}")

    @rule(path=st.sampled_from(FILES), lines=st.lists(st.sampled_from(LINES), min_size=1))
    def save_with_a_snapshot_then_commit(self, path: str, lines: list[str]) -> None:
        text = "".join(lines)
        if self._unchanged(path, text):
            return
        (self.work / path).parent.mkdir(parents=True, exist_ok=True)
        assert self.server.save(path, text) in (200, 201)
        code, body = self.server.post("snapshots", path=path)
        assert code in (200, 201), body
        code, body = self.server.post("commit", paths=[path], message=f"saved: {path}")
        assert code == 201, body
        self._replica_commit(path, text, f"saved: {path}")

    @rule(path=st.sampled_from(FILES), lines=st.lists(st.sampled_from(LINES), min_size=1))
    def commit_at_the_terminal(self, path: str, lines: list[str]) -> None:
        text = "".join(lines)
        if self._unchanged(path, text):
            return
        self._write(self.work, path, text)
        git(self.work, "add", "--", path)
        git(self.work, "commit", "-q", "-m", f"terminal: {path}", "--", path)
        self._replica_commit(path, text, f"terminal: {path}")

    @rule(path=st.sampled_from(FILES))
    def restore_the_previous_version_and_commit(self, path: str) -> None:
        previous = git(self.replica, "show", f"HEAD~1:{path}", check=False)
        if previous.returncode or self._unchanged(path, previous.stdout):
            return  # no previous commit, the file was not there, or nothing would change
        rev = git(self.work, "rev-parse", "HEAD~1").stdout.strip()
        code, body = self.server.post("restore", path=path, rev=rev)
        assert code == 200, body
        code, body = self.server.post("commit", paths=[path], message=f"restore {path}")
        assert code == 201, body
        self._replica_commit(path, previous.stdout, f"restore {path}")

    @rule(name=st.sampled_from(BRANCHES), through_api=st.booleans())
    def switch_branch(self, name: str, through_api: bool) -> None:
        known = git(self.replica, "rev-parse", "--verify", "-q", f"refs/heads/{name}", check=False)
        if known.returncode:
            if through_api:
                code, body = self.server.post("branches", name=name)
                assert code == 201, body
            else:
                git(self.work, "branch", name)
            git(self.replica, "branch", name)
        if through_api:
            code, body = self.server.post("checkout", branch=name)
            assert code == 200, body
        else:
            git(self.work, "switch", "-q", name)
        git(self.replica, "switch", "-q", name)

    @rule(name=st.sampled_from(BRANCHES))
    def merge_through_the_api(self, name: str) -> None:
        current = git(self.replica, "branch", "--show-current").stdout.strip()
        known = git(self.replica, "rev-parse", "--verify", "-q", f"refs/heads/{name}", check=False)
        if name == current or known.returncode:
            return
        replica = git(self.replica, "merge", "--no-edit", "--no-ff", "-q", name, check=False)
        code, body = self.server.post("merge", branch=name)
        if replica.returncode:
            # git found conflicts: so must the API; both are aborted
            assert code == 409, body
            code, body = self.server.post("merge/abort")
            assert code == 200, body
            git(self.replica, "merge", "--abort")
        else:
            assert code == 200, body

    def _count(self, key: str, ok: bool, detail: str) -> None:
        if not ok:
            self.stats[key] += 1
            if self.strict:
                raise AssertionError(detail)

    @invariant()
    def git_agrees(self) -> None:
        self.stats["steps"] += 1
        fsck = git(self.work, "fsck", "--strict", "--no-progress", "--no-dangling", check=False)
        self._count("fsck_errors", fsck.returncode == 0 and not fsck.stdout, fsck.stdout)
        status = git(self.work, "status", "--porcelain").stdout
        self._count("status_mismatches", status == "", f"git status is not clean: {status}")
        ours, theirs = (
            git(f, "branch", "--show-current").stdout for f in (self.work, self.replica)
        )
        self._count("branch_mismatches", ours == theirs, f"on {ours!r}, the replica {theirs!r}")
        ours_t, theirs_t = branch_trees(self.work), branch_trees(self.replica)
        self._count("tree_mismatches", ours_t == theirs_t, f"{ours_t} != {theirs_t}")


def run(examples: int, steps: int, strict: bool) -> dict[str, int]:
    """Run the machine against a fresh server; the counts of steps and of disagreements."""
    base = Path(tempfile.mkdtemp(prefix="mutirao-git-"))
    root = base / "root"
    root.mkdir()
    make_repo(root / REPO)
    stats = dict.fromkeys(COUNTS, 0)
    server = Server(root)
    try:
        GitAgrees.server = server
        GitAgrees.work = root / REPO
        GitAgrees.replica = base / "replica"
        GitAgrees.stats = stats
        GitAgrees.strict = strict
        run_state_machine_as_test(
            GitAgrees,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    return stats


def test_the_api_and_the_git_cli_agree_at_every_step():
    stats = run(examples=6, steps=14, strict=True)
    assert stats["steps"] >= 40
    assert stats["fsck_errors"] == stats["status_mismatches"] == 0
    assert stats["branch_mismatches"] == stats["tree_mismatches"] == 0
