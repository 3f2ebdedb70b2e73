#!/usr/bin/env bash
# Prove that a built bundle works on its own:
#   packaging/check_bundle.sh [BUNDLE_DIR]       (default packaging/dist/songsim)
#
# 1. no torch inside;  2. `songsim self-test` passes in an empty environment (env -i, PATH=/usr/bin:/bin:
# no venv, no project Python, a throw-away HOME);  3. the CLI answers --help;  4. the GUI starts
# offscreen and stays up without a traceback;  5. the desktop entry and the AppStream metadata validate
# (desktop-file-validate, appstreamcli from Debian's desktop-file-utils and appstream);  6. install.sh
# into a throw-away prefix works, the installed command runs, and uninstall.sh removes every file.
# Exit 0 only if all hold; the last line says PASS or FAIL.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUNDLE=$(cd "${1:-$HERE/dist/songsim}" 2>/dev/null && pwd) || { echo "check_bundle: FAIL: no bundle at ${1:-$HERE/dist/songsim} (run packaging/build_bundle.sh)"; exit 1; }
APP_ID=io.github.songsim.Songsim
GUI_SECONDS=${GUI_SECONDS:-20}
TMP=$(mktemp -d -t songsim-check-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failures=0
passed=0

ok() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
bad() { failures=$((failures + 1)); printf '  FAIL  %s\n' "$*"; }
# An empty environment: what a desktop launcher or a fresh login shell gives the app, minus any Python.
clean_env() { env -i PATH=/usr/bin:/bin HOME="$TMP/home" LANG=C.UTF-8 "$@"; }
mkdir -p "$TMP/home"

echo "checking $BUNDLE"
for exe in songsim songsim-desktop; do
  [ -x "$BUNDLE/$exe" ] && ok "$exe is there" || bad "$BUNDLE/$exe is missing"
done

leaks=$(find "$BUNDLE" -iname '*torch*' | head -5)
[ -z "$leaks" ] && ok "no torch inside" || bad "torch files inside: $leaks"

# The self-test: one line, PASS, exit 0.
out=$(clean_env "$BUNDLE/songsim" self-test 2>"$TMP/selftest.err"); rc=$?
if [ $rc = 0 ] && [ "$(printf '%s\n' "$out" | grep -c '^songsim self-test: PASS')" = 1 ]; then
  ok "$out"
else
  bad "self-test (exit $rc): $out $(tail -5 "$TMP/selftest.err")"
fi

if clean_env "$BUNDLE/songsim" --help >"$TMP/help.out" 2>&1 && grep -q "self-test" "$TMP/help.out"; then
  ok "songsim --help lists the commands"
else
  bad "songsim --help: $(tail -5 "$TMP/help.out")"
fi

# The GUI, offscreen: still running after GUI_SECONDS (timeout's exit 124) and no Python traceback.
clean_env QT_QPA_PLATFORM=offscreen SONGSIM_DATA_DIR="$TMP/gui-data" \
  timeout "$GUI_SECONDS" "$BUNDLE/songsim-desktop" >"$TMP/gui.log" 2>&1; rc=$?
# The app routes uncaught errors to its log file (songsim.log in the data folder), not to stderr.
cat "$TMP/gui-data/songsim.log" >>"$TMP/gui.log" 2>/dev/null
if [ $rc = 124 ] && ! grep -qE "Traceback|uncaught error" "$TMP/gui.log"; then
  ok "songsim-desktop starts offscreen and stays up ${GUI_SECONDS} s"
else
  bad "songsim-desktop (exit $rc): $(tail -8 "$TMP/gui.log")"
fi

# Desktop files, as shipped in the bundle.
if command -v desktop-file-validate >/dev/null && command -v appstreamcli >/dev/null; then
  desktop-file-validate "$BUNDLE/linux/$APP_ID.desktop" >"$TMP/dfv.log" 2>&1 \
    && ok "desktop-file-validate $APP_ID.desktop" || bad "desktop-file-validate: $(cat "$TMP/dfv.log")"
  appstreamcli validate --no-net "$BUNDLE/linux/$APP_ID.metainfo.xml" >"$TMP/as.log" 2>&1 \
    && ok "appstreamcli validate $APP_ID.metainfo.xml" || bad "appstreamcli validate: $(cat "$TMP/as.log")"
else
  bad "desktop-file-validate / appstreamcli missing: apt-get install desktop-file-utils appstream"
fi

# Per-user install and uninstall, into a throw-away prefix.
P=$TMP/prefix
if clean_env PREFIX="$P" bash "$BUNDLE/install.sh" >"$TMP/install.log" 2>&1; then
  missing=""
  for f in bin/songsim bin/songsim-desktop lib/songsim-desktop/songsim "share/applications/$APP_ID.desktop" \
           "share/metainfo/$APP_ID.metainfo.xml" "share/icons/hicolor/48x48/apps/$APP_ID.png" \
           "share/icons/hicolor/256x256/apps/$APP_ID.png" "share/icons/hicolor/scalable/apps/$APP_ID.svg"; do
    [ -e "$P/$f" ] || missing="$missing $f"
  done
  [ -z "$missing" ] && ok "install.sh put every file in place" || bad "install.sh did not install:$missing"
  if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$P/share/applications/$APP_ID.desktop" >"$TMP/dfv2.log" 2>&1 \
      && ok "the installed desktop entry validates" || bad "installed desktop entry: $(cat "$TMP/dfv2.log")"
  fi
  clean_env "$P/bin/songsim" --help >/dev/null 2>&1 && ok "the installed songsim runs" || bad "the installed songsim does not run"
  clean_env PREFIX="$P" bash "$P/lib/songsim-desktop/uninstall.sh" >"$TMP/uninstall.log" 2>&1
  # mimeinfo.cache / icon-theme.cache belong to the desktop database (rebuilt by uninstall.sh), not to us.
  left=$(find "$P" \( -type f -o -type l \) ! -name mimeinfo.cache ! -name icon-theme.cache | head -5)
  [ -z "$left" ] && ok "uninstall.sh removed every file" || bad "uninstall.sh left: $left"
else
  bad "install.sh: $(tail -5 "$TMP/install.log")"
fi

if [ $failures = 0 ]; then
  echo "check_bundle: PASS ($passed checks, bundle $(du -sh "$BUNDLE" | cut -f1))"
  exit 0
fi
echo "check_bundle: FAIL ($failures of $((passed + failures)) checks failed)"
exit 1
