"""Mutirão for the hub: team sign-in and the rooms service."""

__version__ = "0.1.0"
