#!/bin/sh
# Install Krita 5 with Python scripting, Xvfb and the plug-in's Python dependencies for the
# Krita plug-in tests (tests/test_krita_plugin.py). Debian bookworm ships Krita 5.1.5.
#
# Idempotent: when everything is already installed it does nothing (no apt-get update).
# Needs root for apt-get.
set -eu

PACKAGES="krita python3-pyqt5 python3-sip python3-zmq python3-msgpack xvfb xauth"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "krita.sh: Krita and its test dependencies are installed"
    exit 0
fi

echo "krita.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing >/dev/null
krita --version 2>/dev/null | head -n 1 || true
