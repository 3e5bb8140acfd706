#!/bin/sh
# Build (once) a Debian trixie chroot with GIMP 3 and its Python plug-in support for the
# GIMP plug-in tests (bookworm's GIMP 2.10 runs no Python 3 plug-ins), plus Xvfb and
# xdotool for the tests that drive GIMP's dialogs and Undo.
#
# Idempotent: an existing chroot in which `gimp-console-3.0 --version` works is reused
# (missing GUI tools are added to it in place).
#   CHROMAHINT_GIMP_CHROOT   where the chroot lives (default /var/cache/chromahint/gimp-trixie)
#   CHROMAHINT_DEBIAN_MIRROR the Debian mirror (default: the one this machine's apt uses)
# Needs root (mmdebstrap --mode=root, chroot) and network access to the mirror.
set -eu

CHROOT="${CHROMAHINT_GIMP_CHROOT:-/var/cache/chromahint/gimp-trixie}"
GUI_PACKAGES="xvfb xdotool"
PACKAGES="gimp,python3-gi,gir1.2-gimp-3.0,python3-zmq,python3-msgpack,$(echo "$GUI_PACKAGES" | tr ' ' ',')"
CLEAN_ENV="env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8"

gimp_works() {
    [ -x "$1/usr/bin/gimp-console-3.0" ] &&
        chroot "$1" $CLEAN_ENV gimp-console-3.0 --version >/dev/null 2>&1
}

gui_tools_present() {
    [ -x "$1/usr/bin/Xvfb" ] && [ -x "$1/usr/bin/xdotool" ] && [ -x "$1/usr/bin/gimp-3.0" ]
}

# The mirror this machine already uses (deb822 or one-line sources), so the build works
# where only the configured mirror is reachable.
apt_mirror() {
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        uri=$(sed -n \
            -e 's#^URIs:[[:space:]]*\(http[^[:space:]]*/debian\)/*[[:space:]]*$#\1#p' \
            -e 's#^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\(http[^[:space:]]*/debian\)/*[[:space:]].*#\2#p' \
            "$f" | head -n 1)
        if [ -n "$uri" ]; then
            echo "$uri"
            return
        fi
    done
    echo "error: no Debian mirror found in the apt sources; set CHROMAHINT_DEBIAN_MIRROR" >&2
    exit 1
}

if [ "$(id -u)" != 0 ]; then
    echo "error: the GIMP chroot needs root (mmdebstrap --mode=root, chroot)" >&2
    exit 1
fi

if gimp_works "$CHROOT"; then
    if ! gui_tools_present "$CHROOT"; then
        echo "adding $GUI_PACKAGES to $CHROOT"
        chroot "$CHROOT" $CLEAN_ENV DEBIAN_FRONTEND=noninteractive sh -c \
            "apt-get update -q && apt-get install -y -q --no-install-recommends --reinstall $GUI_PACKAGES && apt-get clean && rm -rf /var/lib/apt/lists/*"
    fi
    echo "GIMP chroot ready: $CHROOT ($(chroot "$CHROOT" $CLEAN_ENV gimp-console-3.0 --version))"
    exit 0
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y mmdebstrap
fi

MIRROR="${CHROMAHINT_DEBIAN_MIRROR:-$(apt_mirror)}"
[ -n "$MIRROR" ] || exit 1
# Build beside the target and rename at the end, so an interrupted build never leaves a
# half-made chroot where the next run would look for a finished one.
BUILD="$CHROOT.building.$$"
trap 'rm -rf "$BUILD"' EXIT INT TERM
mkdir -p "$(dirname "$CHROOT")"
echo "building the GIMP 3 chroot in $CHROOT from $MIRROR (about two minutes)"
start=$(date +%s)
mmdebstrap --mode=root --variant=apt --include="$PACKAGES" trixie "$BUILD" "$MIRROR"
if ! gimp_works "$BUILD"; then
    echo "error: gimp-console-3.0 does not run in the new chroot" >&2
    exit 1
fi
rm -rf "$CHROOT"
mv "$BUILD" "$CHROOT"
trap - EXIT INT TERM
echo "GIMP chroot built in $(($(date +%s) - start)) s: $CHROOT ($(chroot "$CHROOT" $CLEAN_ENV gimp-console-3.0 --version))"
