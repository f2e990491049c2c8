#!/usr/bin/env bash
# Prepare a Debian 12 host for burrow's tests, demo and benchmarks. Run as
# root; safe to run again (every step checks before it changes anything).
#
# What it does:
#   - installs the packages below (apt-get update only when one is missing)
#   - creates the unprivileged test user ($BURROW_TEST_USER, default
#     burrowtest) with subordinate uid/gid ranges and /run/user/UID
#   - creates a second unprivileged user ($BURROW_TEST_OTHER_USER, default
#     burrowother) that the test user may act as through sudo, nothing more,
#     so the tests can check what other users of the machine can reach
#   - opens /dev/fuse and /dev/net/tun to ordinary users (0666)
#   - allows unprivileged ping and user namespaces
#   - delegates cgroups to the user: cgroup v2 /sys/fs/cgroup/burrow.slice/USER,
#     or on a v1/hybrid host /sys/fs/cgroup/<controller>/burrow/USER
#   - makes rootless podman usable for the benchmarks (hugetlb controller,
#     cgroupfs manager, file events logger)
set -euo pipefail

PACKAGES="uidmap fuse3 iproute2 busybox-static libseccomp-dev pkg-config acl attr libcap2-bin procps util-linux
          podman netavark aardvark-dns skopeo docker-registry debootstrap fuse-overlayfs slirp4netns passt iperf3 hyperfine
          apache2-utils openssl curl zstd python3 ca-certificates sudo gcc libc6-dev"

user="${BURROW_TEST_USER:-burrowtest}"
say() { printf 'provision: %s\n' "$*"; }
warn() { printf 'provision: warning: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "provision: must run as root" >&2
  exit 1
fi

# --- packages ---------------------------------------------------------------
missing=()
for p in $PACKAGES; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # docker-registry's packaged service is not wanted: tests start their own.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
else
  say "packages already installed"
fi

# --- test user --------------------------------------------------------------
if ! id -u "$user" >/dev/null 2>&1; then
  say "creating user $user"
  useradd -m -s /bin/bash "$user"
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
home=$(getent passwd "$user" | cut -d: -f6)

# The first free start past every range in /etc/subuid and /etc/subgid.
next_free_range() {
  cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: '
    BEGIN { m = 100000 }
    NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { e = $2 + $3; if (e > m) m = e }
    END { printf "%d\n", m }'
}
has_range() { # file
  [ -f "$1" ] && grep -qE "^(${user}|${uid}):[0-9]+:[0-9]+" "$1"
}
touch /etc/subuid /etc/subgid
if ! has_range /etc/subuid || ! has_range /etc/subgid; then
  start=$(next_free_range)
  end=$((start + 65535))
  if ! has_range /etc/subuid; then
    say "adding subordinate uids $start-$end for $user"
    usermod --add-subuids "$start-$end" "$user"
  fi
  if ! has_range /etc/subgid; then
    say "adding subordinate gids $start-$end for $user"
    usermod --add-subgids "$start-$end" "$user"
  fi
fi

# XDG_RUNTIME_DIR, as a systemd login would make it.
if [ ! -d "/run/user/$uid" ]; then
  say "creating /run/user/$uid"
  mkdir -p /run/user
  chmod 0755 /run/user
  install -d -m 0700 -o "$uid" -g "$gid" "/run/user/$uid"
fi
chown "$uid:$gid" "/run/user/$uid"
chmod 0700 "/run/user/$uid"

# --- a second user -----------------------------------------------------------
# Another user of the machine, to check that burrow's store is out of its
# reach (tests/store_private.rs). The test user may run commands as it, and
# only as it, without a password; it has no home and no login shell.
other="${BURROW_TEST_OTHER_USER:-burrowother}"
if ! id -u "$other" >/dev/null 2>&1; then
  say "creating user $other"
  useradd -M -d /nonexistent -s /usr/sbin/nologin "$other"
fi
rule="$user ALL=($other) NOPASSWD: ALL"
sudoers=/etc/sudoers.d/burrow-test
if [ "$(cat "$sudoers" 2>/dev/null)" != "$rule" ]; then
  say "letting $user run commands as $other ($sudoers)"
  printf '%s\n' "$rule" >"$sudoers.tmp"
  chmod 0440 "$sudoers.tmp"
  visudo -qcf "$sudoers.tmp"
  mv "$sudoers.tmp" "$sudoers"
fi

# --- devices ----------------------------------------------------------------
if [ ! -c /dev/net/tun ]; then
  say "creating /dev/net/tun"
  mkdir -p /dev/net
  mknod /dev/net/tun c 10 200
fi
for dev in /dev/fuse /dev/net/tun; do
  if [ -c "$dev" ]; then
    if [ "$(stat -c %a "$dev")" != 666 ]; then
      say "chmod 0666 $dev"
      chmod 0666 "$dev"
    fi
  else
    warn "$dev is missing (FUSE tests will fail)"
  fi
done

# --- sysctls ----------------------------------------------------------------
set_sysctl() { # key value
  local path="/proc/sys/${1//.//}"
  [ -e "$path" ] || return 0
  if [ "$(tr -s '\t ' ' ' <"$path")" != "$2" ]; then
    say "sysctl $1=$2"
    sysctl -q -w "$1=$2" || warn "cannot set $1"
  fi
}
set_sysctl net.ipv4.ping_group_range "0 2147483647"
set_sysctl kernel.unprivileged_userns_clone 1
if [ -e /proc/sys/user/max_user_namespaces ] && [ "$(cat /proc/sys/user/max_user_namespaces)" -eq 0 ]; then
  set_sysctl user.max_user_namespaces 63000
fi

# --- delegated cgroups ------------------------------------------------------
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  # Unified hierarchy: one subtree with memory, pids and cpu.
  base=/sys/fs/cgroup
  ctrls=$(cat "$base/cgroup.controllers")
  want=()
  for c in memory pids cpu io cpuset; do
    case " $ctrls " in *" $c "*) want+=("$c") ;; esac
  done
  enable() { # dir
    local c
    for c in "${want[@]}"; do
      grep -qw "$c" "$1/cgroup.subtree_control" || echo "+$c" >"$1/cgroup.subtree_control" 2>/dev/null ||
        warn "cannot enable $c in $1"
    done
  }
  dir="$base/burrow.slice/$user"
  if [ ! -d "$dir" ]; then
    say "delegating cgroup v2 $dir (${want[*]})"
  fi
  enable "$base"
  mkdir -p "$base/burrow.slice"
  enable "$base/burrow.slice"
  mkdir -p "$dir"
  chown "$uid:$gid" "$dir" "$dir/cgroup.procs" "$dir/cgroup.subtree_control" "$dir/cgroup.threads"
else
  # v1 or hybrid: one delegated directory per controller hierarchy. A
  # comounted hierarchy (cpu,cpuacct) is handled once through its real path.
  delegate_v1() { # hierarchy
    local d
    for d in "$1/burrow" "$1/burrow/$user"; do
      [ -d "$d" ] || mkdir "$d" || return 1
      # An empty cpuset refuses tasks: inherit the parent's.
      if [ -e "$d/cpuset.cpus" ] && [ -z "$(tr -d '[:space:]' <"$d/cpuset.cpus")" ]; then
        cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus" || return 1
        cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems" || return 1
      fi
    done
    d="$1/burrow/$user"
    chown "$uid:$gid" "$d" "$d/cgroup.procs" "$d/tasks"
  }
  declare -A seen=()
  delegated=()
  for c in memory pids cpu cpuacct cpuset freezer blkio; do
    mnt="/sys/fs/cgroup/$c"
    [ -e "$mnt" ] || continue
    real=$(readlink -f "$mnt")
    [ "$(stat -fc %T "$real" 2>/dev/null)" = cgroupfs ] || continue
    [ -z "${seen[$real]:-}" ] || continue
    seen[$real]=1
    if delegate_v1 "$real"; then
      delegated+=("$c")
    else
      warn "cannot delegate $real/burrow/$user"
    fi
  done
  say "cgroup v1: delegated /sys/fs/cgroup/{$(IFS=,; echo "${delegated[*]}")}/burrow/$user"

  # Rootless podman on a hybrid host wants the hugetlb controller, which
  # the kernel gives to cgroup2 unless a v1 hierarchy claims it.
  if [ ! -e /sys/fs/cgroup/hugetlb ] || [ "$(stat -fc %T /sys/fs/cgroup/hugetlb)" != cgroupfs ]; then
    if grep -qw hugetlb /proc/cgroups; then
      say "mounting the v1 hugetlb hierarchy (for podman)"
      { mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb; } ||
        warn "cannot mount the hugetlb controller; podman may fail"
    fi
  fi
fi

# --- rootless podman ----------------------------------------------------------
# Benchmarks compare against podman with native (kernel) overlay storage;
# left to itself podman 4.3 picks vfs here. Without a systemd user session
# it also needs the cgroupfs manager and a file events log.
if command -v podman >/dev/null; then
  cdir="$home/.config/containers"
  install -d -o "$uid" -g "$gid" "$home/.config" "$cdir"
  if [ ! -f "$cdir/storage.conf" ]; then
    say "writing $cdir/storage.conf (native overlay)"
    printf '%s\n' '# written by burrow packaging/provision.sh' '[storage]' 'driver = "overlay"' >"$cdir/storage.conf"
    chown "$uid:$gid" "$cdir/storage.conf"
    if [ -d "$home/.local/share/containers/storage/vfs" ]; then
      say "resetting $user's podman storage, made earlier with vfs"
      runuser -u "$user" -- env -i HOME="$home" XDG_RUNTIME_DIR="/run/user/$uid" PATH=/usr/bin:/bin \
        podman system reset -f >/dev/null 2>&1 || warn "podman system reset failed"
    fi
  fi
  if [ ! -d /run/systemd/system ] && [ ! -f "$cdir/containers.conf" ]; then
    say "writing $cdir/containers.conf (cgroupfs, file events log)"
    printf '%s\n' '# written by burrow packaging/provision.sh: no systemd user session here' '[engine]' \
      'cgroup_manager = "cgroupfs"' 'events_logger = "file"' >"$cdir/containers.conf"
    chown "$uid:$gid" "$cdir/containers.conf"
  fi
fi

say "done: user $user (uid $uid), XDG_RUNTIME_DIR=/run/user/$uid"
