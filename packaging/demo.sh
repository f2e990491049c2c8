#!/usr/bin/env bash
# burrow's main job end to end, on a fresh Debian machine, run as root:
# provision the host, build burrow, make a busybox image from the host's
# busybox-static, import it as an ordinary user and run containers with it,
# build an image from a Dockerfile, then push to a private registry, pull it back and save/load it, and
# keep a detached web server (port, volume, limit, healthcheck) with exec,
# ps, stats, stop and logs.
set -euo pipefail
cd "$(dirname "$0")/.."
user="${BURROW_TEST_USER:-burrowtest}"

bash packaging/provision.sh
cargo build --release --quiet
dir=$(mktemp -d /tmp/burrow-demo.XXXX)
chmod 0755 "$dir"
install -m 0755 target/release/burrow "$dir/burrow"
bash packaging/mkimage-busybox.sh "$dir/busybox.tar"
chmod 0644 "$dir/busybox.tar"

install -d -o "$user" -m 0700 "$dir/store"
uid=$(id -u "$user")
as_user() {
  runuser -u "$user" -- env -i HOME="/home/$user" USER="$user" LOGNAME="$user" \
    PATH="$dir:/usr/local/bin:/usr/bin:/bin" XDG_RUNTIME_DIR="/run/user/$uid" \
    BURROW_ROOT="$dir/store" "$@"
}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

cd "$dir"
step burrow info;                                  as_user burrow info
step burrow import busybox.tar busybox;            as_user burrow import busybox.tar busybox
step burrow images;                                as_user burrow images
step burrow run --rm busybox sh -c 'id; cat /proc/self/uid_map; hostname; echo pid \$\$'
as_user burrow run --rm --hostname demo busybox sh -c 'id; cat /proc/self/uid_map; hostname; echo pid $$'
step burrow run --rm --userns=keep-id busybox id;  as_user burrow run --rm --userns=keep-id busybox id
step burrow run --rm -u app -w /home/app busybox sh -c 'pwd; id'
as_user burrow run --rm -u app -w /home/app busybox sh -c 'pwd; id'
step burrow run --name edit busybox sh -c "'rm /bin/vi; echo hello > /etc/motd; chown 33:33 /etc/motd; mount | grep \" / \"'"
as_user burrow run --name edit busybox sh -c 'rm /bin/vi; echo hello > /etc/motd; chown 33:33 /etc/motd; mount | grep " / "'
step burrow diff edit;                             as_user burrow diff edit
step "burrow commit -m 'motd, no vi' edit busybox:edited"
as_user burrow commit -m 'motd, no vi' edit busybox:edited
step burrow run --rm busybox:edited sh -c "'cat /etc/motd; stat -c %u:%g /etc/motd; ls /bin/vi'"
set +e; as_user burrow run --rm busybox:edited sh -c 'cat /etc/motd; stat -c %u:%g /etc/motd; ls /bin/vi'; set -e
step burrow images;                                as_user burrow images
step burrow rm edit;                               as_user burrow rm edit

# A Dockerfile build: two stages, a build arg, a cache mount, a file from
# the context; the rebuild comes from the cache.
install -d -o "$user" "$dir/app"
cat >"$dir/app/Dockerfile" <<'EOF2'
FROM busybox AS build
ARG GREETING=hello
RUN --mount=type=cache,target=/cache echo "$GREETING from a build step" > /msg && echo built >> /cache/log
FROM busybox
COPY --from=build /msg /msg
COPY note.txt /srv/
WORKDIR /srv
CMD ["sh", "-c", "cat /msg note.txt"]
EOF2
echo "copied from the build context" >"$dir/app/note.txt"
chown -R "$user" "$dir/app"
step burrow build -t app:1 --build-arg GREETING=hi app
as_user burrow build -t app:1 --build-arg GREETING=hi app
step burrow build -t app:1 --build-arg GREETING=hi app "  # again: every step CACHED"
as_user burrow build -t app:1 --build-arg GREETING=hi app
step burrow run --rm app:1;                        as_user burrow run --rm app:1

# A private registry (Debian's docker-registry) on a free loopback port.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
install -d -o "$user" "$dir/registry"
cat >"$dir/registry.yml" <<EOF2
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/registry}}
http: {addr: "127.0.0.1:$port"}
EOF2
as_user /usr/bin/docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
reg_pid=$!
# runuser forks the registry: stop the registry itself, not only runuser.
trap 'kill $reg_pid 2>/dev/null || true; pkill -u "$user" -f "docker-registry serve $dir/registry.yml" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break; sleep 0.1; done
r="127.0.0.1:$port/demo/busybox:edited"
step burrow push busybox:edited "$r";               as_user burrow push busybox:edited "$r"
step burrow rmi busybox:edited;                     as_user burrow rmi busybox:edited
step burrow pull "$r";                              as_user burrow pull "$r"
step burrow run --rm "$r" cat /etc/motd;            as_user burrow run --rm "$r" cat /etc/motd
step burrow save -o busybox-edited.tar "$r" "&&" burrow load -i busybox-edited.tar
install -d -o "$user" "$dir/out"
as_user burrow save -o "$dir/out/busybox-edited.tar" "$r"
as_user burrow load -i "$dir/out/busybox-edited.tar"
# A detached web server published on the host's loopback, with a named
# volume, a memory limit and a healthcheck; the client connects from
# 127.0.0.2 and the server's reply shows that address.
wport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step burrow run -d --name web -p "127.0.0.1:$wport:8080" -v webdata:/data --memory 64m --health-cmd "'test -e /data/up'" --health-interval 1s busybox \
  sh -c "'touch /data/up; echo serving on 8080; nc -ll -p 8080 -e sh -c \"echo HTTP/1.0 200 OK; echo; netstat -tn | grep ESTAB\"'"
as_user burrow run -d --name web -p "127.0.0.1:$wport:8080" -v webdata:/data --memory 64m --health-cmd 'test -e /data/up' --health-interval 1s busybox \
  sh -c 'touch /data/up; echo serving on 8080; nc -ll -p 8080 -e sh -c "echo HTTP/1.0 200 OK; echo; netstat -tn | grep ESTAB"'
step burrow port web;                              as_user burrow port web
step curl --interface 127.0.0.2 "http://127.0.0.1:$wport/"
for _ in $(seq 50); do curl -fsS --interface 127.0.0.2 "http://127.0.0.1:$wport/" 2>/dev/null && break; sleep 0.1; done
step burrow exec web sh -c "'echo from exec > /data/note; ps'"
as_user burrow exec web sh -c 'echo from exec > /data/note; ps'
for _ in $(seq 50); do as_user burrow ps --filter health=healthy -q | grep -q . && break; sleep 0.1; done
step burrow ps;                                    as_user burrow ps
step burrow stats --no-stream web;                 as_user burrow stats --no-stream web
step burrow stop -t 1 web "&&" burrow logs web;    as_user burrow stop -t 1 web; as_user burrow logs web
step burrow rm web "&&" burrow run --rm -v webdata:/data busybox cat /data/note
as_user burrow rm web; as_user burrow run --rm -v webdata:/data busybox cat /data/note
step burrow run --rm busybox sh -c "'ip -4 addr show eth0 | grep inet; nslookup deb.debian.org | tail -n 2'"
set +e; as_user burrow run --rm busybox sh -c 'ip -4 addr show eth0 | grep inet; nslookup deb.debian.org | tail -n 2'; set -e
step "burrow run --rm busybox sh -c 'exit 3'; echo exit code \$?"
set +e; as_user burrow run --rm busybox sh -c 'exit 3'; echo "exit code $?"; set -e
step burrow run --rm busybox no-such-command
set +e; as_user burrow run --rm busybox no-such-command; echo "exit code $?"; set -e
rm -rf "$dir"
echo; echo "demo finished: burrow ran rootless containers as $user"
