#!/usr/bin/env bash
# Install Debian's chromium for the end-to-end tests (tests/e2e/).  Idempotent: does nothing
# when a `chromium` executable is already on PATH.  Never downloads a browser build of its own
# (no `playwright install`): the tests launch this executable through Python playwright.
set -euo pipefail
exec bash "$(dirname "$0")/../../deploy/install-debian.sh" chromium chromium fonts-dejavu-core
