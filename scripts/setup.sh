#!/usr/bin/env bash
# Set up everything `make demo` or `make test` needs on a fresh Debian machine, idempotently.
#
#   scripts/setup.sh demo    system packages for the suite, .venv, npm proxy, lab extension
#   scripts/setup.sh test    the same, plus Chromium and the test/lint/docs tools
#
# Every step runs under `timeout` and is skipped when its result is already up to date.
# System packages need root (or password-less sudo); without either, the script says what to
# install and stops.
set -euo pipefail

MODE="${1:-demo}"
case "$MODE" in demo|test) ;; *) echo "usage: $0 demo|test" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMPS="$ROOT/.state/setup"
mkdir -p "$STAMPS"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

# A step is redone only when the files it depends on change (their hash is its stamp).
stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }
up_to_date() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
mark_done() { echo "$2" > "$STAMPS/$1"; }

# --- system packages -------------------------------------------------------------------------
apt_packages=()
command -v git >/dev/null || apt_packages+=(git)
command -v node >/dev/null || apt_packages+=(nodejs)
command -v npm >/dev/null || apt_packages+=(npm)
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_packages+=(python3-venv)
if [ "$MODE" = test ]; then
    [ -x /usr/bin/chromium ] || apt_packages+=(chromium)
    # the Docker spawner's tests start a private dockerd of their own (tests/spawner/docker_fixture.py)
    command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || apt_packages+=(docker.io)
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"
    else
        fail "missing system packages: ${apt_packages[*]}. Run this as root, or first run:
    sudo apt-get update && sudo apt-get install -y ${apt_packages[*]}"
    fi
    say "installing system packages: ${apt_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 $SUDO apt-get update -q || fail "apt-get update failed or timed out"
    timeout 1200 $SUDO apt-get install -y -q --no-install-recommends "${apt_packages[@]}" \
        || fail "apt-get install ${apt_packages[*]} failed or timed out"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || fail "Node.js >= 18 is needed (found $(node --version))"

# --- npm: configurable-http-proxy ------------------------------------------------------------
npm_stamp="$(stamp_of package.json package-lock.json)"
if ! up_to_date npm-root "$npm_stamp" || [ ! -x node_modules/.bin/configurable-http-proxy ]; then
    say "installing configurable-http-proxy (npm ci)"
    timeout 600 npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed or timed out"
    mark_done npm-root "$npm_stamp"
fi

# --- the JupyterLab extension ----------------------------------------------------------------
lab_deps_stamp="$(stamp_of lab_ext/package.json lab_ext/package-lock.json)"
if ! up_to_date npm-lab "$lab_deps_stamp" || [ ! -d lab_ext/node_modules ]; then
    say "installing the lab extension's npm dependencies (npm ci)"
    (cd lab_ext && timeout 600 npm ci --no-audit --no-fund --loglevel=error) \
        || fail "npm ci in lab_ext failed or timed out"
    mark_done npm-lab "$lab_deps_stamp"
fi
lab_src_stamp="$(find lab_ext/src lab_ext/style lab_ext/package.json lab_ext/tsconfig.json -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)"
if ! up_to_date lab-build "$lab_src_stamp" || [ ! -f lab_ext/mutirao_lab/labextension/package.json ]; then
    say "building the lab extension"
    (cd lab_ext && timeout 600 npm run build:prod --silent) || fail "the lab extension build failed"
    mark_done lab-build "$lab_src_stamp"
fi
# --- the OpenID Connect provider the OIDC authenticator's tests run (npm oidc-provider) ---------
if [ "$MODE" = test ]; then
    oidc_stamp="$(stamp_of tests/hub/oidc_provider/package.json tests/hub/oidc_provider/package-lock.json)"
    if ! up_to_date npm-oidc "$oidc_stamp" || [ ! -d tests/hub/oidc_provider/node_modules/oidc-provider ]; then
        say "installing the test OpenID Connect provider (npm ci in tests/hub/oidc_provider)"
        (cd tests/hub/oidc_provider && timeout 600 npm ci --no-audit --no-fund --loglevel=error) \
            || fail "npm ci in tests/hub/oidc_provider failed or timed out"
        mark_done npm-oidc "$oidc_stamp"
    fi
fi
# --- Python environment ----------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    timeout 300 "$PYTHON" -m venv "$VENV" || fail "could not create the virtual environment"
fi
extras="demo"
[ "$MODE" = test ] && extras="test"
py_stamp="$(stamp_of constraints.txt pyproject.toml hub_ext/pyproject.toml spawner/pyproject.toml lab_ext/pyproject.toml)-$extras"
if ! up_to_date "python-$extras" "$py_stamp"; then
    say "installing Python packages (.[$extras]) against constraints.txt"
    timeout 300 "$VENV/bin/pip" install -q --upgrade pip \
        || fail "upgrading pip failed or timed out"
    # the lab extension was built above, so its hatch build hook finds it and skips npm
    timeout 1200 "$VENV/bin/pip" install -q -c constraints.txt \
        -e hub_ext -e spawner -e lab_ext -e ".[$extras]" \
        || fail "pip install failed or timed out"
    mark_done "python-$extras" "$py_stamp"
fi

# Point JupyterLab at the build folder (what `jupyter labextension develop` does), so that a
# rebuild is seen without reinstalling; pip -e copied a snapshot there.
labext_dir="$VENV/share/jupyter/labextensions/mutirao-lab"
if [ "$(readlink "$labext_dir" 2>/dev/null)" != "$ROOT/lab_ext/mutirao_lab/labextension" ]; then
    rm -rf "$labext_dir"
    mkdir -p "$(dirname "$labext_dir")"
    ln -s "$ROOT/lab_ext/mutirao_lab/labextension" "$labext_dir"
fi

say "ready ($MODE)"
