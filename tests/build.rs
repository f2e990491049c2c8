//! `burrow build` end to end, as an unprivileged user, with busybox as
//! the base: multi-stage builds, COPY --from/--chown, ARG and ENV, the
//! cache, .dockerignore, --target, and builds that must fail cleanly.

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
WORKDIR /app
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
}

#[test]
fn a_rebuild_is_cached_and_a_changed_file_rebuilds_from_its_step() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    write(&ctx, &[
        ("Dockerfile", "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCMD [\"cat\", \"/copy\"]\n"),
        ("a.txt", "first\n"),
    ]);
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
}

#[test]
fn dockerignore_target_labels_and_iidfile() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    write(&ctx, &[
        ("Dockerfile", "FROM busybox AS base\nCOPY . /ctx/\nFROM base AS extra\nRUN touch /extra\n"),
        (".dockerignore", "*.log\nsecret/\n!secret/public.txt\n"),
        ("keep.txt", "k"),
        ("debug.log", "l"),
        ("secret/key", "s"),
        ("secret/public.txt", "p"),
    ]);
    let iid = e.dir.path().join("iid");
    e.ok(&["build", "--target", "base", "--label", "team=burrow", "--iidfile", iid.to_str().unwrap(), "-t", "ign:1", ctx.to_str().unwrap()]);
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
fn what_burrow_build_cannot_do_yet_is_refused_not_ignored() {
    let Some(e) = env() else { return };
    let ctx = e.dir.path().join("ctx");
    for (dockerfile, msg) in [
        ("FROM busybox\nRUN --mount=type=cache,target=/c true\n", "RUN --mount"),
        ("FROM busybox\nRUN <<EOF\necho hi\nEOF\n", "heredoc"),
        ("FROM --platform=linux/arm64 busybox\n", "--platform"),
        ("FROM busybox\nADD https://example.com/x /x\n", "remote URLs"),
    ] {
        let _ = std::fs::remove_dir_all(&ctx);
        write(&ctx, &[("Dockerfile", dockerfile)]);
        let o = e.run(&["build", ctx.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(125), "{dockerfile}");
        assert!(stderr(&o).contains(msg), "{dockerfile}: {}", stderr(&o));
    }
    // A base image with ONBUILD triggers is refused too (triggers are not run yet).
    write(&ctx, &[("Dockerfile", "FROM busybox\nONBUILD RUN touch /triggered\n")]);
    e.ok(&["build", "-t", "parent:1", ctx.to_str().unwrap()]);
    assert!(e.ok(&["image", "inspect", "-f", "{{json .Config.OnBuild}}", "parent:1"]).contains("RUN touch /triggered"));
    write(&ctx, &[("Dockerfile", "FROM parent:1\n")]);
    let o = e.run(&["build", ctx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("ONBUILD"), "{}", stderr(&o));
}
