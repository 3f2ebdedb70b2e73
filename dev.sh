#!/usr/bin/env bash
# One entry point for a fresh machine:
#   ./dev.sh app    set everything up, then launch the desktop app
#   ./dev.sh test   set everything up, then run the whole test suite (what CI runs)
#   ./dev.sh setup  set everything up only
# Everything installs into ./.venv from this repo's own pyproject.toml; re-running is cheap because
# the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=.venv

system_packages() {
  # Audition needs PortAudio; a real X display needs xcb-cursor & co. Both optional: the app runs
  # without them (audition disabled / offscreen), so failure here is reported, not fatal.
  local want=("$@") missing=()
  for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${missing[*]}" >&2
    { apt-get install -y -qq "${missing[@]}" || { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }; } >/dev/null \
      || echo "warning: could not install ${missing[*]}; audition or the on-screen window may be unavailable" >&2
  else
    echo "note: for audition and a real window install: sudo apt-get install ${missing[*]}" >&2
  fi
}

setup() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  local stamp="$VENV/.songsim-installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[train,dev]"
    rm -f "$VENV"/.songsim-installed-* && touch "$stamp"
  fi
}

case "${1:-}" in
  app)
    system_packages libportaudio2 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1
    setup
    shift; exec "$VENV/bin/python" -m songsim_desktop "$@" ;;
  test)
    setup
    shift; exec "$VENV/bin/python" -m pytest "$@" ;;
  setup)
    setup ;;
  *)
    echo "usage: ./dev.sh app|test|setup" >&2; exit 2 ;;
esac
