#!/usr/bin/env bash
# Re-pin constraints.txt from a fresh resolution of the project's dependencies, so CI installs
# exactly what was tested. Run it after changing a dependency, then run `make test`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q ./hub_ext ./spawner "./lab_ext" ".[test]"
{
    echo "# Pinned versions for CI and the README commands. Regenerate with: make constraints"
    "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v -E '^(mutirao|mutirao-hub|mutirao-spawner|mutirao-lab)=='
} > constraints.txt
echo "constraints.txt updated"
