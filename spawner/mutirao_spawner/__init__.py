"""Mutirão spawners: GPU inventory, the GPU ledger and quotas, and the spawner flavours."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mutirao-spawner")
except PackageNotFoundError:  # pragma: no cover - a checkout on sys.path, never installed
    __version__ = "0.0.0+unknown"
