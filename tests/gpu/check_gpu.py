"""``make gpu-check``: on a machine with NVIDIA GPUs, check discovery and isolation for real.

Not part of ``make test`` (CI has no GPU). Needs the NVIDIA driver, ``nvidia-smi`` and
nvidia-ml-py (``pip install mutirao-spawner[nvml]``). It checks that:

1. NVML discovery (``discover_nvml(pynvml)``) finds every GPU ``nvidia-smi -L`` lists, by uuid;
2. a real hub (the demo config with ``MUTIRAO_DEMO_GPUS=nvml``) spawns a local-process server
   with the ``gpu`` profile, and that server's process has ``CUDA_VISIBLE_DEVICES`` set to exactly
   the GPU the ledger assigned (as the admin API reports it);
3. CUDA, in that process's environment, sees exactly one device (``cuDeviceGetCount`` through
   libcuda), and ``nvidia-smi`` knows the assigned uuid.

Exit status 0 when every check passes; each check prints one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.harness import HubProcess, wait_for

CUDA_COUNT = """
import ctypes, sys
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0, "cuInit failed"
n = ctypes.c_int()
assert cuda.cuDeviceGetCount(ctypes.byref(n)) == 0
print(n.value)
"""


def check(ok: bool, what: str) -> None:
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        sys.exit(1)


def process_env(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def main() -> int:
    import pynvml

    from mutirao_spawner.inventory import discover_nvml

    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True)
    smi_uuids = {
        part.split("UUID: ")[1].rstrip(")").strip()
        for part in listed.stdout.splitlines()
        if "UUID: " in part and "MIG" not in part.split("UUID: ")[1]
    }
    inventory = discover_nvml(pynvml)
    whole = {g.uuid for g in inventory if not g.is_mig}
    check(whole == smi_uuids and bool(whole), f"NVML finds {sorted(whole)} = nvidia-smi -L")

    os.environ["MUTIRAO_DEMO_GPUS"] = "nvml"
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp)).start(timeout=120)
        try:
            hub.login("bruno")
            r = hub.api("POST", "users/bruno/server", json={"profile": "gpu"})
            check(r.status_code in (201, 202), f"spawn with the gpu profile: {r.status_code}")
            model = wait_for(
                lambda: (
                    (m := hub.api("GET", "users/bruno").json())["servers"].get("", {}).get("ready")
                    and m
                ),
                300,
                what="bruno's server",
            )
            token = hub.user_token("ana")
            gpus = hub.api("GET", "mutirao/gpus", headers={"Authorization": f"token {token}"})
            held = [g["uuid"] for g in gpus.json()["gpus"] if g["holder"] == "bruno/"]
            check(len(held) == 1, f"the ledger assigned one GPU to bruno/: {held}")
            env = process_env(model["servers"][""]["state"]["pid"])
            check(
                env.get("CUDA_VISIBLE_DEVICES") == held[0],
                f"the server's CUDA_VISIBLE_DEVICES is {env.get('CUDA_VISIBLE_DEVICES')!r}",
            )
            count = subprocess.run(
                [sys.executable, "-c", CUDA_COUNT], env=env, capture_output=True, text=True
            )
            check(count.stdout.strip() == "1", f"CUDA in that env sees {count.stdout.strip()!r}")
            one = subprocess.run(
                ["nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader", "-i", held[0]],
                capture_output=True,
                text=True,
            )
            check(one.stdout.strip() == held[0], f"nvidia-smi knows {held[0]}")
        finally:
            leaks = hub.stop()
    check(not leaks, f"nothing leaked: {leaks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
