//! `burrow build` on real work (issue 7), as an unprivileged user:
//!
//! - a multi-stage build whose first stage is the debootstrap'd Debian
//!   bookworm image ($BURROW_TEST_DEBIAN_OCI), installs gcc from the
//!   package mirror with apt-get (RUN's network, apt's `_apt` sandbox
//!   user), compiles a static C program from the build context and copies
//!   it alone into a busybox stage: the image runs the program, and its
//!   layers are busybox's plus that one COPY;
//! - a busybox-based image built, pushed to a real registry
//!   (`docker-registry`, `common::registry`), removed, pulled back and
//!   run: the same image id, config and layers.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::registry::{self, Registry};
use common::{require, rootless_ready, stderr, stdout, Env};

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// `burrow image inspect`'s first (only) object.
fn inspect(e: &Env, image: &str) -> serde_json::Value {
    let out = e.ok(&["image", "inspect", image]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("image inspect prints JSON");
    v.as_array().and_then(|a| a.first()).cloned().unwrap_or(v)
}

/// RootFS.Layers (the layers' diff ids, oldest first).
fn layers(e: &Env, image: &str) -> Vec<String> {
    inspect(e, image)["RootFS"]["Layers"].as_array().expect("RootFS.Layers").iter().map(|l| l.as_str().unwrap().to_string()).collect()
}

/// `burrow history --no-trunc --format json` entries, newest first.
fn history(e: &Env, image: &str) -> Vec<serde_json::Value> {
    let out = e.ok(&["history", "--no-trunc", "-H=false", "--format", "json", image]);
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|err| panic!("history line {l:?}: {err}"))).collect()
}

/// Load the Debian OCI layout and tag it `debian:bookworm`.
fn with_debian(e: &Env) -> Option<String> {
    let dir = registry::debian_oci()?;
    let tarball = e.dir.path().join("debian.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
    let out = e.ok(&["load", "-i", tarball.to_str().unwrap()]);
    let id = out.lines().last().and_then(|l| l.split(": ").nth(1)).expect("load prints the image id").trim().to_string();
    e.ok(&["tag", &id, "debian:bookworm"]);
    Some(id)
}

const HELLO_C: &str = r#"#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *who = argc > 1 ? argv[1] : "world";
    printf("hello, %s, from a static C program\n", who);
    printf("%zu characters, uid %d\n", strlen(who), (int)getuid());
    return 0;
}
"#;

const GCC_DOCKERFILE: &str = r#"FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev
WORKDIR /src
COPY hello.c .
RUN gcc -static -O2 -o /hello hello.c

FROM busybox
COPY --from=build /hello /usr/local/bin/hello
CMD ["/usr/local/bin/hello", "burrow"]
"#;

#[test]
fn gcc_from_the_mirror_in_a_debian_stage_builds_a_program_for_a_busybox_stage() {
    if !rootless_ready() {
        return;
    }
    let resolves = std::net::ToSocketAddrs::to_socket_addrs(&("deb.debian.org", 80)).is_ok();
    if !require(resolves, "the host resolves deb.debian.org (the package mirror)") {
        return;
    }
    let e = Env::new().with_busybox();
    let Some(debian) = with_debian(&e) else { return };
    let ctx = e.dir.path().join("ctx");
    write(&ctx, &[("Dockerfile", GCC_DOCKERFILE), ("hello.c", HELLO_C)]);

    let o = e.run(&["build", "-t", "hello:1", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "the build failed: {}\n{}", o.status, stderr(&o));
    let log = stderr(&o);
    assert!(log.contains("Setting up gcc"), "apt-get installed gcc: {log}");
    // apt downloads as its sandbox user _apt, which the container's
    // subordinate ids give it; it says so when it has to fall back to root.
    assert!(!log.contains("unsandboxed"), "apt could not use its _apt sandbox: {log}");
    let id = stdout(&o).trim().to_string();

    // The program runs in busybox (no libc there: it is static), as the
    // image's CMD and with other arguments.
    assert_eq!(e.ok(&["run", "--rm", "hello:1"]), "hello, burrow, from a static C program\n6 characters, uid 0\n");
    assert_eq!(
        e.ok(&["run", "--rm", "--user", "1000", "hello:1", "hello", "you"]),
        "hello, you, from a static C program\n3 characters, uid 1000\n"
    );
    assert_eq!(e.ok(&["run", "--rm", "hello:1", "sh", "-c", "ls /usr/local/bin; [ -e /usr/bin/gcc ] || echo no-gcc"]), "hello\nno-gcc\n");

    // Its layers: busybox's, then the one COPY --from; nothing of Debian
    // or of the gcc stage.
    let busybox = layers(&e, "busybox");
    let debian = layers(&e, &debian);
    let built = layers(&e, "hello:1");
    assert_eq!(built.len(), busybox.len() + 1, "{built:?}");
    assert_eq!(built[..busybox.len()], busybox[..], "the busybox stage's layers come first");
    assert!(built.iter().all(|l| !debian.contains(l)), "no Debian layer: {built:?}");
    let info = inspect(&e, "hello:1");
    assert_eq!(info["Id"], id, "{info}");
    assert_eq!(info["Config"]["Cmd"], serde_json::json!(["/usr/local/bin/hello", "burrow"]), "{info}");

    // The history says the same: busybox's entries below a COPY and a CMD,
    // no apt-get, no gcc.
    let h = history(&e, "hello:1");
    let below = history(&e, "busybox");
    assert_eq!(h.len(), below.len() + 2, "{h:#?}");
    let created_by: Vec<String> = h.iter().map(|x| x["CreatedBy"].as_str().unwrap_or("").to_string()).collect();
    assert!(created_by[0].contains("CMD"), "{created_by:?}");
    assert!(created_by[1].contains("COPY") && created_by[1].contains("/usr/local/bin/hello"), "{created_by:?}");
    assert!(created_by.iter().all(|c| !c.contains("apt-get") && !c.contains("gcc")), "{created_by:?}");
    let sizes: Vec<u64> = h.iter().map(|x| x["Size"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(sizes[0], 0, "CMD adds no layer: {h:#?}");
    assert!(sizes[1] > 0, "COPY brings the program: {h:#?}");
}

/// A burrow with its own HOME and XDG_CONFIG_HOME (no credentials or
/// registries.conf of the user running the tests).
fn cmd(e: &Env, args: &[&str]) -> Command {
    let home: PathBuf = e.dir.path().join("home");
    let config = e.dir.path().join("config");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&config).unwrap();
    let mut c = e.cmd(args);
    c.env("HOME", home).env("XDG_CONFIG_HOME", config).env_remove("REGISTRY_AUTH_FILE");
    c
}

fn ok(e: &Env, args: &[&str]) -> String {
    let o: Output = cmd(e, args).output().expect("burrow runs");
    assert!(o.status.success(), "burrow {args:?} failed: {}\nstdout: {}\nstderr: {}", o.status, stdout(&o), stderr(&o));
    stdout(&o)
}

const APP_DOCKERFILE: &str = r#"FROM busybox
ENV GREETING="built by burrow"
WORKDIR /srv/app
COPY greeting.txt .
RUN echo "made in a RUN step" > made.txt && chmod 0600 made.txt && rm /bin/vi
LABEL org.example.test=build-real
CMD ["sh", "-c", "cat greeting.txt made.txt; echo \"$GREETING\"; pwd; stat -c %a made.txt; [ -e /bin/vi ] || echo no-vi"]
"#;

const APP_OUTPUT: &str = "hello from the context\nmade in a RUN step\nbuilt by burrow\n/srv/app\n600\nno-vi\n";

#[test]
fn a_built_image_runs_pushes_and_pulls_back() {
    if !rootless_ready() || !registry::registry_ready() {
        return;
    }
    let e = Env::new().with_busybox();
    let ctx = e.dir.path().join("ctx");
    write(&ctx, &[("Dockerfile", APP_DOCKERFILE), ("greeting.txt", "hello from the context\n")]);
    let id = e.ok(&["build", "-q", "-t", "app:1", ctx.to_str().unwrap()]).trim().to_string();
    assert_eq!(e.ok(&["run", "--rm", "app:1"]), APP_OUTPUT);
    let before = inspect(&e, "app:1");
    assert_eq!(before["Id"], id);
    let diff_ids = layers(&e, "app:1");
    assert_eq!(diff_ids.len(), layers(&e, "busybox").len() + 2, "busybox, COPY, RUN: {diff_ids:?}");

    let reg = Registry::plain();
    let dest = reg.reference("built/app:1");
    let digest_file = e.dir.path().join("digest");
    ok(&e, &["push", "--tls-verify=false", "--digestfile", digest_file.to_str().unwrap(), "app:1", &dest]);
    let pushed = std::fs::read_to_string(&digest_file).expect("--digestfile written").trim().to_string();
    assert_eq!(pushed, reg.digest("built/app:1"), "the registry has the manifest burrow pushed");
    let remote = reg.inspect("built/app:1");
    assert_eq!(remote["Layers"].as_array().unwrap().len(), diff_ids.len(), "{remote}");
    assert_eq!(remote["Labels"]["org.example.test"], "build-real", "{remote}");
    assert_eq!(remote["Env"], before["Config"]["Env"], "{remote}");

    // Gone from the store: the tag, the image, and (after a prune of the
    // build cache, which holds the intermediate images) its two layers;
    // busybox stays. The cache is not dangling images: `image prune`
    // leaves it.
    ok(&e, &["rmi", "app:1"]);
    assert!(!e.run(&["image", "inspect", &id]).status.success(), "the image {id} is still in the store after rmi");
    let o = e.run(&["run", "--rm", "app:1"]);
    assert!(!o.status.success(), "app:1 still runs after rmi: {}", stdout(&o));
    e.ok(&["image", "prune", "-f"]);
    assert!(e.ok(&["images", "-a", "-q"]).lines().count() > 1, "image prune left the build cache");
    assert_eq!(e.ok(&["images", "-q"]).lines().count(), 1, "images without -a hides the build cache");
    e.ok(&["builder", "prune", "-f"]);
    let busybox_id = inspect(&e, "busybox")["Id"].as_str().unwrap().to_string();
    assert_eq!(e.ok(&["images", "-a", "-q", "--no-trunc"]), format!("{busybox_id}\n"), "only busybox is left");

    // Back from the registry: the built layers downloaded, the same image.
    let out = ok(&e, &["pull", "--tls-verify=false", &dest]);
    assert_eq!(out.lines().last().unwrap_or("").trim(), id, "pulled back, the image has its old id: {out}");
    let remote_layers = remote["Layers"].as_array().unwrap();
    for l in &remote_layers[remote_layers.len() - 2..] {
        assert_eq!(reg.blob_gets(l.as_str().unwrap()), 1, "layer {l} was downloaded once:\n{}", reg.log());
    }
    let after = inspect(&e, &dest);
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(after["Config"], before["Config"], "the same config");
    assert_eq!(after["RootFS"], before["RootFS"], "the same layer diff ids");
    assert_eq!(e.ok(&["run", "--rm", &dest]), APP_OUTPUT);
}
