"""Profiles: what a server runs with, and the server-side check of what a spawn form asks for.

Pure functions over plain data, like the GPU ledger: the spawner resolves the configured
profiles (a value or a callable) and the user's teams, then calls :func:`parse_profiles`,
:func:`allowed_profiles` and :func:`choose`. Every value a browser or an API client sends is
checked here again, whatever the form offered: a forged form gets a :class:`ProfileError` whose
message is shown on the spawn page.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "CPU_PROFILE", "MAX_GPUS", "Profile", "ProfileError", "allowed_profiles", "choose",
    "parse_profiles", "profile_from_config", "teams_for",
]  # fmt: skip

# no single server gets more GPUs than this, whatever a profile says: a bound for forged input
MAX_GPUS = 64


class ProfileError(ValueError):
    """A profile or a form value that cannot be used; the message is for the spawn page."""


@dataclass(frozen=True)
class Profile:
    """One profile. ``images`` is the allow-list (the first is the default), ``image`` the
    chosen one (``None`` when the profile names no image: the spawner's own setting is used).
    ``gpu_counts`` are the GPU counts a user may pick, ``gpus`` the chosen one.
    """

    name: str
    display_name: str = ""
    description: str = ""
    images: tuple[str, ...] = ()
    image: str | None = None
    cpu_limit: float | None = None
    mem_limit: str | int | None = None
    gpu_counts: tuple[int, ...] = (0,)
    gpus: int = 0
    gpu_model: str | None = None
    mig_profile: str | None = None
    max_runtime_s: int | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.display_name or self.name

    @property
    def uses_gpus(self) -> bool:
        return any(self.gpu_counts)


# The profile every user gets when an admin configures none: no GPUs, the spawner's own image.
CPU_PROFILE = Profile("cpu", "CPU only", "A server without GPUs.")

_KEYS = {
    "name", "display_name", "description", "images", "cpu_limit", "mem_limit", "gpu_counts",
    "gpu_model", "mig_profile", "max_runtime_s", "node_selector", "tolerations", "extra",
}  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def profile_from_config(entry: Mapping[str, Any], where: str = "profile") -> Profile:
    """Build a :class:`Profile` from an admin's dict, e.g.::

        {"name": "gpu-1", "display_name": "1 GPU", "images": ["quay.io/jupyter/pytorch-notebook"],
         "cpu_limit": 8, "mem_limit": "32G", "gpu_counts": [1, 2], "gpu_model": "NVIDIA A100",
         "max_runtime_s": 8 * 3600}

    Unknown keys and wrong types raise :class:`ProfileError`, so a typo fails at spawn time
    with a message naming the entry instead of silently handing out a different server.
    """
    if not isinstance(entry, Mapping):
        raise ProfileError(f"{where}: expected a dict, not {entry!r}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ProfileError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ProfileError(f"{where}: name is required and must be a string")
    where = f"profile {name!r}"
    images = entry.get("images", ())
    if isinstance(images, str) or not all(isinstance(i, str) and i for i in images):
        raise ProfileError(f"{where}: images must be a list of image names")
    counts = entry.get("gpu_counts", (0,))
    if isinstance(counts, (str, bytes)) or not counts:
        raise ProfileError(f"{where}: gpu_counts must be a non-empty list of whole numbers")
    for count in counts:
        if not _is_int(count) or not 0 <= count <= MAX_GPUS:
            raise ProfileError(f"{where}: gpu_counts must hold whole numbers 0..{MAX_GPUS}")
    runtime = entry.get("max_runtime_s")
    if runtime is not None and (not _is_int(runtime) or runtime <= 0):
        raise ProfileError(f"{where}: max_runtime_s must be a whole number of seconds > 0")
    cpu = entry.get("cpu_limit")
    if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, (int, float))):
        raise ProfileError(f"{where}: cpu_limit must be a number")
    for key in ("display_name", "description", "gpu_model", "mig_profile"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise ProfileError(f"{where}: {key} must be a string")
    images = tuple(images)
    counts = tuple(counts)
    return Profile(
        name=name,
        display_name=entry.get("display_name") or "",
        description=entry.get("description") or "",
        images=images,
        image=images[0] if images else None,
        cpu_limit=cpu,
        mem_limit=entry.get("mem_limit"),
        gpu_counts=counts,
        gpus=counts[0],
        gpu_model=entry.get("gpu_model"),
        mig_profile=entry.get("mig_profile"),
        max_runtime_s=runtime,
        node_selector=dict(entry.get("node_selector") or {}),
        tolerations=tuple(entry.get("tolerations") or ()),
        extra=dict(entry.get("extra") or {}),
    )


def parse_profiles(entries: Iterable[Mapping[str, Any] | Profile]) -> list[Profile]:
    """Profiles from config (dicts or :class:`Profile` objects); an empty list gives
    :data:`CPU_PROFILE`. Names must be unique."""
    profiles = [
        e if isinstance(e, Profile) else profile_from_config(e, f"profiles[{i}]")
        for i, e in enumerate(entries)
    ]
    names = [p.name for p in profiles]
    for name in names:
        if names.count(name) > 1:
            raise ProfileError(f"profile {name!r} is configured twice")
    return profiles or [CPU_PROFILE]


def teams_for(profile: str, team_profiles: Mapping[str, Collection[str]]) -> frozenset[str] | None:
    """The teams that may use ``profile``; None when no team lists it (open to everyone).

    The same rule as the ledger's :meth:`~mutirao_spawner.ledger.Policy.teams_for`.
    """
    teams = frozenset(t for t, names in team_profiles.items() if profile in names)
    return teams or None


def allowed_profiles(
    profiles: Iterable[Profile], team_profiles: Mapping[str, Collection[str]], teams: Iterable[str]
) -> list[Profile]:
    """The profiles a member of ``teams`` may use, in configured order."""
    teams = set(teams)
    allowed = []
    for profile in profiles:
        only = teams_for(profile.name, team_profiles)
        if only is None or only & teams:
            allowed.append(profile)
    return allowed


def _whole_number(value: Any, what: str) -> int:
    """A count from a form (a string) or from JSON (a number); never a bool, float or huge."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if _is_int(value):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
        number = int(value.strip())
    else:
        raise ProfileError(f"{what} must be a whole number, not {str(value)[:40]!r}")
    if not 0 <= number <= MAX_GPUS:
        raise ProfileError(f"{what} must be between 0 and {MAX_GPUS}, not {number}")
    return number


def _text(value: Any, what: str) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise ProfileError(f"{what} must be a string, not {str(value)[:40]!r}")
    return value


def choose(
    profiles: list[Profile],
    team_profiles: Mapping[str, Collection[str]],
    teams: Iterable[str],
    options: Mapping[str, Any],
    user: str = "this user",
) -> Profile:
    """Check what a spawn asks for (``options``: ``profile``, ``image``, ``gpus``, each optional)
    and return the chosen profile with ``image`` and ``gpus`` set.

    Without a ``profile`` the user's first allowed profile is used. A profile that exists but is
    not allowed for the user's teams answers like one that does not exist, so a form cannot
    probe which profiles other teams have.
    """
    teams = frozenset(teams)
    allowed = allowed_profiles(profiles, team_profiles, teams)
    # room_creator: named by the rooms service, passed to the server (see mixin), not chosen here
    unknown = sorted(set(options) - {"profile", "image", "gpus", "room_creator"})
    if unknown:
        raise ProfileError(f"unknown spawn option {unknown[0][:40]!r}")
    if "profile" in options and options["profile"] not in ("", None, [""]):
        name = _text(options["profile"], "profile")
        found = [p for p in allowed if p.name == name]
        if not found:
            names = ", ".join(p.name for p in allowed) or "none"
            raise ProfileError(
                f"profile {name[:60]!r} is not available to {user} (available: {names})"
            )
        profile = found[0]
    elif allowed:
        profile = allowed[0]
    else:
        raise ProfileError(f"no profile is available to {user}'s teams; ask your admin")
    image = profile.image
    if options.get("image") not in (None, "", [""]):
        image = _text(options["image"], "image")
        if image not in profile.images:
            raise ProfileError(
                f"image {image[:80]!r} is not allowed for profile {profile.name!r}"
                f" (allowed: {', '.join(profile.images) or 'none'})"
            )
    gpus = profile.gpus
    if options.get("gpus") not in (None, "", [""]):
        gpus = _whole_number(options["gpus"], "the GPU count")
        if gpus not in profile.gpu_counts:
            counts = ", ".join(map(str, profile.gpu_counts))
            raise ProfileError(f"profile {profile.name!r} allows {counts} GPUs, not {gpus}")
    return replace(profile, image=image, gpus=gpus)
