"""Mutirão in the single-user server: the jupyter-server extension and the JupyterLab extension."""

try:
    from ._version import __version__
except ImportError:  # pragma: no cover - only in a checkout that was never built
    import warnings

    warnings.warn(
        "mutirao_lab was imported from a checkout that was never built; "
        "run `pip install -e lab_ext` to build it",
        stacklevel=2,
    )
    __version__ = "dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "mutirao-lab"}]


def _jupyter_server_extension_points():
    from .app import MutiraoApp

    return [{"module": "mutirao_lab", "app": MutiraoApp}]
