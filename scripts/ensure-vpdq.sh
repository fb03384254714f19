#!/bin/sh
# Meta's vpdq (PyPI, a binding built against FFmpeg's libraries) for the tests that hold our
# video hashes to it. Installs Debian's FFmpeg -dev packages where it can; never fails the
# build: the tests that need vpdq skip with the reason where it is missing.
PY="$1"
if "$PY" -c 'import vpdq' 2>/dev/null; then exit 0; fi
if ! pkg-config --exists libavcodec libavformat libswscale libavutil 2>/dev/null; then
    if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "vpdq tests will be skipped: FFmpeg's -dev packages are missing and apt-get as root is not available"
        exit 0
    fi
    echo "installing Debian's FFmpeg -dev packages for Meta's vpdq..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config \
        libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev \
        libavfilter-dev >/dev/null) \
        || { echo "vpdq tests will be skipped: apt-get install of FFmpeg's -dev packages failed"; exit 0; }
fi
"$PY" -m pip install --quiet vpdq \
    || echo "vpdq tests will be skipped: pip install vpdq failed (it builds against FFmpeg's libraries)"
exit 0
