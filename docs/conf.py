"""Sphinx configuration for the Mutirão documentation (``make docs``).

The build must not reach the network: no intersphinx, no remote images. It runs with
``-W --keep-going -n``, so every warning, including an unresolved cross-reference, fails it.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path

project = "Mutirão"
author = "The Mutirão contributors"
copyright = "The Mutirão contributors"

try:
    release = importlib.metadata.version("mutirao-hub")
except importlib.metadata.PackageNotFoundError:  # building from a checkout that was never installed
    release = "dev"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "autodoc_traits",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- MyST ------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
# anchors for h1-h3, so pages can link to "file.md#some-heading"
myst_heading_anchors = 3

# -- autodoc ---------------------------------------------------------------------------------
# The configuration reference documents traits (their help, type and default), not Python
# signatures. Type hints would be cross-references to traitlets, tornado and jupyterhub objects
# that only resolve through intersphinx, which needs the network; leave them out instead.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False
autoclass_content = "class"

# The configuration reference includes the options LocalTeamAuthenticator inherits from
# JupyterHub's Authenticator, and their help text refers to JupyterHub methods that are not
# documented here. They would resolve only through intersphinx, which is off (no network).
# References to traits documented on the page (refresh_pre_spawn, ...) do resolve.
nitpick_ignore = [
    ("py:meth", "Authenticator.check_allowed"),
    ("py:meth", "refresh_user"),
]

# autodoc-traits documents every inherited config trait, and announces (FutureWarning) the ones
# without a help string. jupyter_server's ExtensionApp.default_url, inherited by MutiraoApp, is
# one; it is not Mutirão's to fix here, and the entry is still listed. Ignore that one notice.
warnings.filterwarnings(
    "ignore",
    message=r"\s*Documenting MutiraoApp\.default_url without a help string",
    category=FutureWarning,
)

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "Mutirão"
# _static holds screenshots written by the e2e tests; it may not exist in a fresh checkout
html_static_path = ["_static"] if (Path(__file__).parent / "_static").is_dir() else []
html_theme_options = {"show_toc_level": 2}


# The identity-provider authenticators extend oauthenticator's classes. Their reference lists the
# options Mutirão adds (the team mapping, the OIDC options) and JupyterHub's; oauthenticator's
# own options are documented by oauthenticator, and their help text links to targets that only
# exist in oauthenticator's documentation.
def _skip_oauthenticator_traits(app, what, name, obj, skip, options):
    owner = getattr(obj, "this_class", None)
    if owner is not None and owner.__module__.startswith("oauthenticator."):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_oauthenticator_traits)
