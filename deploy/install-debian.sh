#!/usr/bin/env bash
# Usage: install-debian.sh COMMAND PACKAGE...
# Install Debian PACKAGEs with apt-get unless COMMAND is already on PATH (or in /usr/sbin).
# Idempotent; uses sudo when not root; exits non-zero if COMMAND is still missing afterwards.
set -euo pipefail
cmd="$1"; shift
found() { command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ]; }
if found; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-debian: not root and no sudo; install Debian's $* package(s) by hand" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "$@"
found
