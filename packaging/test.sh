#!/usr/bin/env bash
# burrow's whole test suite, as root from the repository root on a fresh
# Debian 12 machine:
#
#   bash packaging/test.sh [FILTER [more libtest args]]
#
# 1. provisions the host (packaging/provision.sh),
# 2. builds burrow and every test executable of the workspace as root
#    (the toolchain lives in root's 0700 home), and fails at once when
#    `cargo fmt --all --check` or
#    `cargo clippy --workspace --all-targets -- -D warnings` does not pass,
# 3. copies them into a fresh world-readable directory with a busybox
#    image tarball (packaging/mkimage-busybox.sh) and the same busybox as a
#    two-layer OCI image layout; builds the four-layer Debian bookworm OCI
#    layout for the registry tests once (packaging/mkimage-debian.sh,
#    cached in /var/cache/burrow-test/debian-oci, rebuilt when that script
#    or oci-layout.py changes),
# 4. runs every test executable as the unprivileged test user with a clean
#    environment, all of them even when one fails,
# 5. on a full run (no FILTER), builds the Debian package, installs it,
#    runs a container with it as the test user and removes it
#    (packaging/test-deb.sh; counted as one test),
# 6. ends with the line "N passed, N failed" and exits non-zero on any failure.
#
# Environment: BURROW_TEST_USER (default burrowtest), BURROW_TEST_CACHE
# (default /var/cache/burrow-test), BURROW_TEST_TIMEOUT
# (seconds per test executable, default 1800), BURROW_CI_KEEP=1 keeps the
# run directory, CI is passed through to the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
user="${BURROW_TEST_USER:-burrowtest}"
timeout_s="${BURROW_TEST_TIMEOUT:-1800}"

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: run as root (it provisions the host and runs the tests as $user)" >&2
  exit 1
fi
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

echo "== provision"
bash packaging/provision.sh

echo "== build"
cargo build --release 2>&1
echo "== hygiene: rustfmt, and clippy (every unsafe block says why it is sound)"
cargo fmt --all --check >/dev/null || { echo "test.sh: the code is not formatted: run cargo fmt --all" >&2; exit 1; }
cargo clippy --release --workspace --all-targets -- -D warnings 2>&1
json=$(mktemp /tmp/burrow-ci-build.XXXXXX.json)
trap 'rm -f "$json"' EXIT
cargo test --workspace --no-run --release --message-format=json >"$json"
mapfile -t exes < <(python3 - "$json" <<'EOF'
import json, sys
seen = []
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m.get("profile", {}).get("test"):
        if m["executable"] not in seen:
            seen.append(m["executable"])
print("\n".join(seen))
EOF
)
if [ ${#exes[@]} -eq 0 ] || [ -z "${exes[0]}" ]; then
  echo "test.sh: cargo built no test executable" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

dir=$(mktemp -d /tmp/burrow-ci.XXXX)
chmod 0755 "$dir"
cleanup() {
  rm -f "$json"
  if [ "${BURROW_CI_KEEP:-}" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
install -m 0755 target/release/burrow "$dir/burrow"
for e in "${exes[@]}"; do
  install -m 0755 "$e" "$dir/"
done
bash packaging/mkimage-busybox.sh "$dir/busybox.tar"
chmod 0644 "$dir/busybox.tar"
python3 packaging/oci-layout.py "$dir/busybox.tar" "$dir/busybox-oci" --ref latest --layer etc=gzip
chmod -R a+rX "$dir/busybox-oci"
cache="${BURROW_TEST_CACHE:-/var/cache/burrow-test}"
bash packaging/mkimage-debian.sh "$cache/debian-oci"
mkdir -m 0755 "$dir/logs"

uid=$(id -u "$user")
home=$(getent passwd "$user" | cut -d: -f6)
echo "== test as $user (uid $uid) in $dir"
passed=0 failed=0 crashed=0
failed_exes=()
cd "$dir"
for e in "${exes[@]}"; do
  name=$(basename "$e")
  log="$dir/logs/$name.log"
  echo "-- $name"
  set +e
  runuser -u "$user" -- env -i \
    HOME="$home" USER="$user" LOGNAME="$user" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    XDG_RUNTIME_DIR="/run/user/$uid" CI="${CI:-}" \
    BURROW_BIN="$dir/burrow" BURROW_TEST_BUSYBOX_TAR="$dir/busybox.tar" RUST_BACKTRACE=1 \
    BURROW_TEST_BUSYBOX_OCI="$dir/busybox-oci" BURROW_TEST_DEBIAN_OCI="$cache/debian-oci" \
    /usr/bin/timeout -k 30 "$timeout_s" "$dir/$name" "$@" --test-threads=2 </dev/null 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  # "test result: ok. 3 passed; 0 failed; ..." or "test result: FAILED. ..."
  read -r p f < <(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed;.*/\1 \2/p' "$log" |
    awk '{p += $1; f += $2} END {print p + 0, f + 0}')
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" -ne 0 ]; then
    failed_exes+=("$name (exit $rc)")
    if [ "$f" -eq 0 ]; then
      # Died before reporting a failure (crash, timeout): count it as one.
      crashed=$((crashed + 1))
      failed=$((failed + 1))
    fi
  fi
done

# The package route (packaging/test-deb.sh) on a full run only: it
# installs and removes a system package.
if [ $# -eq 0 ]; then
  echo "-- package"
  cd "$repo"
  if bash packaging/test-deb.sh "$dir/burrow" "$dir/busybox.tar" "$user"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_exes+=("packaging/test-deb.sh")
  fi
fi

echo
echo "== summary: ${#exes[@]} test executables"
for x in "${failed_exes[@]}"; do echo "FAILED: $x"; done
[ "$crashed" -eq 0 ] || echo "($crashed executable(s) ended without a test result; each counted as one failure)"
echo "$passed passed, $failed failed"
[ ${#failed_exes[@]} -eq 0 ]
