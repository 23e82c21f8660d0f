#!/usr/bin/env bash
# Install Debian's haproxy for the scale tests (tests/scale/) and the deploy/ example.
# Idempotent: does nothing when a `haproxy` executable is already on PATH (or in /usr/sbin).
set -euo pipefail
if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi
bash "$(dirname "$0")/install-debian.sh" haproxy haproxy
# The package's service is not wanted here: the tests start haproxy in the foreground.
service haproxy stop >/dev/null 2>&1 || sudo service haproxy stop >/dev/null 2>&1 || true
