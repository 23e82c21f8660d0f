#!/usr/bin/env bash
# Install Debian's haproxy for the scale tests (tests/scale/) and the deploy/ example.
# Idempotent: does nothing when a `haproxy` executable is already on PATH (or in /usr/sbin).
set -euo pipefail
if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-haproxy: not root and no sudo; install Debian's haproxy package by hand" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends haproxy
# The package's service is not wanted here: the tests start haproxy in the foreground.
$SUDO service haproxy stop >/dev/null 2>&1 || true
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]
