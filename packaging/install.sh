#!/usr/bin/env bash
# Per-user install of the songsim bundle: no root, no Python needed.
#
#   ./install.sh                 from an unpacked bundle (or packaging/install.sh after build_bundle.sh)
#   PREFIX=/some/prefix ./install.sh   somewhere else than ~/.local
#
# Puts the app in $PREFIX/lib/songsim-desktop (not $PREFIX/share/songsim: that is the library data
# folder), links songsim and songsim-desktop into $PREFIX/bin, and registers the menu entry, the icons
# and the AppStream metadata under $PREFIX/share. Every file written outside the app folder is listed
# in its .installed-files, which uninstall.sh reads. Re-running replaces an older install.
set -euo pipefail

APP_ID=io.github.songsim.Songsim

main() {
  local here prefix bundle appdir data
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  prefix=${PREFIX:-$HOME/.local}
  if [ -x "$here/songsim" ] && [ -d "$here/_internal" ]; then
    bundle=$here
  elif [ -x "$here/dist/songsim/songsim" ]; then
    bundle=$here/dist/songsim
  else
    echo "install.sh: error: no bundle next to $0 (build it with packaging/build_bundle.sh)" >&2
    return 1
  fi
  data=$bundle/linux
  [ -f "$data/$APP_ID.desktop" ] || { echo "install.sh: error: $data/$APP_ID.desktop is missing" >&2; return 1; }
  appdir=$prefix/lib/songsim-desktop
  case "$appdir" in
    *'"'* | *'`'* | *'$'* | *'\'*) echo "install.sh: error: cannot install into $appdir (quote, \$ or \\ in the path)" >&2; return 1 ;;
  esac

  # The app folder: copied whole, then swapped in, so a failed copy leaves the old install intact.
  if [ "$bundle" != "$appdir" ]; then
    mkdir -p "$prefix/lib"
    rm -rf "$appdir.new"
    cp -a "$bundle" "$appdir.new"
    [ -x "$appdir/uninstall.sh" ] && PREFIX="$prefix" "$appdir/uninstall.sh" --quiet || true
    rm -rf "$appdir"
    mv "$appdir.new" "$appdir"
  fi
  local manifest=$appdir/.installed-files
  : >"$manifest"
  record() { printf '%s\n' "$1" >>"$manifest"; }

  # Commands. A regular file there is someone else's (e.g. `pip install --user`): leave it alone.
  mkdir -p "$prefix/bin"
  local exe
  for exe in songsim songsim-desktop; do
    if [ -e "$prefix/bin/$exe" ] && [ ! -L "$prefix/bin/$exe" ]; then
      echo "install.sh: note: $prefix/bin/$exe exists and is not ours; left as is (the bundle's is $appdir/$exe)" >&2
      continue
    fi
    ln -sfn "$appdir/$exe" "$prefix/bin/$exe"
    record "$prefix/bin/$exe"
  done

  # Menu entry: Exec points at the installed executable, so it works even if $prefix/bin is not on PATH.
  local apps=$prefix/share/applications
  mkdir -p "$apps"
  sed -e "s|^Exec=songsim-desktop|Exec=\"$appdir/songsim-desktop\"|" \
      -e "s|^TryExec=.*|TryExec=$appdir/songsim-desktop|" \
      "$data/$APP_ID.desktop" >"$apps/$APP_ID.desktop"
  record "$apps/$APP_ID.desktop"

  # Icons in every hicolor size, and the AppStream metadata for software centres.
  local icon rel
  while IFS= read -r -d '' icon; do
    rel=${icon#"$data/icons/"}
    mkdir -p "$prefix/share/icons/$(dirname "$rel")"
    cp "$icon" "$prefix/share/icons/$rel"
    record "$prefix/share/icons/$rel"
  done < <(find "$data/icons" -type f -print0)
  mkdir -p "$prefix/share/metainfo"
  cp "$data/$APP_ID.metainfo.xml" "$prefix/share/metainfo/"
  record "$prefix/share/metainfo/$APP_ID.metainfo.xml"

  # Caches: desktops pick the entry up without a re-login. Optional tools; absence is fine.
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$apps" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t -f "$prefix/share/icons/hicolor" 2>/dev/null || true

  echo "songsim installed in $appdir"
  echo "  start it from the applications menu, or run: $prefix/bin/songsim-desktop"
  echo "  command line: $prefix/bin/songsim --help   (check the install: songsim self-test)"
  case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "  note: $prefix/bin is not on your PATH" ;; esac
  echo "  remove it with: $appdir/uninstall.sh"
}

main "$@"; exit $?
