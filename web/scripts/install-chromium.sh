#!/usr/bin/env bash
# Install Debian's chromium for the end-to-end tests (tests/e2e/).  Idempotent: does nothing
# when a `chromium` executable is already on PATH.  Never downloads a browser build of its own
# (no `playwright install`): the tests launch this executable through Python playwright.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-chromium: not root and no sudo; install Debian's chromium package by hand" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
command -v chromium >/dev/null
