"""The spawn page's options form: rendering the allowed profiles, and reading the choice back.

Pure functions; the mixin supplies the allowed profiles and the live free GPU counts.
:meth:`~mutirao_spawner.mixin.GPUSpawnerMixin.start` re-checks whatever the form sends.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from .profiles import Profile

__all__ = ["options_from_form", "render_options_form"]


def render_options_form(
    allowed: list[Profile], free_of: Callable[[Profile], tuple[int, int]]
) -> str:
    """The form's HTML for ``allowed`` profiles; ``""`` when there is nothing to choose.

    ``free_of(profile)`` gives ``(free, total)`` GPUs (or MIG instances) the profile can use.
    """
    if len(allowed) == 1 and len(allowed[0].images) <= 1 and len(allowed[0].gpu_counts) == 1:
        return ""  # nothing to choose: spawn straight away
    rows = []
    for i, p in enumerate(allowed):
        name = escape(p.name, quote=True)
        parts = [
            f'<label class="mutirao-profile-title"><input type="radio" name="profile"'
            f' value="{name}"{" checked" if i == 0 else ""}> <strong>{escape(p.title)}</strong>'
            "</label>"
        ]
        if p.description:
            parts.append(f'<div class="help-block">{escape(p.description)}</div>')
        if p.uses_gpus:
            free, total = free_of(p)
            what = f"MIG {escape(p.mig_profile)} instances" if p.mig_profile else "GPUs"
            model = f" ({escape(p.gpu_model)})" if p.gpu_model else ""
            options = "".join(f'<option value="{n}">{n}</option>' for n in p.gpu_counts)
            parts.append(
                f'<label>GPUs <select class="form-control" name="gpus-{name}">'
                f"{options}</select></label>"
                f' <span class="mutirao-free">{free} of {total} {what}{model} free'
                "</span>"
            )
        if len(p.images) > 1:
            options = "".join(
                f'<option value="{escape(img, quote=True)}">{escape(img)}</option>'
                for img in p.images
            )
            parts.append(
                f'<label>Image <select class="form-control" name="image-{name}">'
                f"{options}</select></label>"
            )
        elif p.images:
            parts.append(f"<div>Image: <code>{escape(p.images[0])}</code></div>")
        rows.append(f'<div class="mutirao-profile form-group">{"".join(parts)}</div>')
    return '<div class="mutirao-profiles">' + "".join(rows) + "</div>"


def options_from_form(form_data: dict[str, Any]) -> dict[str, Any]:
    """The form's choice as ``user_options``: ``profile``, ``image``, ``gpus`` (strings)."""
    # a form sends lists of strings, a query string single strings
    data = {k: [v] if isinstance(v, str) else v for k, v in form_data.items()}
    options: dict[str, Any] = {}
    profile = (data.get("profile") or [""])[0]
    if profile:
        options["profile"] = profile
    for key in ("image", "gpus"):
        value = data.get(f"{key}-{profile}") or data.get(key)
        if value:
            options[key] = value[0]
    return options
