#!/usr/bin/env bash
# mkimage-busybox.sh OUT.tar — a minimal root filesystem tarball made from
# the host's static busybox (package busybox-static):
#   bin/busybox and a symlink bin/<applet> -> busybox for every applet,
#   etc dev proc sys tmp(1777) root home var usr/bin sbin,
#   etc/passwd (root, app 1000, www-data 33, nobody 65534),
#   etc/group (root, tty, www-data, app, extra 2000 with member app, nogroup),
#   home/app owned by 1000:1000.
# Every other file belongs to 0:0 (tar --owner=0 --group=0 --numeric-owner).
# Run as root, home/app really is 1000:1000. Run as an ordinary user, which
# cannot chown, home/app is written as 0:0 like the rest and the script says
# so; import the image as root-built if that matters to you.
set -euo pipefail

out="${1:?usage: mkimage-busybox.sh OUT.tar}"
busybox="${BUSYBOX:-/bin/busybox}"
if [ ! -x "$busybox" ]; then
  echo "mkimage-busybox: $busybox not found (install busybox-static)" >&2
  exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
  echo "mkimage-busybox: $busybox is dynamically linked (install busybox-static)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mkimage-busybox.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
umask 022
mkdir -p "$root"/{bin,etc,dev,proc,sys,tmp,root,home/app,var,usr/bin,sbin}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

install -m 0755 "$busybox" "$root/bin/busybox"
"$busybox" --list | while read -r applet; do
  [ -n "$applet" ] && [ "$applet" != busybox ] || continue
  ln -s busybox "$root/bin/$applet"
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
www-data:x:33:
app:x:1000:
extra:x:2000:app
nogroup:x:65534:
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group"

# Reproducible: fixed mtimes, sorted names, numeric owners.
# Entries are named like docker export's (bin/sh, not ./bin/sh).
tar_opts=(--numeric-owner --sort=name --mtime=@1700000000 --format=gnu)
mapfile -t top < <(cd "$root" && ls -A)
if [ "$(id -u)" -eq 0 ]; then
  chown -R 0:0 "$root"
  chown 1000:1000 "$root/home/app"
  tar "${tar_opts[@]}" -C "$root" -cf "$out" "${top[@]}"
else
  # An ordinary user cannot chown: everything, home/app included, is 0:0.
  echo "mkimage-busybox: not root, so home/app is owned by 0:0 in $out" >&2
  tar "${tar_opts[@]}" --owner=0 --group=0 -C "$root" -cf "$out" "${top[@]}"
fi
echo "mkimage-busybox: wrote $out ($(du -h "$out" | cut -f1))"
