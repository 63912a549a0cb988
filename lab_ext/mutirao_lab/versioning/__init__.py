"""Versioning: notebook-aware diffs (``diff``) over git versions and snapshots."""
