#!/usr/bin/env bash
# Build the one-folder Linux bundle from this checkout:
#   packaging/dist/songsim/                         the app (songsim, songsim-desktop, _internal/, linux/, install.sh)
#   packaging/dist/songsim-<version>-linux-<arch>.tar.gz   the same, to hand to users
#
#   packaging/build_bundle.sh            (PYTHON=python3.11 to choose the interpreter; needs a shared libpython)
#
# Steps: a build venv of its own (packaging/build/venv, kept between builds, never the dev .venv, so no
# torch can leak in) -> the wheel, built from a copy of the tracked files (the checkout stays clean) ->
# the wheel + PyInstaller installed into the build venv -> PyInstaller runs packaging/songsim.spec ->
# desktop files and install scripts copied beside the executables -> tarball.
# Then run packaging/check_bundle.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
PY=${PYTHON:-python3}
WORK=$HERE/build
VENV=$WORK/venv
DIST=$HERE/dist
APP=$DIST/songsim

say() { printf '[build_bundle] %s\n' "$*" >&2; }
die() { printf '[build_bundle] error: %s\n' "$*" >&2; exit 1; }

"$PY" -c 'import sys, sysconfig; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' \
  || die "while checking $PY: PyInstaller needs a Python built with a shared libpython (Debian's python3 is)"

# 1. The build venv: recreated when pyproject.toml changes (its dependencies may have).
stamp="$VENV/.songsim-build-$(sha256sum "$REPO/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "creating the build venv in $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q --upgrade "pyinstaller>=6.5" build setuptools wheel
  touch "$stamp"
fi

# 2. The wheel, from a copy of what git tracks (plus new files not ignored): no build/ litter in the
#    checkout, and nothing ignored (.venv, caches, corpus) can end up in the wheel.
SRC=$WORK/src
rm -rf "$SRC" "$WORK/wheel" && mkdir -p "$SRC" "$WORK/wheel"
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$REPO" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
     [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -xf - -C "$SRC"
else
  tar -C "$REPO" --exclude=./.venv --exclude=./packaging/build --exclude=./packaging/dist \
      --exclude='__pycache__' --exclude='*.egg-info' -cf - . | tar -xf - -C "$SRC"
fi
say "building the wheel"
"$VENV/bin/python" -m build --wheel --no-isolation --outdir "$WORK/wheel" "$SRC" >"$WORK/wheel.log" 2>&1 \
  || { tail -30 "$WORK/wheel.log" >&2; die "while building the wheel from $SRC (log: $WORK/wheel.log)"; }
WHEEL=$(ls "$WORK"/wheel/songsim_desktop-*.whl)

# 3. Install it (with its runtime dependencies only: no [train] extra, so no torch).
say "installing $(basename "$WHEEL") into the build venv"
"$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$WHEEL"
"$VENV/bin/python" -m pip install -q "$WHEEL"
if "$VENV/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)'; then
  die "while checking $VENV: torch is installed there; the bundle must not carry it (delete $VENV and rerun)"
fi

# 4. PyInstaller.
say "running PyInstaller (a few minutes)"
rm -rf "$APP"
(cd "$WORK" && "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
   --distpath "$DIST" --workpath "$WORK/pyinstaller" "$HERE/songsim.spec") >"$WORK/pyinstaller.log" 2>&1 \
  || { tail -40 "$WORK/pyinstaller.log" >&2; die "while running PyInstaller (log: $WORK/pyinstaller.log)"; }

# 5. Desktop integration and the per-user install scripts travel with the app.
cp -r "$HERE/linux" "$APP/linux"
cp "$HERE/install.sh" "$HERE/uninstall.sh" "$APP/"
chmod +x "$APP/install.sh" "$APP/uninstall.sh"
VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("songsim-desktop"))')
cat >"$APP/README.txt" <<EOF
songsim $VERSION - find the songs in your own music library that sound alike.

  ./install.sh          install for this user (~/.local): menu entry, icon, songsim + songsim-desktop
  ./songsim-desktop     or run the app from here without installing
  ./songsim self-test   check that this copy works (prints one PASS/FAIL line)
  ./uninstall.sh        remove it again (your library data in ~/.local/share/songsim is kept)

Fine-tuning the model needs the full Python install: pip install 'songsim-desktop[train]'
EOF

if find "$APP" -iname '*torch*' | grep -q .; then die "torch files found in $APP"; fi

# 6. The tarball users download.
TARBALL=$DIST/songsim-$VERSION-linux-$(uname -m).tar.gz
tar -C "$DIST" -czf "$TARBALL" songsim
say "bundle: $APP ($(du -sh "$APP" | cut -f1)); archive: $TARBALL ($(du -sh "$TARBALL" | cut -f1))"
say "next: packaging/check_bundle.sh"
