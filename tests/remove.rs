//! Removing containers, the one way (`container::remove`), under races and
//! damage: two `rm -f`, a `start` and a `container prune` on one container
//! at once, and records that do not load.

mod common;

use std::process::Output;

use common::{rootless_ready, stderr, Env};

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

/// Processes still running for container `id` (its monitor or workload
/// would name the id or run the test's sleep).
fn processes_of(id: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(id) || c.contains("sleep 4242"))
        .collect()
}

/// Every command either did its part or lost the race to a removal, which
/// it must say as "no such container".
fn lost_or_won(what: &str, o: &Output) {
    assert!(o.status.success() || stderr(o).contains("no such container"), "{what} failed otherwise: {}", stderr(o));
}

#[test]
fn rm_start_and_prune_racing_remove_a_container_exactly_once() {
    let Some(e) = env() else { return };
    for round in 0..20 {
        // Half the rounds race over a running container, half over a
        // created one (which prune may take too).
        let running = round % 2 == 0;
        let verb = if running { "run" } else { "create" };
        let mut args = vec![verb];
        if running {
            args.push("-d");
        }
        args.extend(["--name", "victim", "busybox", "sleep", "4242"]);
        let id = e.ok(&args).trim().to_string();
        let id = if running { id } else { e.ok(&["inspect", "-f", "{{.Id}}", "victim"]).trim().to_string() };
        let racers: Vec<(&str, std::process::Child)> = [
            ("rm -f", vec!["rm", "-f", "victim"]),
            ("rm -f", vec!["rm", "-f", id.as_str()]),
            ("start", vec!["start", "victim"]),
            ("prune", vec!["container", "prune", "-f"]),
        ]
        .into_iter()
        .map(|(what, a)| (what, e.cmd(&a).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()))
        .collect();
        let mut removed_by_rm = 0;
        for (what, child) in racers {
            let o = child.wait_with_output().unwrap();
            lost_or_won(what, &o);
            if what == "rm -f" && o.status.success() {
                removed_by_rm += 1;
            }
        }
        assert!(removed_by_rm <= 1, "round {round}: two rm -f both removed the container");
        // A start that won after an rm lost to prune may have left it
        // running: the last rm settles it.
        let o = e.run(&["rm", "-f", "victim"]);
        lost_or_won("the last rm -f", &o);
        assert_eq!(e.ok(&["ps", "-a", "-q"]).trim(), "", "round {round}: a container is left");
        let short = &id[..12];
        let left: Vec<String> = std::fs::read_dir(e.root.join("tmp"))
            .map(|d| d.flatten().map(|x| x.file_name().to_string_lossy().into_owned()).filter(|n| n.contains("rm-container")).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "round {round}: removals left {left:?} in tmp/");
        assert!(!e.root.join("containers").join(&id).exists(), "round {round}: {short}'s directory is left");
        let procs = processes_of(&id);
        assert!(procs.is_empty(), "round {round}: processes left: {procs:?}");
    }
}

#[test]
fn a_record_that_does_not_load_is_listed_and_removed() {
    let Some(e) = env() else { return };
    for (damage, bytes) in [("empty", &b""[..]), ("garbage", &b"\x00{not json"[..])] {
        let id = e.ok(&["create", "--name", damage, "busybox", "true"]).trim().to_string();
        let record = e.root.join("containers").join(&id).join("container.json");
        std::fs::write(&record, bytes).unwrap();
        let ps = e.ok(&["ps", "-a"]);
        let line = ps.lines().find(|l| l.starts_with(&id[..12])).unwrap_or_else(|| panic!("{damage}: ps -a does not list it:\n{ps}"));
        assert!(line.contains("Broken") && line.matches(record.to_str().unwrap()).count() == 1, "{damage}: the path once: {line}");
        assert!(e.ok(&["ps", "-a", "-q"]).lines().any(|l| l == &id[..12]));
        // Other commands go on as if it were not there.
        e.ok(&["run", "--rm", "busybox", "true"]);
        assert!(e.run(&["start", damage]).status.code() == Some(125));
        e.ok(&["rm", "-f", &id[..12]]);
        assert!(!record.exists(), "{damage}: the directory is left");
        assert!(!e.ok(&["ps", "-a"]).contains(&id[..12]));
    }
}
