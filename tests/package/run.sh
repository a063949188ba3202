#!/usr/bin/env bash
# Install a Fieldcase .deb with the system's package manager, check what it
# put on the machine, start the installed app on a virtual display and keep a
# screenshot of its first-run screen, run the installed CLI, and remove the
# package again (also when a check fails).
#
#   tests/package/run.sh PACKAGE.deb SCREENS_DIR
#
# Needs root or sudo, xvfb-run, dbus-run-session and ImageMagick (make deps).
set -euo pipefail

deb=$(realpath "$1")
screens=$2
mkdir -p "$screens"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
name=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)
workspace_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { printf '  %s\n' "$*"; }

[ "$version" = "$workspace_version" ] || fail "package version $version, workspace version $workspace_version"
if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed'; then
  fail "$name is installed already; remove it first (apt-get remove $name)"
fi

work=$(mktemp -d)
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 remove -y -q "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "install $name $version with apt-get (dependencies resolved by it)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$deb" >/dev/null

step "files: app, CLI, desktop entry, icon"
files=$(dpkg -L "$name")
app=$(grep -E '^/usr/bin/' <<<"$files" | grep -v '/usr/bin/fieldcase$' | head -1)
[ -n "$app" ] && [ -x "$app" ] || fail "no app binary in /usr/bin: $files"
[ -x /usr/bin/fieldcase ] || fail "the CLI /usr/bin/fieldcase is not installed"
desktop=$(grep -E '^/usr/share/applications/.*\.desktop$' <<<"$files" | head -1)
[ -n "$desktop" ] || fail "no desktop entry"
grep -q "^Exec=$(basename "$app")" "$desktop" || fail "the desktop entry does not start $(basename "$app"): $(cat "$desktop")"
grep -q '^Name=Fieldcase' "$desktop" || fail "the desktop entry is not named Fieldcase"
grep -qE '^/usr/share/icons/hicolor/.*\.png$' <<<"$files" || fail "no icon"

step "installed CLI: fieldcase --version"
out=$(/usr/bin/fieldcase --version)
[ "$out" = "fieldcase $workspace_version" ] || fail "fieldcase --version printed '$out'"

step "installed app: the first-run screen draws"
# A fresh home: the app's default vault place is empty, so it opens on the
# first-run screen, as on a new laptop.
export HOME=$work/home XDG_DATA_HOME=$work/home/.local/share
mkdir -p "$HOME"
cat >"$work/look.sh" <<LOOK
set -euo pipefail
NO_AT_BRIDGE=1 GTK_USE_PORTAL=0 "$app" >"$work/app.log" 2>&1 &
echo \$! >"$work/app.pid"
# The app's window: the largest top-level window titled Fieldcase (GTK
# makes small helper windows too). ImageMagick's import would wait for a
# click when no window has the title, so xwininfo looks first.
wid=""
for _ in \$(seq 1 90); do
  wid=\$(xwininfo -root -tree | awk '/"Fieldcase"/ { split(\$0, g, /[ ]+/); for (i in g) if (g[i] ~ /^[0-9]+x[0-9]+\+/) { split(g[i], d, /[x+]/); a = d[1] * d[2]; if (a > best) { best = a; id = \$1 } } } END { print id }')
  [ -n "\$wid" ] && break
  sleep 1
done
[ -n "\$wid" ] || { echo "no window titled Fieldcase after 90 s"; cat "$work/app.log"; exit 1; }
# The web view draws after the window maps, the header bar first and the
# screen below it once the app has looked for a vault: wait until the part
# below the header shows a page (labels, fields, a button: many colours,
# not a flat background with a loading mark).
colours=0
for _ in \$(seq 1 90); do
  import -window "\$wid" "$work/window.png"
  colours=\$(convert "$work/window.png" -crop +0+64 +repage -format %k info:)
  if [ "\$colours" -gt 64 ]; then break; fi
  sleep 1
done
sleep 1
import -window root "$screens/installed-first-run.png"
echo "\$colours" >"$work/colours"
kill \$(cat "$work/app.pid") || true
LOOK
timeout --kill-after=10 240 xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash "$work/look.sh" \
  || fail "the installed app did not draw a window (see above)"
colours=$(cat "$work/colours")
[ "$colours" -gt 64 ] || fail "the screen below the header stayed blank ($colours colours); screenshot: $screens/installed-first-run.png"
step "first-run screen drawn ($colours colours); screenshot $screens/installed-first-run.png"

step "remove the package"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 remove -y -q "$name" >/dev/null
[ ! -e /usr/bin/fieldcase ] || fail "/usr/bin/fieldcase is still there after removal"
[ ! -e "$app" ] || fail "$app is still there after removal"
echo "package test passed: $name $version"
