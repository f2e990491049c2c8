//! Nothing half-made gets a name: a commit whose layer writer fails tags
//! nothing, trees deeper than PATH_MAX are removed wherever burrow
//! removes trees, `system check` and `system prune` clear what killed
//! commands left in `tmp/` (and only that), and a `run --rm` killed before
//! its container ran or was removed leaves no container once the next
//! command has run.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{rootless_ready, stderr, stdout, Env};

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

/// The names in a store directory (`tmp`, `containers`, `layers`).
fn names(e: &Env, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(e.root.join(dir))
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// A tar of one chain of `depth` directories named `d`.
fn deep_tar(path: &Path, depth: usize) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut name = String::new();
    for _ in 0..depth {
        name.push_str(if name.is_empty() { "d" } else { "/d" });
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, format!("{name}/"), std::io::empty()).unwrap();
    }
    b.finish().unwrap();
}

#[test]
fn a_commit_whose_layer_cannot_be_written_tags_nothing() {
    let Some(e) = env() else { return };
    // 2,040 levels fit the container's own 4,096-byte limit, but not with
    // the store's path to the upper directory in front.
    let made = e.ok(&[
        "run",
        "--name",
        "deep",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 2040 ]; do mkdir d && cd d || break; i=$((i+1)); done; echo $i",
    ]);
    assert_eq!(made.trim(), "2040");
    let images = e.ok(&["images", "-q", "--no-trunc"]);
    let o = e.run(&["commit", "deep", "half:made"]);
    assert_ne!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stderr(&o).contains("cannot commit deep"), "{}", stderr(&o));
    assert_eq!(e.ok(&["images", "-q", "--no-trunc"]), images, "no image, tagged or not, was added");
    assert_eq!(names(&e, "tmp"), Vec::<String>::new(), "the staged layer is gone");
    assert!(e.ok(&["system", "check"]).contains("no problems"));
    e.ok(&["rm", "deep"]);
    assert_eq!(names(&e, "containers"), Vec::<String>::new());
}

#[test]
fn a_failed_import_of_a_too_deep_tree_leaves_nothing_in_tmp() {
    let Some(e) = env() else { return };
    // A failed import leaves its partial 2,047-deep layer to be removed.
    let tar = e.dir.path().join("deeper.tar");
    deep_tar(&tar, 2050);
    let o = e.run(&["import", tar.to_str().unwrap(), "too:deep"]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(names(&e, "tmp"), Vec::<String>::new(), "{}", stderr(&o));
}

#[test]
fn removing_an_image_removes_its_layer_deeper_than_path_max() {
    let Some(e) = env() else { return };
    // A layer deep enough to pass PATH_MAX only with the store's path in
    // front: imported, then removed through tmp/rm-layer-*.
    let layers = names(&e, "layers");
    let tar = e.dir.path().join("deep.tar");
    deep_tar(&tar, 2030);
    e.ok(&["import", tar.to_str().unwrap(), "deep"]);
    assert_eq!(names(&e, "layers").len(), layers.len() + 1);
    e.ok(&["rmi", "deep"]);
    assert_eq!(names(&e, "layers"), layers);
    assert_eq!(names(&e, "tmp"), Vec::<String>::new());
}

/// `burrow import -` reading the first half of the busybox tarball and
/// then waiting for more: its staging directory is in `tmp/`.
fn import_in_progress(e: &Env) -> std::process::Child {
    let tar = std::fs::read(e.dir.path().join("busybox.tar")).unwrap();
    let mut child = e.cmd(&["import", "-", "partial"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&tar[..tar.len() / 2]).unwrap();
    stdin.flush().unwrap();
    while !names(e, "tmp").iter().any(|n| n.starts_with("import-")) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Keep the pipe open: the import waits for the rest.
    std::mem::forget(stdin);
    child
}

#[test]
fn system_check_and_prune_clear_only_what_killed_commands_left_in_tmp() {
    let Some(e) = env() else { return };
    for verb in ["check", "prune"] {
        let mut running = import_in_progress(&e);
        let staged = names(&e, "tmp");
        let args: &[&str] = if verb == "check" { &["system", "check"] } else { &["system", "prune", "-f"] };
        let o = e.run(args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("in use by another burrow command"), "{}", stdout(&o));
        assert_eq!(names(&e, "tmp"), staged, "a running import's work is kept");
        running.kill().unwrap();
        running.wait().unwrap();
        assert_eq!(names(&e, "tmp"), staged, "the killed import left its staging behind");
        let out = e.ok(args);
        let import = staged.iter().find(|n| n.starts_with("import-")).unwrap();
        assert!(out.contains(import.as_str()), "{verb} names what it removed: {out}");
        assert_eq!(names(&e, "tmp"), Vec::<String>::new(), "{verb} cleared tmp/");
    }
    assert!(!e.ok(&["images"]).contains("partial"));
}

#[test]
fn a_run_rm_killed_at_any_moment_leaves_no_container_behind() {
    let Some(e) = env() else { return };
    // SIGKILL `run --rm` at delays spread over its whole life: before its
    // record exists, while the container is created but not yet running,
    // while it runs, and while it is being removed.
    for i in 0..40u64 {
        let mut child = e.cmd(&["run", "--rm", "busybox", "true"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(i * 13 % 400));
        let _ = child.kill();
        child.wait().unwrap();
    }
    // The next command that changes containers cleans up.
    assert_eq!(e.ok(&["run", "--rm", "busybox", "echo", "next"]), "next\n");
    assert_eq!(e.ok(&["ps", "-aq"]), "", "no --rm container stays");
    assert_eq!(names(&e, "containers"), Vec::<String>::new());
    // What a removal cut short moved into tmp/ is cleared by prune.
    e.ok(&["system", "prune", "-f"]);
    assert_eq!(names(&e, "tmp"), Vec::<String>::new());
}
