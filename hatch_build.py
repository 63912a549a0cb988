"""The metapackage's version and dependencies from the one version source.

Every distribution (mutirao-hub, mutirao-spawner, mutirao-lab, this metapackage) and the npm
package take their version from lab_ext/package.json; the metapackage installs exactly that
version of the three. An sdist carries both in its PKG-INFO.
"""

from __future__ import annotations

import json
from pathlib import Path

from hatch_nodejs_version.version_source import NodeJSVersionSource
from hatchling.metadata.plugin.interface import MetadataHookInterface

PACKAGES = ("mutirao-hub", "mutirao-spawner", "mutirao-lab")


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata: dict) -> None:
        package_json = Path(self.root, "lab_ext", "package.json")
        node_version = json.loads(package_json.read_text(encoding="utf-8"))["version"]
        version = NodeJSVersionSource.node_version_to_python(node_version)
        metadata["version"] = version
        metadata["dependencies"] = [f"{name}=={version}" for name in PACKAGES]
