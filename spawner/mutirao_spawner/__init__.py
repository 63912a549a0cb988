"""Mutirão spawners: GPU inventory, the GPU ledger and quotas, and the spawner flavours."""

__version__ = "0.1.0"
