#!/usr/bin/env bash
# Run the embedded default (config/demo): JupyterHub on 127.0.0.1, SQLite, local servers, demo teams.
# Ctrl-C stops the hub, the proxy and every server it started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${MUTIRAO_PORT:-8000}"
BASE_URL="${MUTIRAO_BASE_URL:-/}"
cat <<BANNER

  Mutirão demo: http://127.0.0.1:${PORT}${BASE_URL}

  Demo users (password = user name + "-demo"):
    ana    / ana-demo     Ana Souza     team ml-research      (admin)
    bruno  / bruno-demo   Bruno Lima    team ml-research
    carla  / carla-demo   Carla Mendes  team data-platform
    davi   / davi-demo    Davi Rocha    teams data-platform, ml-research

  State (database, homes): ${MUTIRAO_STATE_DIR:-$ROOT/.state/demo}
  Press Ctrl-C to stop the hub and every server it started.

BANNER
exec "$ROOT/.venv/bin/jupyterhub" -f "$ROOT/config/demo/jupyterhub_config.py"
