//! `burrow build` end to end, as an unprivileged user, with busybox as
//! the base: multi-stage builds, COPY --from/--chown, ARG and ENV, the
//! cache, .dockerignore, --target, ONBUILD in a child image, ADD of
//! archives and URLs, heredocs, RUN --mount, FROM --platform, and builds
//! that must fail cleanly.

mod common;

use std::path::Path;

use common::{rootless_ready, stderr, stdout, Env};

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

const MULTI: &str = r#"# a two-stage build
ARG BASE=busybox
FROM $BASE AS builder
ARG NAME=world
ENV GREETING="hello ${NAME}"
RUN mkdir /out && echo "built for $NAME" > /out/artifact \
 && echo "$GREETING" > /out/greeting
FROM ${BASE}
COPY --from=builder /out/ /app/
COPY --chown=1000:1000 data.txt /home/app/
COPY data.txt /etc
WORKDIR /app
COPY data.txt .
CMD ["sh", "-c", "cat artifact greeting /home/app/data.txt; stat -c %u:%g /home/app/data.txt"]
"#;

#[test]
fn a_multi_stage_build_runs_with_its_files_owners_and_args() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    write(&ctx, &[("Dockerfile", MULTI), ("data.txt", "data\n")]);
    let o = e.run(&["build", "-t", "app:1", "--build-arg", "NAME=burrow", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim().len(), "sha256:".len() + 64, "the image id: {}", stdout(&o));
    assert!(stderr(&o).contains("FROM busybox AS builder"), "{}", stderr(&o));
    let out = e.ok(&["run", "--rm", "app:1"]);
    assert_eq!(out, "built for burrow\nhello burrow\ndata\n1000:1000\n");
    assert_eq!(e.ok(&["image", "inspect", "-f", "{{.Config.WorkingDir}}", "app:1"]).trim(), "/app");
    // Into an existing directory without a trailing slash, and into `.`.
    assert_eq!(
        e.ok(&["run", "--rm", "app:1", "sh", "-c", "cat /etc/data.txt /app/data.txt; grep -c ^root: /etc/passwd"]),
        "data\ndata\n1\n"
    );
}

#[test]
fn a_rebuild_is_cached_and_a_changed_file_rebuilds_from_its_step() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    write(
        &ctx,
        &[
            ("Dockerfile", "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCMD [\"cat\", \"/copy\"]\n"),
            ("a.txt", "first\n"),
        ],
    );
    let first = e.ok(&["build", "-q", "-t", "c:1", ctx.to_str().unwrap()]);
    let o = e.run(&["build", "-t", "c:1", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("CACHED").count(), 4, "every step comes from the cache: {}", stderr(&o));
    assert_eq!(stdout(&o), first, "the same image");
    std::fs::write(ctx.join("a.txt"), "second\n").unwrap();
    let o = e.run(&["build", "-t", "c:2", ctx.to_str().unwrap()]);
    let log = stderr(&o);
    assert!(o.status.success(), "{log}");
    let cached: Vec<&str> = log.lines().filter(|l| l.contains("CACHED")).collect();
    assert_eq!(cached.len(), 1, "only the RUN before the changed file is cached: {log}");
    assert!(cached[0].contains("RUN echo one"), "{log}");
    assert_eq!(e.ok(&["run", "--rm", "c:2"]), "second\n");
    let o = e.run(&["build", "--no-cache", "-t", "c:3", ctx.to_str().unwrap()]);
    assert!(!stderr(&o).contains("CACHED"), "{}", stderr(&o));

    // The cache is visible to system df and gone after builder prune.
    let cache_row = |e: &common::Env| {
        e.ok(&["system", "df"])
            .lines()
            .find(|l| l.starts_with("Build Cache"))
            .unwrap_or_default()
            .split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_string()
    };
    assert_ne!(cache_row(&e), "0", "{}", e.ok(&["system", "df"]));
    e.ok(&["builder", "prune", "-f"]);
    assert_eq!(cache_row(&e), "0", "{}", e.ok(&["system", "df"]));
    let o = e.run(&["build", "-t", "c:4", ctx.to_str().unwrap()]);
    assert_eq!(stderr(&o).matches("CACHED").count(), 0, "the cache is empty: {}", stderr(&o));
    assert_eq!(e.ok(&["run", "--rm", "c:2"]), "second\n", "tagged images stay");
}

#[test]
fn dockerignore_target_labels_and_iidfile() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    write(
        &ctx,
        &[
            ("Dockerfile", "FROM busybox AS base\nCOPY . /ctx/\nFROM base AS extra\nRUN touch /extra\n"),
            (".dockerignore", "*.log\nsecret/\n!secret/public.txt\n"),
            ("keep.txt", "k"),
            ("debug.log", "l"),
            ("secret/key", "s"),
            ("secret/public.txt", "p"),
        ],
    );
    let iid = e.dir.path().join("iid");
    e.ok(&[
        "build",
        "--target",
        "base",
        "--label",
        "team=burrow",
        "--iidfile",
        iid.to_str().unwrap(),
        "-t",
        "ign:1",
        ctx.to_str().unwrap(),
    ]);
    let files = e.ok(&["run", "--rm", "ign:1", "sh", "-c", "cd /ctx && find . -type f | sort; [ -e /extra ] || echo no-extra"]);
    assert_eq!(files, "./.dockerignore\n./Dockerfile\n./keep.txt\n./secret/public.txt\nno-extra\n");
    assert!(std::fs::read_to_string(&iid).unwrap().starts_with("sha256:"));
    assert_eq!(e.ok(&["image", "inspect", "-f", "{{.Config.Labels.team}}", "ign:1"]).trim(), "burrow");
}

#[test]
fn bad_builds_fail_with_locations_and_tag_nothing() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    let cases: &[(&str, &str)] = &[
        ("FROM busybox\nRUNN echo x\n", "Dockerfile:2:1"),
        ("FROM busybox\nRUN echo bad-output; exit 3\n", "non-zero code: 3"),
        ("FROM busybox\nCOPY missing.txt /x\n", "missing.txt: not found"),
        ("FROM busybox\nCOPY ../outside /x\n", "outside the build context"),
        ("FROM busybox\nCOPY --chown=nosuchuser Dockerfile /x\n", "Dockerfile:2:1: --chown=nosuchuser: unable to find user nosuchuser"),
        ("FROM busybox\nCOPY --chmod=9z Dockerfile /x\n", "Dockerfile:2:1: invalid --chmod \"9z\": give octal bits"),
        ("FROM busybox\nARG V\nWORKDIR ${V:?give V}\n", "Dockerfile:3:1: V: give V"),
        // The pull's own causes follow the engine's message.
        ("FROM localhost:1/nope\n", "cannot get the base image localhost:1/nope: cannot reach registry localhost:1"),
    ];
    for (dockerfile, msg) in cases {
        let _ = std::fs::remove_dir_all(&ctx);
        write(&ctx, &[("Dockerfile", dockerfile)]);
        let o = e.run(&["build", "-t", "bad:1", ctx.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(125), "{dockerfile}");
        assert!(stderr(&o).contains(msg), "{dockerfile}: {}", stderr(&o));
        assert!(!e.ok(&["images"]).contains("bad"), "nothing tagged");
    }
    write(&ctx, &[("Dockerfile", "FROM busybox\nRUN echo bad-output; exit 3\n")]);
    let o = e.run(&["build", ctx.to_str().unwrap()]);
    assert!(stderr(&o).contains("bad-output"), "the failing step's output is shown: {}", stderr(&o));
    write(&ctx, &[("Dockerfile", "FROM busybox AS a\nRUN true\n")]);
    let o = e.run(&["build", "--target", "nope", ctx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
}

#[test]
fn onbuild_triggers_run_in_the_child_only() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    write(&ctx, &[("Dockerfile", "FROM busybox\nONBUILD COPY hello.txt /hello.txt\nONBUILD RUN echo triggered >> /count\n")]);
    e.ok(&["build", "-t", "parent:1", ctx.to_str().unwrap()]);
    assert!(e.ok(&["image", "inspect", "-f", "{{json .Config.OnBuild}}", "parent:1"]).contains("RUN echo triggered >> /count"));
    assert_eq!(
        e.ok(&["run", "--rm", "parent:1", "sh", "-c", "ls /hello.txt /count 2>&1 | wc -l; cat /count 2>/dev/null || echo none"]),
        "2\nnone\n"
    );

    write(&ctx, &[("Dockerfile", "FROM parent:1\nRUN cat /hello.txt\n"), ("hello.txt", "from the child's context\n")]);
    let o = e.run(&["build", "-t", "child:1", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("ONBUILD COPY hello.txt /hello.txt"), "{}", stderr(&o));
    assert_eq!(e.ok(&["run", "--rm", "child:1", "cat", "/hello.txt", "/count"]), "from the child's context\ntriggered\n");
    assert_eq!(
        e.ok(&["image", "inspect", "-f", "{{json .Config.OnBuild}}", "child:1"]).trim(),
        "null",
        "a child does not pass the triggers on"
    );

    write(&ctx, &[("Dockerfile", "FROM child:1\n")]);
    e.ok(&["build", "-t", "grandchild:1", ctx.to_str().unwrap()]);
    assert_eq!(e.ok(&["run", "--rm", "grandchild:1", "cat", "/count"]), "triggered\n", "the triggers ran once");
}

/// A one-shot HTTP server on loopback serving `body`; returns its URL.
fn serve_once(body: &'static [u8], path: &str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut req = [0u8; 2048];
            let _ = s.read(&mut req);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Sat, 01 Jan 2022 00:00:00 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    url
}

#[test]
fn add_unpacks_local_archives_and_downloads_urls() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    // app.tar.gz: a tree with an owner and a mode of its own.
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(ctx.join("app.tar.gz")).unwrap(), flate2::Compression::fast());
    let mut t = tar::Builder::new(gz);
    for (path, data, mode) in [("bin/tool", &b"#!/bin/sh\necho tool ran\n"[..], 0o755), ("share/readme", &b"read me\n"[..], 0o640)] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(1234);
        h.set_gid(1234);
        t.append_data(&mut h, path, data).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap();
    let script: &'static [u8] = b"#!/bin/sh\necho downloaded\n";
    let url = serve_once(script, "/dl/get.sh");
    let sum = "sha256:".to_string() + &sha256_hex(script);
    write(
        &ctx,
        &[
            ("notes.gz.txt", "not an archive\n"),
            (
                "Dockerfile",
                &format!("FROM busybox\nADD app.tar.gz /opt/app/\nADD notes.gz.txt /notes/\nADD --checksum={sum} {url} /usr/local/bin/\n"),
            ),
        ],
    );
    let o = e.run(&["build", "-t", "add:1", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = e.ok(&["run", "--rm", "add:1", "sh", "-c", "/opt/app/bin/tool; stat -c '%n %u:%g %a' /opt/app/share/readme /usr/local/bin/get.sh; cat /notes/notes.gz.txt; sh /usr/local/bin/get.sh; date -u -r /usr/local/bin/get.sh +%Y"]);
    assert_eq!(out, "tool ran\n/opt/app/share/readme 1234:1234 640\n/usr/local/bin/get.sh 0:0 600\nnot an archive\ndownloaded\n2022\n");

    // A wrong checksum fails the step and tags nothing.
    let bad = "sha256:".to_string() + &"0".repeat(64);
    write(&ctx, &[("Dockerfile", &format!("FROM busybox\nADD --checksum={bad} {url} /x\n"))]);
    let o = e.run(&["build", "-t", "badsum:1", ctx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("Dockerfile:2") && stderr(&o).contains("not the --checksum"), "{}", stderr(&o));
    assert!(!e.ok(&["images"]).contains("badsum"));

    // An archive whose entry climbs out with `..` is refused, and the
    // entries before it do not become a layer.
    // (written by Python's tarfile, as a hand-made archive would be)
    let py = "import io, sys, tarfile\nwith tarfile.open(sys.argv[1], 'w', format=tarfile.USTAR_FORMAT) as t:\n    for n in ['fine.txt', '../escaped.txt']:\n        i = tarfile.TarInfo(n); i.size = 1; t.addfile(i, io.BytesIO(b'x'))\n";
    let made = std::process::Command::new("python3").args(["-c", py]).arg(ctx.join("evil.tar")).status();
    assert!(made.is_ok_and(|s| s.success()), "python3 makes the archive");
    let before = e.ok(&["images", "-a", "-q"]);
    write(&ctx, &[("Dockerfile", "FROM busybox\nADD evil.tar /fresh/\n")]);
    let o = e.run(&["build", ctx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("Dockerfile:2:1") && stderr(&o).contains("\"../escaped.txt\" would land outside"), "{}", stderr(&o));
    assert_eq!(e.ok(&["images", "-a", "-q"]), before, "no image from the refused archive");
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn heredocs_for_run_and_copy() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    let dockerfile = r#"FROM busybox
ARG WHO=burrow
RUN <<EOF
set -e
echo "one $WHO" > /one
echo two >> /one
EOF
RUN <<EOF
#!/bin/sh -e
echo "shebang $WHO" > /two
EOF
RUN cat <<A >/a && cat <<'B' >/b
alpha
A
beta $WHO
B
COPY <<EOF /etc/motd
hello $WHO
EOF
COPY <<'EOF' /etc/literal
kept $WHO
EOF
"#;
    write(&ctx, &[("Dockerfile", dockerfile)]);
    let o = e.run(&["build", "-t", "here:1", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = e.ok(&["run", "--rm", "here:1", "cat", "/one", "/two", "/a", "/b", "/etc/motd", "/etc/literal"]);
    assert_eq!(out, "one burrow\ntwo\nshebang burrow\nalpha\nbeta $WHO\nhello burrow\nkept $WHO\n");
    // The body is part of the cache key: a changed body rebuilds.
    write(&ctx, &[("Dockerfile", &dockerfile.replace("echo two", "echo TWO"))]);
    let o = e.run(&["build", "-t", "here:2", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(e.ok(&["run", "--rm", "here:2", "cat", "/one"]), "one burrow\nTWO\n");
}

#[test]
fn run_mounts_cache_bind_and_tmpfs() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    let dockerfile = "FROM busybox\n\
        RUN --mount=type=cache,target=/var/cache/pkg echo fetched >> /var/cache/pkg/log && wc -l < /var/cache/pkg/log > /cached-lines\n\
        RUN --mount=type=cache,id=shared,target=/c,sharing=locked,uid=1000,gid=1000,mode=0700 stat -c '%u:%g %a' /c > /cache-owner\n\
        RUN --mount=type=bind,source=src,target=/src cat /src/main.txt > /from-bind\n\
        RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && grep -q ' /scratch tmpfs' /proc/mounts && echo tmpfs > /was-tmpfs\n";
    write(&ctx, &[("Dockerfile", dockerfile), ("src/main.txt", "bound\n")]);
    e.ok(&["build", "-t", "m:1", ctx.to_str().unwrap()]);
    let out = e.ok(&[
        "run",
        "--rm",
        "m:1",
        "sh",
        "-c",
        "cat /cached-lines /cache-owner /from-bind /was-tmpfs; find /var/cache/pkg /scratch -mindepth 1 | wc -l",
    ]);
    assert_eq!(out, "1\n1000:1000 700\nbound\ntmpfs\n0\n", "the mounts' files are not in the image");
    // The cache outlives the step: a rebuild without the step cache sees it.
    e.ok(&["build", "--no-cache", "-t", "m:2", ctx.to_str().unwrap()]);
    assert_eq!(e.ok(&["run", "--rm", "m:2", "cat", "/cached-lines"]), "2\n");
    // A bind's content is in the key: a changed file reruns that step,
    // while the cache step before it comes from the step cache (the
    // --no-cache build's result).
    write(&ctx, &[("src/main.txt", "changed\n")]);
    e.ok(&["build", "-t", "m:3", ctx.to_str().unwrap()]);
    assert_eq!(e.ok(&["run", "--rm", "m:3", "cat", "/from-bind", "/cached-lines"]), "changed\n2\n");
}

#[test]
fn platform_args_and_what_is_refused() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    write(&ctx, &[("Dockerfile", "FROM --platform=$BUILDPLATFORM busybox\nARG TARGETARCH\nARG TARGETPLATFORM\nRUN echo \"$TARGETPLATFORM $TARGETARCH\" > /platform\n")]);
    e.ok(&["build", "-t", "plat:1", ctx.to_str().unwrap()]);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    assert_eq!(e.ok(&["run", "--rm", "plat:1", "cat", "/platform"]), format!("linux/{arch} {arch}\n"));
    let other = if arch == "s390x" { "linux/amd64" } else { "linux/s390x" };
    for (dockerfile, place, msg) in [
        (format!("FROM --platform={other} busybox\n"), "Dockerfile:1", "burrow builds for this machine's platform only"),
        ("FROM busybox\nRUN --mount=type=secret,id=token cat /run/secrets/token\n".to_string(), "Dockerfile:2", "--secret"),
        ("FROM busybox\nRUN --mount=type=bind,target=/src,rw true\n".to_string(), "Dockerfile:2", "rw bind mounts are not supported"),
        ("FROM busybox\nRUN --mount=type=bind,source=../x,target=/src true\n".to_string(), "Dockerfile:2", "outside the build context"),
        ("FROM busybox\nADD ../escape.tar /x\n".to_string(), "Dockerfile:2", "outside the build context"),
    ] {
        write(&ctx, &[("Dockerfile", &dockerfile)]);
        let o = e.run(&["build", ctx.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(125), "{dockerfile}");
        assert!(stderr(&o).contains(place) && stderr(&o).contains(msg), "{dockerfile}: {}", stderr(&o));
    }
}

/// `burrow build ARGS` with `input` on standard input; stdout, or a panic
/// with stderr.
fn build_from_stdin(e: &Env, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    let mut child = e
        .cmd(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "burrow {args:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn dockerfile_or_context_from_standard_input() {
    let Some(e) = env() else { return };
    // A Dockerfile on stdin, no context.
    build_from_stdin(&e, &["build", "-q", "-t", "from-stdin", "-"], b"FROM busybox\nRUN echo piped > /note\nCMD [\"cat\", \"/note\"]\n");
    assert_eq!(e.ok(&["run", "--rm", "from-stdin"]), "piped\n");
    // A tar context (gzip) on stdin, with its Dockerfile.
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, text) in
        [("Dockerfile", "FROM busybox\nCOPY data.txt /data.txt\nCMD [\"cat\", \"/data.txt\"]\n"), ("data.txt", "from the tar\n")]
    {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    let gz = tar.into_inner().unwrap().finish().unwrap();
    build_from_stdin(&e, &["build", "-q", "-t", "from-tar", "-"], &gz);
    assert_eq!(e.ok(&["run", "--rm", "from-tar"]), "from the tar\n");
    // -f -: the Dockerfile on stdin, the context a directory.
    let ctx = e.dir.path().join("ctx");
    write(&ctx, &[("data.txt", "from the directory\n")]);
    let dockerfile = b"FROM busybox\nCOPY data.txt /d\nCMD [\"cat\", \"/d\"]\n";
    build_from_stdin(&e, &["build", "-q", "-t", "file-stdin", "-f", "-", ctx.to_str().unwrap()], dockerfile);
    assert_eq!(e.ok(&["run", "--rm", "file-stdin"]), "from the directory\n");
    // Images sharing busybox's layer: system df counts it once.
    let bytes = |h: &str| -> f64 {
        let n: String = h.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let scale = match &h[n.len()..] {
            "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            _ => 1.0,
        };
        n.parse::<f64>().unwrap() * scale
    };
    let images: serde_json::Value = serde_json::from_str(&e.ok(&["images", "--format", "json"])).unwrap();
    let sizes: Vec<f64> = images.as_array().unwrap().iter().map(|i| i["Size"].as_f64().unwrap()).collect();
    let (listed, largest) = (sizes.iter().sum::<f64>(), sizes.iter().cloned().fold(0.0, f64::max));
    let df = e.ok(&["system", "df"]);
    let images_row = df.lines().find(|l| l.starts_with("Images")).unwrap().split_whitespace().nth(3).unwrap().to_string();
    assert!(sizes.len() >= 3 && bytes(&images_row) < listed - largest, "df counts a shared layer more than once: {df} (images {sizes:?})");
    // A VOLUME before a RUN: the step's anonymous volume goes with it.
    build_from_stdin(&e, &["build", "-q", "-t", "vol", "-"], b"FROM busybox\nVOLUME /data\nRUN echo x > /data/f\n");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "", "the build left an anonymous volume");
    let o = e.run(&["build", "-f", "-", "-"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("cannot both come from standard input"), "{}", stderr(&o));
}
