#!/usr/bin/env bash
# Remove a per-user songsim install made by install.sh (PREFIX=... if it was not ~/.local).
#
#   ~/.local/lib/songsim-desktop/uninstall.sh [--quiet]
#
# Removes the app folder and exactly the files listed in its .installed-files (menu entry, icons,
# metadata, the two command links). The library data (~/.local/share/songsim: database, index,
# fine-tuned models) and the settings are the user's and are kept; the last line says where.
set -euo pipefail

APP_ID=io.github.songsim.Songsim

main() {
  local quiet=0 prefix appdir manifest path
  [ "${1:-}" = "--quiet" ] && quiet=1
  prefix=${PREFIX:-$HOME/.local}
  appdir=$prefix/lib/songsim-desktop
  manifest=$appdir/.installed-files
  if [ ! -d "$appdir" ]; then
    [ $quiet = 1 ] || echo "uninstall.sh: songsim is not installed in $appdir" >&2
    return 0
  fi
  if [ ! -f "$manifest" ] && [ ! -x "$appdir/songsim" ]; then
    echo "uninstall.sh: error: $appdir does not look like a songsim install; not touching it" >&2
    return 1
  fi

  if [ -f "$manifest" ]; then
    while IFS= read -r path; do
      case "$path" in "$prefix"/*) ;; *) continue ;; esac  # never outside the prefix
      if [ -L "$path" ]; then
        # A command link is removed only while it still points into this install.
        case "$(readlink "$path")" in "$appdir"/*) rm -f "$path" ;; esac
      elif [ -f "$path" ]; then
        rm -f "$path"
      fi
    done <"$manifest"
  fi
  rm -rf "$appdir"

  command -v update-desktop-database >/dev/null && update-desktop-database -q "$prefix/share/applications" 2>/dev/null || true
  [ -d "$prefix/share/icons/hicolor" ] && command -v gtk-update-icon-cache >/dev/null \
    && gtk-update-icon-cache -q -t -f "$prefix/share/icons/hicolor" 2>/dev/null || true

  if [ $quiet = 0 ]; then
    echo "songsim removed from $appdir"
    echo "  your library data is kept in ${SONGSIM_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/songsim} (delete it by hand if you want)"
  fi
}

main "$@"; exit $?
