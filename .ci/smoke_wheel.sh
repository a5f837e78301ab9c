#!/usr/bin/env bash
# Build the wheel, install it WITHOUT -e into a fresh venv, and run the installed memoryd
# (add, search, serve over MCP) from a directory outside the checkout.
#   .ci/smoke_wheel.sh [WORKDIR]   (default: a new temp dir; the venv is left there for reuse)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work/dist"
rm -f "$work"/dist/memoryd-*.whl
if [ -x .venv/bin/pip ]; then pip=.venv/bin/pip; else pip="python3 -m pip"; fi
$pip wheel -q --no-deps -w "$work/dist" .
[ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --force-reinstall --no-deps "$work"/dist/memoryd-*.whl
"$work/venv/bin/pip" install -q "$work"/dist/memoryd-*.whl   # its dependencies (pip's local wheels first)
cd "$work"
"$work/venv/bin/python" "$root/.ci/smoke_installed.py" "$work/venv/bin/memoryd"
