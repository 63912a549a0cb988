# The embedded default: the whole suite on one machine, no external service.
#
#   make demo                      # http://127.0.0.1:8000
#   make demo PORT=8010            # another port
#
# Everything it writes (the SQLite database, the cookie secret, the demo users' home folders)
# goes to the state folder, .state/demo in the checkout unless MUTIRAO_STATE_DIR says otherwise.
# Environment variables read here (all optional):
#   MUTIRAO_PORT (8000), MUTIRAO_HUB_PORT (8081), MUTIRAO_PROXY_API_PORT (8001),
#   MUTIRAO_BASE_URL (/), MUTIRAO_STATE_DIR (.state/demo), MUTIRAO_ROOMS_PORT (a free port),
#   MUTIRAO_DEMO_GPUS (2 pretend GPUs; a number of pretend GPUs, 0 for none, or nvml)
import os
import shutil
import sys
from pathlib import Path

from mutirao_spawner.admin import gpu_admin_config

here = Path(__file__).resolve().parent
repo = here.parent.parent
state = Path(os.environ.get("MUTIRAO_STATE_DIR", repo / ".state" / "demo")).resolve()
state.mkdir(parents=True, exist_ok=True, mode=0o700)

port = int(os.environ.get("MUTIRAO_PORT", "8000"))
base_url = os.environ.get("MUTIRAO_BASE_URL", "/")

# the base URL is part of bind_url (setting base_url on its own resets the port)
c.JupyterHub.bind_url = f"http://127.0.0.1:{port}{base_url}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("MUTIRAO_HUB_PORT", "8081"))
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# The npm configurable-http-proxy: the PyPI one breaks binary websocket frames, which
# real-time collaboration needs.
chp = repo / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [
    str(chp)
    if chp.exists()
    else shutil.which("configurable-http-proxy") or "configurable-http-proxy"
]
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{os.environ.get('MUTIRAO_PROXY_API_PORT', '8001')}"
)
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")

# Team sign-in without an identity provider: users, teams and password hashes from a file.
c.JupyterHub.authenticator_class = "mutirao-local"
c.LocalTeamAuthenticator.users_file = str(here / "users.toml")
c.LocalTeamAuthenticator.allowed_teams = {"ml-research", "data-platform"}

# Local single-user processes through Mutirão's GPU spawner, each in its own folder under the
# state folder. They run as the hub's own system user: fine for a laptop, not for a shared
# machine (see docs/install). By default the demo declares 2 pretend GPUs (CUDA sees nothing
# behind them), so ml-research members get the profile form and the queue on a laptop;
# MUTIRAO_DEMO_GPUS=<n> declares n of them, MUTIRAO_DEMO_GPUS=nvml discovers the machine's GPUs
# with NVML, and MUTIRAO_DEMO_GPUS=0 has none: one CPU profile, login goes straight to
# JupyterLab.
c.JupyterHub.spawner_class = "mutirao-local"
c.GPULocalProcessSpawner.run_as_hub_user = True
c.GPULocalProcessSpawner.home_dir_template = str(state / "homes" / "{username}")
c.GPULocalProcessSpawner.profiles = [
    {"name": "cpu", "display_name": "CPU", "description": "A server without GPUs."},
]
demo_gpus = os.environ.get("MUTIRAO_DEMO_GPUS", "2").strip()
if demo_gpus not in ("", "0"):
    c.GPULocalProcessSpawner.profiles.append(
        {
            "name": "gpu",
            "display_name": "One GPU",
            "description": "One whole GPU, for 8 hours at most.",
            "gpu_counts": [1],
            "max_runtime_s": 8 * 3600,
        }
    )
    c.GPULocalProcessSpawner.team_profiles = {"ml-research": ["gpu"]}
    c.GPULocalProcessSpawner.gpu_limit_per_team = {"ml-research": 2}
    if demo_gpus == "nvml":
        c.GPULocalProcessSpawner.gpu_discovery = "nvml"
    else:
        c.GPULocalProcessSpawner.gpus = [
            {"uuid": f"GPU-demo-{i:04d}", "model": "Demo GPU", "memory_mib": 16384}
            for i in range(int(demo_gpus))
        ]
else:
    c.GPULocalProcessSpawner.gpu_discovery = "none"

# The GPU admin page (/hub/mutirao/gpus), its API and the scope that reads them
gpu_admin_config(c)

c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
# JupyterLab's defaults for the demo (config/demo/jupyter/labconfig): no offer to fetch news
c.Spawner.environment = {"JUPYTER_CONFIG_PATH": str(here / "jupyter")}
c.Spawner.default_url = "/lab"
if os.geteuid() == 0:
    # CI and containers run as root; jupyter-server refuses that unless told
    c.Spawner.args = ["--allow-root"]
c.Spawner.http_timeout = 120
# Stop servers quickly on Ctrl-C, so nothing is left behind
c.LocalProcessSpawner.interrupt_timeout = 5
c.LocalProcessSpawner.term_timeout = 3
c.LocalProcessSpawner.kill_timeout = 3
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# Rooms: team-owned shared servers, run by the rooms service (docs/admin/rooms.md). Members of
# ml-research may create rooms; the room "ml-research" (hub user room-ml-research) is created
# when the service starts, with the team's members as editors.
from mutirao_hub.rooms.config import rooms_service_config  # noqa: E402

c.LocalTeamAuthenticator.team_roles = {"ml-research": ["mutirao-room-creator"]}
# ...and its folder holds an example notebook under git, with two versions and a comment
# thread, before the room's server first starts (config/demo/seed_room.py)
sys.path.insert(0, str(here))
from seed_room import seed_room  # noqa: E402

seed_room(state / "homes" / "room-ml-research")

rooms_port = os.environ.get("MUTIRAO_ROOMS_PORT")
rooms_service_config(
    c,
    url=f"http://127.0.0.1:{rooms_port}" if rooms_port else None,
    state_dir=state / "rooms",
    # a deleted room's folder is kept 30 days in rooms/deleted-rooms, then removed
    room_files_template=str(state / "homes" / "{username}"),
    seed_rooms=[
        {"name": "ml-research", "display_name": "ML research", "teams": {"ml-research": "editor"}}
    ],
    # the profiles a room may be given, and the teams that may give the restricted ones: the
    # spawner's own, so that a room never names a profile its creator may not use
    profiles=[p["name"] for p in c.GPULocalProcessSpawner.profiles],
    team_profiles=dict(c.GPULocalProcessSpawner.get("team_profiles", {})),
)
