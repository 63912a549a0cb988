#!/usr/bin/env bash
# Run the embedded default (config/demo): JupyterHub on 127.0.0.1, SQLite, local servers, demo teams.
# The banner (URL and demo users) is printed once the hub answers. Ctrl-C stops the hub, the proxy
# and every server it started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${MUTIRAO_PORT:-8000}"
BASE_URL="${MUTIRAO_BASE_URL:-/}"
URL="http://127.0.0.1:${PORT}${BASE_URL}"
HUB_PID=$$  # the hub replaces this shell (exec below), so Ctrl-C reaches it as before

banner() {
cat <<BANNER

  Mutirão demo: ${URL}

  Demo users (password = user name + "-demo"):
    ana    / ana-demo     Ana Souza     team ml-research      (admin)
    bruno  / bruno-demo   Bruno Lima    team ml-research
    carla  / carla-demo   Carla Mendes  team data-platform
    davi   / davi-demo    Davi Rocha    teams data-platform, ml-research

  The team room "ML research" has an example notebook, two versions and a comment thread.
  State (database, homes): ${MUTIRAO_STATE_DIR:-$ROOT/.state/demo}
  Press Ctrl-C to stop the hub and every server it started.

BANNER
}

# Wait (in the background) for the hub's login page, then print the banner; give up if the hub
# exits first.
(
    "$ROOT/.venv/bin/python" - "${URL}hub/login" "$HUB_PID" <<'PY' && banner
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
while True:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.3)
PY
) &
exec "$ROOT/.venv/bin/jupyterhub" -f "$ROOT/config/demo/jupyterhub_config.py"
