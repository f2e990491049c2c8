//! `compose up`, `compose run`, and the images they need (`build`, `pull`).
//!
//! Order matters: every bind source of the project is checked as the
//! caller (`Checked::new_container`), then burrow's namespace is entered
//! (before any thread), then images are built or pulled and
//! `compose::apply::up` starts the services on its threads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use burrow::compose::apply::{self, UpOptions};
use burrow::compose::model::Project;
use burrow::compose::plan;
use burrow::compose::state::{self, Recreate};
use burrow::container::lifecycle::{self, Checked, Follower, Ready};
use burrow::container::logs::Stream;
use burrow::container::record;
use burrow::image::{Image, Store};
use burrow::paths::Paths;

use super::ComposeArgs;

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short, long)]
    detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    build: bool,
    /// Don't build an image, even if it's missing
    #[arg(long)]
    no_build: bool,
    /// Pull images before running: always, missing, never
    #[arg(long, value_name = "POLICY", value_parser = ["always", "missing", "never"])]
    pull: Option<String>,
    /// Wait for services to be running and healthy (implies -d)
    #[arg(long)]
    wait: bool,
    /// Maximum seconds to wait with --wait
    #[arg(long, value_name = "SECONDS")]
    wait_timeout: Option<u64>,
    /// Scale SERVICE to NUM instances (overrides deploy.replicas)
    #[arg(long, value_name = "SERVICE=NUM")]
    scale: Vec<String>,
    /// Recreate containers even if their configuration hasn't changed
    #[arg(long, conflicts_with = "no_recreate")]
    force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long)]
    no_recreate: bool,
    /// Remove containers for services not defined in the compose file
    #[arg(long)]
    remove_orphans: bool,
    /// Stop all containers if any container was stopped (foreground only)
    #[arg(long)]
    abort_on_container_exit: bool,
    /// Return the exit code of the selected service container (implies --abort-on-container-exit)
    #[arg(long, value_name = "SERVICE")]
    exit_code_from: Option<String>,
    /// Services to start (and what they depend on)
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Automatically remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Run the container in the background and print its name
    #[arg(short, long)]
    detach: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "KEY=VAL")]
    env: Vec<String>,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Don't start linked services
    #[arg(long)]
    no_deps: bool,
    /// Override the entrypoint of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Run as this user
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Disable pseudo-TTY allocation (burrow's one-off containers have none)
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// The service, then the command and its arguments
    #[arg(value_names = ["SERVICE", "COMMAND"], required = true, num_args = 1.., trailing_var_arg = true)]
    argv: Vec<String>,
}

/// `build` and `pull` flags: which images to get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ImagePolicy {
    pub build: bool,
    pub no_build: bool,
    /// always, missing or never.
    pub pull: &'static str,
}

fn parse_scale(items: &[String]) -> anyhow::Result<BTreeMap<String, u32>> {
    items
        .iter()
        .map(|s| {
            let (k, v) = s.split_once('=').with_context(|| format!("invalid --scale {s:?}: expected SERVICE=NUM"))?;
            Ok((k.to_string(), v.parse().with_context(|| format!("invalid --scale {s:?}: NUM must be a number"))?))
        })
        .collect()
}

/// Check every bind source the selected services mount, as the caller,
/// then enter burrow's namespace.
pub(super) fn enter_for(paths: &Paths, p: &Project, services: &std::collections::BTreeSet<String>) -> anyhow::Result<Ready> {
    let mut mounts = Vec::new();
    for s in services {
        mounts.extend(plan::plan(p, s, 1, false, None)?.opts.mounts);
    }
    let ready = Checked::new_container(paths, &mounts, &[])?.enter()?;
    super::super::warn_fallback(ready.fallback());
    Ok(ready)
}

/// Each selected service's image: built (services with `build:`, when
/// asked or missing) or pulled as `policy` says. Call inside the namespace.
pub(super) fn images(
    paths: &Paths,
    p: &Project,
    services: &std::collections::BTreeSet<String>,
    policy: ImagePolicy,
) -> anyhow::Result<BTreeMap<String, Image>> {
    let store = Store::open(paths)?;
    let mut out = BTreeMap::new();
    for s in services {
        let svc = &p.services[s];
        let name = plan::image_name(&p.name, s, svc);
        let have = store.resolve(&name).ok();
        let image = match (&svc.build, have) {
            (Some(_), Some(i)) if !policy.build => i,
            (Some(_), None) if policy.no_build => {
                anyhow::bail!("service {s}: image {name} is not built and --no-build was given: build it with burrow compose build {s}")
            }
            (Some(b), _) => build_one(paths, &name, b).with_context(|| format!("service {s}: cannot build {name}"))?,
            (None, have) => match (policy.pull, have) {
                ("always", _) | ("missing", None) => {
                    eprintln!("Pulling {s} ({name})");
                    super::super::registry::pull_for_run(&store, &name).with_context(|| format!("service {s}: cannot pull {name}"))?
                }
                (_, Some(i)) => i,
                (_, None) => anyhow::bail!("service {s}: no such image {name} and --pull never: pull it with burrow compose pull"),
            },
        };
        out.insert(s.clone(), image);
    }
    Ok(out)
}

fn build_one(paths: &Paths, tag: &str, b: &burrow::compose::model::Build) -> anyhow::Result<Image> {
    let context = std::path::PathBuf::from(&b.context);
    if !context.is_dir() {
        anyhow::bail!("the build context {} is not a directory", context.display());
    }
    let build_args = b.args.iter().filter_map(|(k, v)| v.clone().or_else(|| std::env::var(k).ok()).map(|v| (k.clone(), v))).collect();
    let opts = burrow::build::driver::Options {
        context: context.canonicalize()?,
        file: Some(context.join(&b.dockerfile)),
        tags: vec![tag.to_string()],
        build_args,
        target: b.target.clone(),
        no_cache: false,
        pull: false,
        labels: b.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        quiet: false,
        network: Default::default(),
    };
    let pull = |name: &str| -> Result<Image, burrow::build::driver::PullError> {
        let store = Store::open(paths)?;
        Ok(super::super::registry::pull_for_run(&store, name)?)
    };
    let mut progress: Box<dyn std::io::Write> = Box::new(std::io::stderr());
    let id = burrow::build::driver::build(paths, &opts, &pull, &mut progress)?;
    Ok(Store::open(paths)?.resolve(&id.to_string())?)
}

fn say(line: &str) {
    eprintln!(" ✔ {line}");
}

pub fn up(paths: &Paths, g: &ComposeArgs, a: &UpArgs) -> anyhow::Result<i32> {
    if a.build && a.no_build {
        anyhow::bail!("--build and --no-build are incompatible");
    }
    let p = g.load(&a.services)?;
    let scale = parse_scale(&a.scale)?;
    if let Some(s) = scale.keys().find(|s| !p.services.contains_key(*s)) {
        anyhow::bail!("--scale: no such service: {s}");
    }
    let o = UpOptions {
        services: a.services.clone(),
        scale,
        recreate: if a.force_recreate {
            Recreate::Force
        } else if a.no_recreate {
            Recreate::Never
        } else {
            Recreate::Diverged
        },
        remove_orphans: a.remove_orphans,
        wait: a.wait.then(|| a.wait_timeout.map(Duration::from_secs)),
    };
    let selected = apply::selection(&p, &o.services);
    let ready = enter_for(paths, &p, &selected)?;
    let policy = ImagePolicy { build: a.build, no_build: a.no_build, pull: pull_policy(a.pull.as_deref()) };
    let images = images(paths, &p, &selected, policy)?;
    let since = chrono::Utc::now();
    let done = apply::up(paths, &ready, &p, &images, &o, &say)?;
    if a.detach || a.wait {
        return Ok(0);
    }
    let abort = a.abort_on_container_exit || a.exit_code_from.is_some();
    foreground(paths, &done, since, abort, a.exit_code_from.as_deref())
}

fn pull_policy(p: Option<&str>) -> &'static str {
    match p {
        Some("always") => "always",
        Some("never") => "never",
        _ => "missing",
    }
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

/// Follow every container's log, prefixed `SERVICE-N  | `, until they all
/// exit (or one does, with `abort`); Ctrl-C stops the project, a second
/// Ctrl-C kills it.
fn foreground(
    paths: &Paths,
    done: &BTreeMap<String, Vec<String>>,
    since: chrono::DateTime<chrono::Utc>,
    abort: bool,
    code_from: Option<&str>,
) -> anyhow::Result<i32> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let handler = SigAction::new(SigHandler::Handler(on_interrupt), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only increments an atomic, which is async-signal-safe.
    unsafe {
        sigaction(Signal::SIGINT, &handler)?;
        sigaction(Signal::SIGTERM, &handler)?;
    }
    let mut followed: Vec<(String, String, Follower)> = Vec::new();
    let width = done.iter().flat_map(|(s, names)| names.iter().map(move |n| prefix_of(s, n).len())).max().unwrap_or(0);
    let colour = super::verbs::colour_wanted(false);
    for (s, names) in done {
        for n in names {
            let r = record::find(paths, n)?;
            let prefix = super::verbs::prefix_text(&prefix_of(s, n), width, followed.len(), colour);
            followed.push((n.clone(), prefix, Follower::at_start(&r.dir(paths))));
        }
    }
    let mut stop_at: Option<std::time::Instant> = None;
    let mut killed = false;
    let mut code = 0;
    loop {
        let mut alive = Vec::new();
        let mut exited = None;
        for (name, prefix, f) in followed.iter_mut() {
            for e in f.poll().into_iter().filter(|e| e.time >= since) {
                let line = format!("{prefix}{}", e.log);
                if e.stream == Stream::Stdout {
                    print!("{line}");
                } else {
                    eprint!("{line}");
                }
            }
            let r = record::observed(paths, record::find(paths, name)?);
            if lifecycle::running(paths, &r) {
                alive.push(r);
            } else if exited.is_none() {
                exited = Some((name.clone(), r.exit_code.unwrap_or(0)));
            }
        }
        if let (Some(from), Some((n, c))) = (code_from, &exited) {
            if done.get(from).is_some_and(|names| names.contains(n)) {
                code = *c;
            }
        }
        let interrupts = INTERRUPTS.load(Ordering::SeqCst);
        if alive.is_empty() {
            // Interrupted: docker's 130 (128 + SIGINT), unless --exit-code-from.
            return Ok(if interrupts > 0 && code_from.is_none() { 130 } else { code });
        }
        if (interrupts > 0 || (abort && exited.is_some())) && stop_at.is_none() {
            eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
            stop_at = Some(signal_stop(paths, &alive));
        }
        let overdue = stop_at.is_some_and(|t| std::time::Instant::now() > t);
        if (interrupts > 1 || overdue) && !killed {
            killed = true;
            for r in &alive {
                let _ = lifecycle::kill(paths, &r.name, nix::sys::signal::Signal::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Send each container its stop signal (as `stop` would); when the
/// longest grace period ends.
fn signal_stop(paths: &Paths, alive: &[record::Record]) -> std::time::Instant {
    let store = Store::open(paths).ok();
    let mut grace = 0;
    for r in alive {
        let config = r.config.clone().unwrap_or_default();
        let image = store.as_ref().and_then(|s| s.resolve(r.image_id.as_str()).ok());
        let defaults = image.as_ref().map(burrow::model::run::ImageDefaults::of).unwrap_or_default();
        let signal = lifecycle::parse_signal(&config.stop_signal(&defaults)).unwrap_or(nix::sys::signal::Signal::SIGTERM);
        let _ = lifecycle::kill(paths, &r.name, signal);
        grace = grace.max(config.stop_timeout.unwrap_or(10));
    }
    std::time::Instant::now() + Duration::from_secs(grace.into())
}

/// `web-1` for container `proj-web-1` of service `web`.
fn prefix_of(service: &str, name: &str) -> String {
    format!("{service}-{}", name.rsplit('-').next().unwrap_or_default())
}

/// `compose run`: the service's dependencies up, then a one-off container.
pub fn run(paths: &Paths, g: &ComposeArgs, a: &RunArgs) -> anyhow::Result<i32> {
    let service = a.argv[0].clone();
    let p = g.load(std::slice::from_ref(&service))?;
    if !p.services.contains_key(&service) {
        anyhow::bail!("no such service: {service}");
    }
    let deps = if a.no_deps {
        Vec::new()
    } else {
        burrow::compose::graph::dependencies(&p.services[&service]).into_iter().map(|(d, _)| d).collect()
    };
    let mut selected = apply::selection(&p, &deps);
    selected.insert(service.clone());
    let ready = enter_for(paths, &p, &selected)?;
    let images = images(paths, &p, &selected, ImagePolicy { build: false, no_build: false, pull: "missing" })?;
    if !deps.is_empty() {
        // Dependencies as they are: none recreated nor scaled down.
        let mut scale = BTreeMap::new();
        for m in state::members(paths, &p.name)?.iter().filter(|m| !m.oneoff) {
            *scale.entry(m.service.clone()).or_insert(0) += 1;
        }
        let o = UpOptions { services: deps.clone(), scale, recreate: Recreate::Never, ..Default::default() };
        apply::up(paths, &ready, &p, &images, &o, &say)?;
        for (d, dep) in &p.services[&service].depends_on {
            if let Some(c) = p.services.get(d).map(|_| plan::container_name(&p.name, d, 1)) {
                apply::satisfied(paths, &c, dep.condition).map_err(|e| anyhow::anyhow!("service {d}: {e}"))?;
            }
        }
    }
    let image = &images[&service];
    let health = image.config_json.get("config").and_then(|c| c.get("Healthcheck"));
    let mut planned = plan::plan(&p, &service, 1, true, health)?;
    let o = &mut planned.opts;
    o.name = Some(a.name.clone().unwrap_or_else(|| state::oneoff_name(&p.name, &service)));
    if a.argv.len() > 1 {
        o.command = a.argv[1..].to_vec();
    }
    if let Some(e) = &a.entrypoint {
        o.entrypoint = Some(e.clone());
    }
    o.user = a.user.clone().or(o.user.take());
    o.workdir = a.workdir.clone().or(o.workdir.take());
    o.env.extend(a.env.iter().cloned());
    o.network.publish.clear();
    o.rm = a.rm;
    o.restart = Default::default();
    let _ = a.no_tty;
    if a.detach {
        let r = lifecycle::run_detached(paths, &ready, o, image)?;
        println!("{}", r.name);
        return Ok(0);
    }
    if !planned.joins.is_empty() {
        anyhow::bail!(
            "service {service}: compose run of a service on several networks is not supported yet: use compose up and compose exec"
        );
    }
    match lifecycle::run(paths, &ready, o, image) {
        Ok(code) => Ok(code),
        Err(e) => Err(e.into()),
    }
}

/// `compose build [SERVICE...]`.
pub fn build(paths: &Paths, g: &ComposeArgs, a: &super::verbs::ServicesArgs) -> anyhow::Result<()> {
    let p = g.load(&a.services)?;
    super::super::enter(false)?;
    for s in services_or_all(&p, &a.services) {
        if let Some(b) = &p.services[&s].build {
            let name = plan::image_name(&p.name, &s, &p.services[&s]);
            build_one(paths, &name, b).with_context(|| format!("service {s}: cannot build {name}"))?;
        }
    }
    Ok(())
}

/// `compose pull [SERVICE...]`: the images of the services without `build:`.
pub fn pull(paths: &Paths, g: &ComposeArgs, a: &super::verbs::ServicesArgs) -> anyhow::Result<()> {
    let p = g.load(&a.services)?;
    super::super::enter(false)?;
    let store = Store::open(paths)?;
    for s in services_or_all(&p, &a.services) {
        if p.services[&s].build.is_none() {
            let name = plan::image_name(&p.name, &s, &p.services[&s]);
            eprintln!("Pulling {s} ({name})");
            super::super::registry::pull_for_run(&store, &name).with_context(|| format!("service {s}: cannot pull {name}"))?;
        }
    }
    Ok(())
}

pub(super) fn services_or_all(p: &Project, named: &[String]) -> Vec<String> {
    if named.is_empty() {
        p.services.keys().cloned().collect()
    } else {
        named.to_vec()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_drop_the_project() {
        assert_eq!(super::prefix_of("web", "shop-web-1"), "web-1");
        assert_eq!(super::prefix_of("a-b", "my-shop-a-b-12"), "a-b-12");
        assert_eq!(super::super::verbs::prefix_text("web-1", 6, 0, false), "web-1   | ");
        assert_eq!(super::super::verbs::prefix_text("db-1", 4, 1, true), "\x1b[33mdb-1  | \x1b[0m");
    }
}
