//! Durable state under SIGKILL: `run -d` (with and without a named
//! volume), `rm -f`, `volume create` and a `build` whose RUN step really
//! runs are killed at pseudo-random moments of their lives, a few hundred
//! times, and the store must stay whole: every record parses, `ps -a`
//! lists no broken container, `volume ls` works, `system check` finds no
//! problem, and at the end everything can be removed.
//!
//! The moments come from a fixed-seed generator (splitmix64), printed on
//! failure; `BURROW_KILL_SEED` picks another seed to explore. Delays are
//! scaled to how long each command takes here (measured once, uncut), so
//! kills land before the command does anything, in the middle, and after
//! it is done. Killing the CLI is the point: `run -d`'s detached monitor
//! lives in its own session and may survive, as it does for a user who
//! kills the command.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{rootless_ready, stderr, stdout, Env};

const SEED: u64 = 0x6b69_6c6c_6564_0017;
const ITERATIONS: usize = 300;
/// The CLI checks run every this many iterations (records are parsed
/// after every one).
const CHECK_EVERY: usize = 25;
/// More containers than this and one is removed, uncut, before the next
/// operation (which must work whatever state a kill left it in).
const MAX_CONTAINERS: usize = 8;

/// splitmix64: small, deterministic, good enough to spread kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Run,
    RunWithVolume,
    Rm,
    VolumeCreate,
    Build,
}

const OPS: [Op; 5] = [Op::Run, Op::RunWithVolume, Op::Rm, Op::VolumeCreate, Op::Build];

/// The command line of `op` for iteration `i` (None: nothing to do, an
/// `rm` with no container).
fn args_of(op: Op, i: usize, rng: &mut Rng, e: &Env, ctx: &Path) -> Option<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Some(match op {
        Op::Run => s(&["run", "-d", "busybox", "sleep", "1000"]),
        Op::RunWithVolume => {
            let vol = format!("kvol{}:/data", rng.below(8));
            s(&["run", "-d", "-v", &vol, "busybox", "sleep", "1000"])
        }
        Op::Rm => {
            let ids = container_ids(&e.root);
            let id = ids.get(rng.below(ids.len() as u64) as usize)?;
            s(&["rm", "-f", id])
        }
        // Half the names repeat (an existing volume, or one a killed
        // create left half-made), half are new.
        Op::VolumeCreate => {
            let name = if rng.below(2) == 0 { format!("kvol{}", rng.below(8)) } else { format!("knew{i}") };
            s(&["volume", "create", &name])
        }
        Op::Build => {
            // New content every time, so the RUN step runs (no cache hit).
            std::fs::write(ctx.join("Dockerfile"), format!("FROM busybox\nRUN echo {i}-{} > /f\n", rng.next())).unwrap();
            s(&["build", "-q", "-t", "killed-build", ctx.to_str().unwrap()])
        }
    })
}

/// The container directories (ids), whatever state their records are in.
fn container_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root.join("containers"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

/// Every record burrow keeps as JSON parses: `index.json`, each
/// `containers/*/container.json`, each `volumes/*/volume.json`. (A
/// directory without its record is a create killed before it wrote it:
/// the next create removes or finishes it.)
fn records_parse(root: &Path) -> Result<usize, String> {
    let parse = |p: &Path| -> Result<(), String> {
        let b = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_slice::<serde_json::Value>(&b)
            .map(|_| ())
            .map_err(|e| format!("{} does not parse ({e}): {:?}", p.display(), String::from_utf8_lossy(&b)))
    };
    parse(&root.join("index.json"))?;
    let mut n = 1;
    for (dir, file) in [("containers", "container.json"), ("volumes", "volume.json")] {
        for name in names(&root.join(dir)) {
            let p = root.join(dir).join(name).join(file);
            if p.exists() {
                parse(&p)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The store as the CLI sees it: `ps -a` lists no broken record, `volume
/// ls` and `images` work, `system check` finds no problem. What killed
/// commands left in `tmp/` is theirs to leave: `check` removes it and
/// says so, which is no problem.
fn cli_consistent(e: &Env) -> Result<usize, String> {
    let ok = |args: &[&str]| {
        let o = e.run(args);
        if o.status.success() {
            Ok(stdout(&o))
        } else {
            Err(format!("burrow {args:?} failed ({}): {}{}", o.status, stdout(&o), stderr(&o)))
        }
    };
    let ps = ok(&["ps", "-a", "--no-trunc"])?;
    if ps.to_lowercase().contains("broken") {
        return Err(format!("a killed command left a record that does not load:\n{ps}"));
    }
    ok(&["volume", "ls"])?;
    ok(&["images"])?;
    let check = ok(&["system", "check"])?;
    let unexpected: Vec<&str> = check
        .lines()
        .filter(|l| !(l.starts_with("removed tmp/") && l.ends_with("left by an interrupted command")))
        .filter(|l| !l.contains("is in use by another burrow command"))
        .filter(|l| *l != "no problems found")
        .collect();
    if !unexpected.is_empty() || !check.ends_with("no problems found\n") {
        return Err(format!("system check reports:\n{check}"));
    }
    Ok(check.lines().filter(|l| l.starts_with("removed tmp/")).count())
}

/// How long `args` takes uncut (it must succeed).
fn timed(e: &Env, args: &[String]) -> Duration {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = Instant::now();
    e.ok(&a);
    t.elapsed()
}

/// A kill delay for a command that takes `d` uncut: a quarter right at
/// the start, half anywhere in its life, a quarter late or after the end.
fn delay(rng: &mut Rng, d: Duration) -> Duration {
    let us = d.as_micros().max(1000) as u64;
    Duration::from_micros(match rng.below(4) {
        0 => rng.below(2000),
        1 => us / 2 + rng.below(us * 3 / 4),
        _ => rng.below(us),
    })
}

#[test]
fn commands_killed_at_random_moments_leave_a_consistent_store() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new().with_busybox();
    let seed = std::env::var("BURROW_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(SEED);
    let started = Instant::now();
    let ctx = e.dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    let mut rng = Rng(seed);
    // Each command once, uncut: it works here, and its time scales the delays.
    let mut took = [Duration::ZERO; OPS.len()];
    for (k, op) in OPS.iter().enumerate().filter(|(_, op)| **op != Op::Rm) {
        took[k] = timed(&e, &args_of(*op, 0, &mut rng, &e, &ctx).unwrap());
    }
    took[2] = timed(&e, &args_of(Op::Rm, 0, &mut rng, &e, &ctx).unwrap());
    let fail = |i: usize, what: String| -> ! { panic!("seed {seed} (BURROW_KILL_SEED={seed}), iteration {i}: {what}") };
    let mut counts = [0usize; OPS.len()];
    let mut checks = 0;
    let mut leftovers = 0;
    for i in 1..=ITERATIONS {
        let listed: Vec<String> = e.ok(&["ps", "-aq", "--no-trunc"]).split_whitespace().map(str::to_string).collect();
        if listed.len() > MAX_CONTAINERS {
            let o = e.run(&["rm", "-f", &listed[0]]);
            if !o.status.success() {
                fail(i, format!("rm -f {} of a container killed commands left failed: {}", listed[0], stderr(&o)));
            }
        }
        let k = rng.below(OPS.len() as u64) as usize;
        let Some(args) = args_of(OPS[k], i, &mut rng, &e, &ctx) else { continue };
        counts[k] += 1;
        let wait = delay(&mut rng, took[k]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = e.cmd(&a).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(wait);
        // SIGKILL (a no-op when it already ended).
        let _ = child.kill();
        child.wait().unwrap();
        if let Err(what) = records_parse(&e.root) {
            fail(i, format!("after {:?} killed at {wait:?}: {what}", OPS[k]));
        }
        if i % CHECK_EVERY == 0 || i == ITERATIONS {
            checks += 1;
            match cli_consistent(&e) {
                Ok(n) => leftovers += n,
                Err(what) => fail(i, format!("after {:?} killed at {wait:?}: {what}", OPS[k])),
            }
        }
    }
    // Everything a killed command left can be removed.
    let ids: Vec<String> = e.ok(&["ps", "-aq", "--no-trunc"]).split_whitespace().map(str::to_string).collect();
    if !ids.is_empty() {
        let mut a = vec!["rm", "-f"];
        a.extend(ids.iter().map(String::as_str));
        e.ok(&a);
    }
    e.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    let vols: Vec<String> = e.ok(&["volume", "ls", "-q"]).split_whitespace().map(str::to_string).collect();
    if !vols.is_empty() {
        let mut a = vec!["volume", "rm"];
        a.extend(vols.iter().map(String::as_str));
        e.ok(&a);
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "", "seed {seed}: a container is left");
    assert_eq!(container_ids(&e.root), Vec::<String>::new(), "seed {seed}: container directories are left");
    assert_eq!(names(&e.root.join("tmp")), Vec::<String>::new(), "seed {seed}: prune left entries in tmp/");
    let left_volumes = names(&e.root.join("volumes"));
    if let Err(what) = cli_consistent(&e) {
        fail(ITERATIONS, format!("after the final cleanup: {what}"));
    }
    eprintln!(
        "seed {seed}: {ITERATIONS} kills ({} run -d, {} run -d -v, {} rm -f, {} volume create, {} build; uncut {took:?}), {checks} CLI checks (which cleared {leftovers} leftovers from tmp/), volume dirs left: {left_volumes:?}, {:?}",
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        started.elapsed()
    );
    assert_eq!(left_volumes, Vec::<String>::new(), "seed {seed}: volume directories no volume ls lists are left");
}
