"""The jupyter-server extension: wires Mutirão's REST handlers into the single-user server."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp

from . import __version__
from .handlers import VersionHandler


class MutiraoApp(ExtensionApp):
    """Mutirão's server extension; every handler lives under ``<base_url>mutirao/api/``."""

    name = "mutirao_lab"
    # the lab extension is served by JupyterLab itself; this app only adds REST handlers
    load_other_extensions = True

    def initialize_handlers(self):
        self.handlers.extend(
            [
                (r"/mutirao/api/version", VersionHandler, {"version": __version__}),
            ]
        )
        self.log.info("Mutirão server extension %s loaded", __version__)
