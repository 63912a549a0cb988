# One GPU host: JupyterHub on the host, each user's server in its own Docker container with the
# GPUs the hub's GPU ledger gives it. Guide: docs/admin/docker-gpu.md.
#
#   pip install mutirao-hub "mutirao-spawner[docker,nvml]"
#   jupyterhub -f config/docker-gpu/jupyterhub_config.py
#
# Needs: dockerd with the NVIDIA Container Toolkit (`nvidia-ctk runtime configure`), the user
# images below built or pulled on the host (pull_policy is "never"), and the npm
# configurable-http-proxy. Environment variables read here (all optional):
#   MUTIRAO_STATE_DIR (/srv/jupyterhub)   database, cookie secret
#   MUTIRAO_PUBLIC_URL (http://:8000)     where users reach the hub; put TLS in front of it
#   MUTIRAO_HUB_IP (172.17.0.1)           an address of the host that containers reach the hub on:
#                                         the docker0 bridge's gateway by default
#   MUTIRAO_GPUS (nvml)                   "nvml", or a file of declared GPUs (JSON, for a remote
#                                         Docker host the hub cannot ask NVML about)
import json
import os
from pathlib import Path

from mutirao_spawner.admin import gpu_admin_config

state = Path(os.environ.get("MUTIRAO_STATE_DIR", "/srv/jupyterhub"))
state.mkdir(parents=True, exist_ok=True, mode=0o700)

c.JupyterHub.bind_url = os.environ.get("MUTIRAO_PUBLIC_URL", "http://:8000")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"  # or postgresql://...
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
# Containers on Docker's default bridge reach the hub at the bridge's gateway address.
c.JupyterHub.hub_ip = os.environ.get("MUTIRAO_HUB_IP", "172.17.0.1")
# Servers keep running across a hub restart; the GPU ledger is rebuilt from their state and
# checked against the containers' labels.
c.JupyterHub.cleanup_servers = False

# Sign-in: replace with an identity provider (config/github, config/gitlab, config/oidc).
c.JupyterHub.authenticator_class = "mutirao-local"
c.LocalTeamAuthenticator.users_file = str(state / "users.toml")
c.LocalTeamAuthenticator.allowed_teams = {
    "ml-research",
    "ml-research-editors",
    "data-platform",
    "data-platform-editors",
    "platform-admins",
}
c.LocalTeamAuthenticator.admin_teams = {"platform-admins"}

# -- the spawner ----------------------------------------------------------------------------
c.JupyterHub.spawner_class = "mutirao-docker"
c.GPUDockerSpawner.pull_policy = "never"  # images are built or pulled by the admin, not users
c.GPUDockerSpawner.default_url = "/lab"
c.GPUDockerSpawner.http_timeout = 120

# The GPUs: NVML on this host, or declared (the uuids `nvidia-smi -L` prints).
gpus = os.environ.get("MUTIRAO_GPUS", "nvml")
if gpus == "nvml":
    c.GPUDockerSpawner.gpu_discovery = "nvml"
else:
    # [{"uuid": "GPU-...", "model": "NVIDIA A100-SXM4-80GB", "memory_mib": 81920}, ...]
    c.GPUDockerSpawner.gpu_discovery = "config"
    c.GPUDockerSpawner.gpus = json.loads(Path(gpus).read_text())

# Profiles: what a server runs with. Users pick images only from a profile's list; each image
# must be on the host, with mutirao-lab installed (Dockerfile in docs/admin/docker-gpu.md).
PYTORCH = "mutirao/pytorch-notebook:cuda12"
SCIPY = "mutirao/scipy-notebook:latest"
c.GPUDockerSpawner.profiles = [
    {
        "name": "cpu",
        "display_name": "CPU",
        "description": "4 CPUs and 16 GB, no GPU.",
        "images": [SCIPY, PYTORCH],
        "cpu_limit": 4,
        "mem_limit": "16G",
    },
    {
        "name": "gpu",
        "display_name": "GPU",
        "description": "One or two whole GPUs, 8 CPUs and 64 GB, for 8 hours at most.",
        "images": [PYTORCH],
        "cpu_limit": 8,
        "mem_limit": "64G",
        "gpu_counts": [1, 2],
        "max_runtime_s": 8 * 3600,
    },
    {
        "name": "mig-small",
        "display_name": "A100 slice",
        "description": "One 1g.10gb MIG slice of an A100, for notebooks that need a little CUDA.",
        "images": [PYTORCH],
        "cpu_limit": 2,
        "mem_limit": "16G",
        "gpu_counts": [1],
        "mig_profile": "1g.10gb",
        "max_runtime_s": 24 * 3600,
    },
]
# Who may use which: profiles not listed here are open to everyone.
c.GPUDockerSpawner.team_profiles = {
    "ml-research": ["gpu", "mig-small"],
    "data-platform": ["mig-small"],
}
# Quotas count GPUs and MIG slices, held and queued together.
c.GPUDockerSpawner.gpu_limit_per_user = 2
c.GPUDockerSpawner.gpu_limit_per_team = {"ml-research": 4, "data-platform": 1}
c.GPUDockerSpawner.queue_when_full = True
c.GPUDockerSpawner.gpu_queue_timeout = 900
c.GPUDockerSpawner.idle_gpu_action = "none"  # "stop" or "release" to reclaim idle GPUs
# a container holding GPUs the ledger did not give it (started by hand with Mutirao's labels):
# "report" on the admin page, "adopt" it, or "reclaim" (stop) it
c.GPUDockerSpawner.unknown_gpu_holders = "report"

# Storage: a home volume per user (jupyterhub-user-<name>, at /home/jovyan) and the teams'
# dataset volumes. "by-role": read-write for members of <team>-editors, read-only otherwise.
# Create dataset volumes beforehand, owned by the images' user (uid 1000), see the guide.
c.GPUDockerSpawner.team_volumes = {
    "ml-research": [
        {"volume": "ml-research-datasets", "mount": "/data/datasets", "mode": "by-role"},
        {"volume": "ml-research-scratch", "mount": "/data/scratch", "mode": "rw"},
    ],
    "data-platform": [
        {"volume": "data-platform-lake", "mount": "/data/lake", "mode": "by-role"},
        {"volume": "ml-research-datasets", "mount": "/data/datasets", "mode": "ro"},
    ],
}

# The GPU admin page (/hub/mutirao/gpus) and its API; admins may always read them.
gpu_admin_config(c, groups=["platform-admins"])
