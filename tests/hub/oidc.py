"""A real OpenID Connect provider process (npm oidc-provider) and a browser-like login through it.

:class:`OIDCProvider` runs ``tests/hub/oidc_provider/server.mjs`` with Node on a free port of
127.0.0.1; its accounts are a JSON file that tests edit to change a person's groups upstream.
:func:`oidc_login` follows the authorization code flow with ``requests`` the way a browser
does: hub login → provider (automated sign-in of the account given as ``login_hint``) → the
hub's OAuth callback.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from ..harness import free_port, wait_for

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "mutirao-hub"


class OIDCProvider:
    def __init__(self, state_dir: Path, redirect_uri: str, accounts: dict):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_secret = secrets.token_urlsafe(32)
        self.redirect_uri = redirect_uri
        self.accounts_file = Path(state_dir) / "accounts.json"
        self.log_path = Path(state_dir) / "oidc-provider.log"
        self.set_accounts(accounts)
        self.proc: subprocess.Popen | None = None

    def set_accounts(self, accounts: dict) -> None:
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(accounts))
        tmp.replace(self.accounts_file)  # atomic: the provider never reads half a file

    def start(self) -> OIDCProvider:
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("run scripts/setup.sh test (npm ci in tests/hub/oidc_provider)")
        env = dict(
            os.environ,
            PORT=str(self.port),
            CLIENT_ID=CLIENT_ID,
            CLIENT_SECRET=self.client_secret,
            REDIRECT_URI=self.redirect_uri,
            ACCOUNTS_FILE=str(self.accounts_file),
        )
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["node", str(PROVIDER_DIR / "server.mjs")],
            cwd=PROVIDER_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited:\n{self.log()}")
            url = f"{self.issuer}/.well-known/openid-configuration"
            return requests.get(url, timeout=5).status_code == 200

        wait_for(ready, 30, what="the OpenID Connect provider")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()


def add_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def oidc_login(hub, account: str, tamper_state: bool = False) -> requests.Session:
    """Log ``account`` in through the real flow; ``session.login_response`` is the callback's."""
    s = requests.Session()
    r = s.get(hub.hub_url("oauth_login"), allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    url = add_query(r.headers["Location"], login_hint=account)
    callback = hub.hub_url("oauth_callback")
    for _ in range(10):
        if url.startswith(callback):
            break
        r = s.get(url, allow_redirects=False, timeout=30)
        assert r.status_code in (302, 303), (r.status_code, r.text[:500])
        url = urljoin(url, r.headers["Location"])
    else:
        raise AssertionError(f"the provider never redirected to the hub's callback (last: {url})")
    if tamper_state:
        parts = urlsplit(url)
        query = [(k, "forged" if k == "state" else v) for k, v in parse_qsl(parts.query)]
        url = urlunsplit(parts._replace(query=urlencode(query)))
    s.login_response = s.get(url, allow_redirects=False, timeout=30)  # type: ignore[attr-defined]
    return s
