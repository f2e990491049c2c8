#!/usr/bin/env bash
# mkimage-debian.sh OUTDIR — a Debian 12 (bookworm) minbase image as an OCI
# image layout with four layers, for the registry tests and benchmarks:
#
#   layer 1  everything but the three below   tar+gzip
#   layer 2  /usr/lib                         tar+zstd
#   layer 3  /usr/share                       tar+gzip
#   layer 4  /var                             tar (uncompressed)
#
# Each layer has the parent directories of its entries; applied in order the
# layers give debootstrap's tree (without /dev's device nodes, which a
# rootless engine cannot create). The manifest is tagged `bookworm` in
# index.json (org.opencontainers.image.ref.name); the config has Cmd
# ["/bin/bash"], Env PATH, os linux and the host's architecture. See
# packaging/oci-layout.py for the layout writer.
#
# Run as root (debootstrap). Cached: when OUTDIR/.stamp names the hash of
# this script and of oci-layout.py, OUTDIR is kept as it is. The result is
# world-readable.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
# DEBIAN_ROOTFS_TAR (a tarball of an earlier debootstrap'd tree to use
# instead of running debootstrap, e.g. the one packaging/bench/fs keeps).
set -euo pipefail

out="${1:?usage: mkimage-debian.sh OUTDIR}"
here=$(cd "$(dirname "$0")" && pwd)
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
say() { printf 'mkimage-debian: %s\n' "$*"; }

stamp=$(cat "$here/mkimage-debian.sh" "$here/oci-layout.py" | sha256sum | cut -d' ' -f1)
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && [ -f "$out/index.json" ]; then
  say "$out is up to date"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "mkimage-debian: run as root (debootstrap)" >&2
  exit 1
fi

parent=$(dirname "$out")
install -d -m 0755 "$parent"
work=$(mktemp -d "$parent/.mkimage-debian.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -n "${DEBIAN_ROOTFS_TAR:-}" ]; then
  say "using $DEBIAN_ROOTFS_TAR instead of debootstrap"
  cp "$DEBIAN_ROOTFS_TAR" "$work/rootfs.tar"
else
  say "debootstrap --variant=minbase bookworm ($mirror)"
  if ! debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    echo "mkimage-debian: debootstrap failed" >&2
    exit 1
  fi
  # apt's downloaded packages are not part of an image.
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*_*
  tar --numeric-owner --sort=name -C "$work/root" --exclude='./dev/*' -cf "$work/rootfs.tar" .
  rm -rf "$work/root"
fi

python3 "$here/oci-layout.py" "$work/rootfs.tar" "$work/oci" --ref bookworm \
  --base gzip --layer usr/lib=zstd --layer usr/share=gzip --layer var=none \
  --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo "$stamp" >"$work/oci/.stamp"
chmod -R a+rX "$work/oci"
rm -rf "$out"
mv "$work/oci" "$out"
say "wrote $out ($(du -sh "$out" | cut -f1))"
