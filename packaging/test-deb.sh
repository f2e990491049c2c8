#!/usr/bin/env bash
# The package route end to end, as root (packaging/test.sh runs it after
# the test executables on a full run):
#
#   bash packaging/test-deb.sh BURROW_BIN BUSYBOX_TAR [USER]
#
# builds the .deb from BURROW_BIN (packaging/deb.sh), installs it with
# `apt-get install ./burrow_*.deb`, checks what it put in place (binary,
# completions that bash loads, man pages, the postinst's explanation),
# runs `burrow info` and a container as the unprivileged USER (default
# burrowtest) with the installed /usr/bin/burrow, and removes the package
# again, checking nothing of it is left. Prints "package: ok" and exits 0,
# or says what failed and exits 1. Refuses to run when a burrow package
# is already installed (it would be replaced and then removed).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1 busybox=$2 user=${3:-burrowtest}
fail() { echo "package: FAILED: $*" >&2; exit 1; }
if dpkg-query -W -f='${Status}' burrow 2>/dev/null | grep -q "install ok installed"; then
  fail "a burrow package is already installed; remove it first (this test installs and removes its own)"
fi
work=$(mktemp -d /tmp/burrow-deb.XXXX)
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
deb=$(bash packaging/deb.sh "$bin" "$work")
echo "package: built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
log="$work/install.log"
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >"$log" 2>&1 ||
  { cat "$log"; fail "apt-get install $deb"; }
removed=
remove() { [ -n "$removed" ] || DEBIAN_FRONTEND=noninteractive apt-get remove -y burrow >/dev/null 2>&1 || true; }
trap 'remove; rm -rf "$work"' EXIT
grep -q "burrow: " "$log" || { cat "$log"; fail "the postinst said nothing about the host's set-up"; }
[ "$(command -v burrow)" = /usr/bin/burrow ] || fail "burrow is not /usr/bin/burrow after the install"
for f in /usr/share/bash-completion/completions/burrow /usr/share/zsh/vendor-completions/_burrow \
  /usr/share/fish/vendor_completions.d/burrow.fish /usr/share/man/man1/burrow.1.gz \
  /usr/share/man/man1/burrow-run.1.gz /usr/share/man/man1/burrow-network-create.1.gz; do
  [ -s "$f" ] || fail "$f is missing"
done
bash -c 'source /usr/share/bash-completion/completions/burrow && complete -p burrow' >/dev/null ||
  fail "bash does not load the completion script"
zcat /usr/share/man/man1/burrow-run.1.gz | grep -q -- 'publish' || fail "burrow-run.1 does not document --publish"

uid=$(id -u "$user")
store="$work/store"
install -d -o "$user" -m 0700 "$store"
as_user() {
  runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" LOGNAME="$user" \
    PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="/run/user/$uid" BURROW_ROOT="$store" "$@"
}
as_user burrow info >"$work/info" 2>&1 || { cat "$work/info"; fail "burrow info as $user"; }
grep -q "^burrow version" "$work/info" || fail "burrow info printed no version"
install -m 0644 "$busybox" "$work/busybox.tar"
as_user burrow import "$work/busybox.tar" pkg-busybox >/dev/null || fail "burrow import as $user"
out=$(as_user burrow run --rm pkg-busybox echo package-ok 2>&1) || fail "burrow run as $user: $out"
[ "$out" = package-ok ] || fail "the container printed $out"
as_user burrow rmi pkg-busybox >/dev/null 2>&1 || true

DEBIAN_FRONTEND=noninteractive apt-get remove -y burrow >/dev/null 2>&1 || fail "apt-get remove burrow"
removed=1
[ ! -e /usr/bin/burrow ] || fail "/usr/bin/burrow is still there after apt-get remove"
[ ! -e /usr/share/man/man1/burrow-run.1.gz ] || fail "the man pages are still there after apt-get remove"
echo "package: ok (installed, ran a container as $user, removed)"
