#!/usr/bin/env bash
# Builds the one-folder bundle dist/localfirst/ from packaging/localfirst.spec, from scratch.
#
#     bash packaging/build.sh
#
# Uses the project's .venv (created by scripts/setup.sh with the `package` extra if missing).
# Environment: PYTHON=an interpreter with the project and PyInstaller instead of .venv's;
# DISTPATH / WORKPATH to build elsewhere than dist/ and build/pyinstaller/.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

python="${PYTHON:-}"
if [ -z "$python" ]; then
    python=.venv/bin/python
    [ -x "$python" ] || bash scripts/setup.sh package
fi
if ! "$python" -c "import PyInstaller, PySide6, localfirst" 2>/dev/null; then
    echo "build: installing the project with the package extra into $("$python" -c 'import sys; print(sys.prefix)')"
    "$python" -m pip install -q -e "${root}[package]"
fi

# On Debian/Ubuntu, the xcb platform plugin needs a few X libraries a minimal image lacks;
# present at build time, they ship in the bundle, so the app also starts where they are missing.
if [ "$(uname -s)" = Linux ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    need=()
    for lib in libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-cursor.so.0 libwayland-cursor.so.0; do
        ldconfig -p | grep -q "$lib" || need+=("$lib")
    done
    if [ "${#need[@]}" -gt 0 ]; then
        echo "build: installing system packages for: ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libwayland-cursor0 >/dev/null
    fi
fi

dist="${DISTPATH:-$root/dist}"
work="${WORKPATH:-$root/build/pyinstaller}"
start=$SECONDS
"$python" -m PyInstaller --noconfirm --clean --log-level "${LOG_LEVEL:-WARN}" \
    --distpath "$dist" --workpath "$work" packaging/localfirst.spec
echo "build: $dist/localfirst ($(du -sh "$dist/localfirst" | cut -f1)) in $((SECONDS - start)) s"
