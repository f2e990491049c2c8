#!/usr/bin/env bash
# Build burrow's Debian package from a built binary:
#
#   bash packaging/deb.sh [BURROW_BIN] [OUTDIR]
#
# BURROW_BIN defaults to target/release/burrow (built with cargo when
# missing), OUTDIR to target/debian. The package installs /usr/bin/burrow,
# its bash, zsh and fish completions and a man page per verb (both
# generated from the clap definitions by the binary itself: `burrow
# completion SHELL`, `burrow __man DIR`), depends on what the binary
# links and on uidmap (newuidmap, for subordinate id ranges) and fuse3
# (/dev/fuse), and its postinst prints what an administrator may still
# need to do (`burrow __host-setup`: subordinate ids, /dev/fuse,
# /dev/net/tun, ping, cgroup delegation; the fixes `burrow info` gives a
# user) without doing any of it. Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/burrow}"
out="${2:-target/debian}"
if [ ! -x "$bin" ]; then
  cargo build --release >&2
  bin=target/release/burrow
fi
version=$(sed -nE '/^\[workspace.package\]/,/^\[/ s/^version = "(.*)"/\1/p' Cargo.toml)
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

install -D -m 0755 "$bin" "$root/usr/bin/burrow"
# Symbols stay (backtraces name functions); debug info does not.
strip --strip-debug "$root/usr/bin/burrow"
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d" "$root/usr/share/man/man1" "$root/usr/share/doc/burrow"
"$bin" completion bash >"$root/usr/share/bash-completion/completions/burrow"
"$bin" completion zsh >"$root/usr/share/zsh/vendor-completions/_burrow"
"$bin" completion fish >"$root/usr/share/fish/vendor_completions.d/burrow.fish"
"$bin" __man "$root/usr/share/man/man1" >/dev/null
gzip -9n "$root"/usr/share/man/man1/*.1
install -m 0644 README.md "$root/usr/share/doc/burrow/README.md"
gzip -9n "$root/usr/share/doc/burrow/README.md"
printf 'burrow is licensed under the Apache License 2.0; see /usr/share/common-licenses/Apache-2.0.\n' \
  >"$root/usr/share/doc/burrow/copyright"

# The shared libraries the binary links, as the packages that ship them.
libs=$(ldd "$bin" | awk '/=> \//{print $3}' | xargs -r readlink -f | sort -u)
deps=$(for l in $libs; do dpkg -S "$l" 2>/dev/null || dpkg -S "${l#/usr}" 2>/dev/null; done |
  cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
size=$(du -sk "$root" | cut -f1)
install -d "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: burrow
Version: $version
Architecture: $arch
Maintainer: burrow developers <burrow@localhost>
Installed-Size: $size
Depends: ${deps:+$deps, }uidmap, fuse3
Section: admin
Priority: optional
Description: rootless, daemonless container engine
 burrow runs containers the way the docker command line does (pull,
 build, run with ports, volumes and limits, logs, exec, networks,
 compose) as an ordinary user: no daemon and no root anywhere, with user
 namespaces, its own FUSE overlay and its own userspace network stack.
CONTROL
cat >"$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# Explains, changes nothing: what an administrator may need to do for
# users to run containers (the same fixes `burrow info` names).
set -e
if [ "$1" = configure ]; then
  /usr/bin/burrow __host-setup || true
fi
POSTINST
chmod 0755 "$root/DEBIAN/postinst"
mkdir -p "$out"
deb="$out/burrow_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
