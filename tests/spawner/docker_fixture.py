"""A private Docker daemon and the user image, for the Docker spawner's tests.

:class:`PrivateDockerd` starts ``dockerd`` (apt ``docker.io``) with its data and exec roots in a
fresh folder under /tmp (``/tmp/mdk-XXXX``: unix socket paths must stay under 108 bytes), its own
socket, no bridge and no iptables (``--bridge=none --iptables=false``: containers use the host
network), overlay2 storage, or vfs where overlay2 cannot start. It never touches a system
``dockerd``; :meth:`PrivateDockerd.stop` removes every container, stops the daemon and its
containerd, unmounts what is left and deletes the folder.

The user image (:func:`build_user_image`) comes from ``docker import`` of a root filesystem (no
registry is reachable here). It is a *skeleton*: ``/etc/passwd`` and ``/etc/group`` (a ``jovyan``
user, uid 1000, gid 100, as in the Jupyter Docker Stacks), a copy of the host's
``/etc/ld.so.cache``, empty ``/tmp``, ``/home/jovyan``, ``/root`` and ``/run``, and the merged-/usr
links ``/bin``, ``/sbin``, ``/lib``, ``/lib64`` → ``usr/...``. Its ``USER`` is ``1000:100`` and its
``CMD`` is this checkout's ``jupyterhub-singleuser``. The software is the host's, bind-mounted
read-only by the spawner's ``read_only_volumes`` (:func:`host_runtime_mounts`): ``/usr`` (libc,
the shell, git), the Python installation the project's venv was made from, and the checkout
(its ``.venv``, and the editable installs of the three packages). So the container runs the very
``jupyterhub-singleuser`` and ``mutirao_lab`` under test, as user ``jovyan``, with a home volume
of its own: what differs from a production image is only where the files come from. Building it
takes well under a second (a few kilobytes), so nothing is cached between runs; the daemon's
data root is thrown away with the daemon.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import docker

from ..harness import REPO

IMAGE = "mutirao-test/singleuser:1"
MISSING_IMAGE = "mutirao-test/not-built:1"
LABEL_TEST = "org.mutirao.test"


def host_runtime_mounts() -> dict[str, str]:
    """Host folders the test image needs, bind-mounted read-only at the same paths."""
    paths = ["/usr", sys.base_prefix, str(REPO)]
    return {p: p for p in dict.fromkeys(paths)}


class PrivateDockerd:
    """A ``dockerd`` of our own; see the module docstring."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mdk-", dir="/tmp"))
        self.socket = self.root / "d.sock"
        self.url = f"unix://{self.socket}"
        self.log_path = self.root / "dockerd.log"
        self.proc: subprocess.Popen | None = None
        self.driver = ""
        self._log = None
        self._client: docker.APIClient | None = None

    def start(self, timeout: float = 60) -> PrivateDockerd:
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        if not Path(dockerd).exists():
            raise RuntimeError(
                "dockerd is not installed: run scripts/setup.sh test (apt package docker.io)"
            )
        errors = []
        for driver in (self.driver,) if self.driver else ("overlay2", "vfs"):
            try:
                self._start(dockerd, driver, timeout)
                self.driver = driver
                return self
            except RuntimeError as e:
                errors.append(f"{driver}: {e}")
                self._kill()
        raise RuntimeError("the private dockerd did not start:\n" + "\n".join(errors))

    def _start(self, dockerd: str, driver: str, timeout: float) -> None:
        (self.root / "data").mkdir(exist_ok=True)
        (self.root / "exec").mkdir(exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _kill()
        self.proc = subprocess.Popen(
            [
                dockerd,
                f"--data-root={self.root / 'data'}",
                f"--exec-root={self.root / 'exec'}",
                f"--host={self.url}",
                f"--pidfile={self.root / 'd.pid'}",
                f"--storage-driver={driver}",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.proc.returncode}:\n{self.log()}")
            if self._listening():
                try:
                    if self.client().ping():
                        return
                except docker.errors.DockerException:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"dockerd did not answer within {timeout}s:\n{self.log()}")

    def _listening(self) -> bool:
        # docker-py leaks its socket when a unix connect fails, so ask with one of our own first
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
        return True

    def client(self) -> docker.APIClient:
        """One client for the daemon's lifetime (closed by :meth:`stop`)."""
        if self._client is None:
            self._client = docker.APIClient(base_url=self.url, version="auto", timeout=60)
        return self._client

    def log(self, tail: int | None = 4000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:] if tail else text

    def pause(self) -> None:
        """Stop the daemon (containers stop with it), keeping its data: "dockerd is down"."""
        self._kill()

    def resume(self) -> None:
        self.start()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):  # containerd runs in its session
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def remove_containers(self) -> list[str]:
        """Remove every container; return the names of those still running (leaks)."""
        client = self.client()
        running = []
        for c in client.containers(all=True):
            if c["State"] == "running":
                running.append(c["Names"][0].lstrip("/"))
            client.remove_container(c["Id"], force=True, v=True)
        return running

    def stop(self) -> None:
        """Stop the daemon and delete everything it had."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._kill()
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        inside = [m.split()[1] for m in mounts if m.split()[1].startswith(str(self.root))]
        for mount in sorted(inside, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _rootfs_tar() -> bytes:
    buf = io.BytesIO()
    now = int(time.time())

    def add(name: str, kind: bytes, mode: int = 0o755, data: bytes = b"", link: str = "", uid=0):
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, now, uid, 100 * bool(uid)
        info.linkname = link
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)

    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("etc", "usr", "root", "run", "home", "proc", "sys", "dev", "var"):
            add(name, tarfile.DIRTYPE)
        for name in ("tmp", "var/tmp"):
            add(name, tarfile.DIRTYPE, 0o1777)
        add("home/jovyan", tarfile.DIRTYPE, uid=1000)
        for name in ("bin", "sbin", "lib", "lib64"):
            add(name, tarfile.SYMTYPE, link=f"usr/{name}")
        passwd = (
            "root:x:0:0:root:/root:/bin/sh\n"
            "jovyan:x:1000:100:jovyan:/home/jovyan:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        add("etc/passwd", tarfile.REGTYPE, 0o644, passwd.encode())
        group = "root:x:0:\nusers:x:100:jovyan\nnogroup:x:65534:\n"
        add("etc/group", tarfile.REGTYPE, 0o644, group.encode())
        add("etc/ld.so.cache", tarfile.REGTYPE, 0o644, Path("/etc/ld.so.cache").read_bytes())
    return buf.getvalue()


def build_user_image(client: docker.APIClient, image: str = IMAGE) -> str:
    """``docker import`` the skeleton root filesystem as ``image`` (see the module docstring)."""
    repository, tag = image.rsplit(":", 1)
    singleuser = REPO / ".venv" / "bin" / "jupyterhub-singleuser"
    client.import_image_from_data(
        _rootfs_tar(),
        repository=repository,
        tag=tag,
        changes=[
            "USER 1000:100",
            "WORKDIR /home/jovyan",
            f'CMD ["{singleuser}"]',
            f"LABEL {LABEL_TEST}=1",
        ],
    )
    return image


def create_team_volume(
    client: docker.APIClient, name: str, uid: int = 1000, gid: int = 100
) -> None:
    """Create a dataset volume owned by the image's user, as an admin prepares one (Docker makes
    a volume it creates on first use owned by root, which ``jovyan`` cannot write to)."""
    client.create_volume(name)
    mounts = {p: {"bind": p, "mode": "ro"} for p in host_runtime_mounts()}
    mounts[name] = {"bind": "/volume", "mode": "rw"}
    created = client.create_container(
        IMAGE,
        ["chown", f"{uid}:{gid}", "/volume"],
        user="0",
        volumes=list(mounts),
        host_config=client.create_host_config(binds=mounts, network_mode="none"),
    )
    try:
        client.start(created["Id"])
        status = client.wait(created["Id"], timeout=60)["StatusCode"]
        if status != 0:
            raise RuntimeError(f"chown in volume {name} failed: {client.logs(created['Id'])!r}")
    finally:
        client.remove_container(created["Id"], force=True)
