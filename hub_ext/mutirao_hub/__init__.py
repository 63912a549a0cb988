"""Mutirão for the hub: team sign-in and the rooms service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mutirao-hub")
except PackageNotFoundError:  # pragma: no cover - a checkout on sys.path, never installed
    __version__ = "0.0.0+unknown"
