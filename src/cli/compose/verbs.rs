//! The compose verbs over a project's existing containers: `down`, `ps`,
//! `logs`, `start`, `stop`, `restart`, `kill`, `rm`, `exec`, `top`,
//! `port`, `images`, `ls`, `push`. Containers are found by their
//! `com.docker.compose.*` labels (`compose::state`); each verb is the
//! lifecycle call the matching container verb makes, per container.

use std::collections::BTreeSet;

use anyhow::Context;
use burrow::compose::plan;
use burrow::compose::state::{self, Member};
use burrow::container::lifecycle::{self, Checked};
use burrow::container::logs::{self, Stream};
use burrow::container::Status;
use burrow::lock::StoreLock;
use burrow::paths::Paths;

use super::ComposeArgs;

#[derive(clap::Args, Debug)]
pub struct ServicesArgs {
    /// Services (default: all)
    pub services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct DownArgs {
    /// Remove named volumes declared in the volumes section and anonymous volumes
    #[arg(short, long)]
    volumes: bool,
    /// Remove images used by services: local (those without a custom tag) or all
    #[arg(long, value_name = "TYPE", value_parser = ["local", "all"])]
    rmi: Option<String>,
    /// Remove containers for services not defined in the compose file
    #[arg(long)]
    remove_orphans: bool,
    /// Shutdown timeout in seconds
    #[arg(short = 't', long = "timeout", value_name = "SECONDS")]
    timeout: Option<u32>,
}

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Show all stopped containers
    #[arg(short, long)]
    all: bool,
    /// Only display IDs
    #[arg(short, long)]
    quiet: bool,
    /// Format the output: table or json
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
    /// Display services
    #[arg(long)]
    services: bool,
    /// Services (default: all)
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, value_name = "N")]
    tail: Option<String>,
    /// Produce monochrome output
    #[arg(long)]
    no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    no_log_prefix: bool,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Shutdown timeout in seconds
    #[arg(short = 't', long = "timeout", value_name = "SECONDS")]
    timeout: Option<u32>,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short, long, default_value = "SIGKILL")]
    signal: String,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short, long)]
    force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short, long)]
    stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short, long)]
    volumes: bool,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background
    #[arg(short, long)]
    detach: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "KEY=VAL")]
    env: Vec<String>,
    /// Run the command as this user
    #[arg(short, long)]
    user: Option<String>,
    /// Path to workdir directory for this command
    #[arg(short, long)]
    workdir: Option<String>,
    /// Index of the container if the service has several replicas
    #[arg(long, default_value_t = 1)]
    index: u32,
    /// Disable pseudo-TTY allocation (burrow allocates none unless asked)
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// The service, then the command and its arguments
    #[arg(value_names = ["SERVICE", "COMMAND"], required = true, num_args = 2.., trailing_var_arg = true)]
    argv: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PortArgs {
    /// Index of the container if the service has several replicas
    #[arg(long, default_value_t = 1)]
    index: u32,
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    protocol: String,
    service: String,
    private_port: u16,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short, long)]
    all: bool,
    /// Only display project names
    #[arg(short, long)]
    quiet: bool,
    /// Format the output: table or json
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

/// The project's containers (not one-off ones unless `oneoff`) of the
/// services named (all when none is).
fn members(paths: &Paths, g: &ComposeArgs, services: &[String], oneoff: bool) -> anyhow::Result<(String, Vec<Member>)> {
    let project = g.project_name()?;
    let all = state::members(paths, &project)?;
    let chosen = all.into_iter().filter(|m| (oneoff || !m.oneoff) && (services.is_empty() || services.contains(&m.service))).collect();
    Ok((project, chosen))
}

fn say(line: &str) {
    eprintln!(" ✔ {line}");
}

/// Stop the containers in parallel, from the caller's namespace.
fn stop_all(paths: &Paths, names: &[String], timeout: Option<u32>) -> anyhow::Result<()> {
    let results: Vec<(String, anyhow::Result<()>)> = std::thread::scope(|s| {
        let handles: Vec<_> = names.iter().map(|n| (n.clone(), s.spawn(move || lifecycle::stop(paths, n, timeout).map(|_| ())))).collect();
        handles.into_iter().map(|(n, h)| (n, h.join().expect("stop thread").map_err(anyhow::Error::from))).collect()
    });
    for (n, r) in results {
        r.with_context(|| format!("cannot stop {n}"))?;
        say(&format!("Container {n}  Stopped"));
    }
    Ok(())
}

/// Claim (killing what still runs) and remove the containers; call after
/// entering burrow's namespace with `ready`.
fn remove_all(paths: &Paths, ready: &lifecycle::Ready, names: &[String], volumes: bool) -> anyhow::Result<()> {
    for n in names {
        // A `run --rm` container removes itself once stopped.
        let c = match lifecycle::claim(paths, n, true) {
            Err(burrow::container::Error::NoSuchContainer { .. }) => continue,
            other => other?,
        };
        c.wait();
        lifecycle::remove(paths, ready, c, volumes).with_context(|| format!("cannot remove {n}"))?;
        say(&format!("Container {n}  Removed"));
    }
    Ok(())
}

pub fn down(paths: &Paths, g: &ComposeArgs, a: &DownArgs) -> anyhow::Result<()> {
    let p = g.load(&[])?;
    let all = state::members(paths, &p.name)?;
    let known: BTreeSet<&String> = p.services.keys().chain(p.disabled.keys()).collect();
    let (mine, orphans): (Vec<&Member>, Vec<&Member>) = all.iter().partition(|m| known.contains(&m.service) || m.oneoff);
    if !a.remove_orphans && !orphans.is_empty() {
        let names: Vec<&str> = orphans.iter().map(|m| m.name()).collect();
        eprintln!("warning: found orphan containers ({}) for this project: remove them with --remove-orphans", names.join(", "));
    }
    let chosen: Vec<String> = mine.iter().chain(orphans.iter().filter(|_| a.remove_orphans)).map(|m| m.name().to_string()).collect();
    stop_all(paths, &chosen, a.timeout)?;
    let ready = Checked::nothing().enter()?;
    super::super::warn_fallback(ready.fallback());
    remove_all(paths, &ready, &chosen, a.volumes)?;
    let lock = StoreLock::exclusive(&paths.lock_file())?;
    let users = burrow::container::record::network_users(paths)?;
    for n in p.networks.values().filter(|n| !n.external) {
        match burrow::network::store::get(paths, &n.name) {
            Ok(found) if found.labels.get(plan::PROJECT) == Some(&p.name) => {
                burrow::network::store::remove(&lock, paths, &n.name, &users)?;
                say(&format!("Network {}  Removed", n.name));
            }
            _ => {}
        }
    }
    if a.volumes {
        let mounters = burrow::container::record::mounters(paths)?;
        for v in p.volumes.values().filter(|v| !v.external) {
            if burrow::volume::store::get(paths, &v.name).is_ok() {
                let users = burrow::volume::attach::users(&mounters, &v.name);
                if !users.is_empty() {
                    anyhow::bail!("volume {} is in use by {}", v.name, users.join(", "));
                }
                burrow::volume::store::remove(paths, &v.name)?;
                say(&format!("Volume {}  Removed", v.name));
            }
        }
    }
    drop(lock);
    if let Some(kind) = &a.rmi {
        let store = burrow::image::Store::open(paths)?;
        for (s, svc) in &p.services {
            if kind == "local" && svc.image.is_some() {
                continue;
            }
            let name = plan::image_name(&p.name, s, svc);
            if store.resolve(&name).is_ok() {
                store.remove(&name, false).with_context(|| format!("cannot remove image {name}"))?;
                say(&format!("Image {name}  Removed"));
            }
        }
    }
    Ok(())
}

/// docker compose's STATUS column text.
fn status(paths: &Paths, m: &Member) -> String {
    let r = &m.record;
    match r.status {
        Status::Running => {
            let health = burrow::container::health::Health::load(&r.dir(paths)).map(|h| h.status);
            match health.as_deref() {
                Some("starting") => "Up (health: starting)".into(),
                Some(h) => format!("Up ({h})"),
                None => "Up".into(),
            }
        }
        Status::Exited => format!("Exited ({})", r.exit_code.unwrap_or(0)),
        Status::Created => "Created".into(),
        Status::Restarting => "Restarting".into(),
    }
}

pub fn ps(paths: &Paths, g: &ComposeArgs, a: &PsArgs) -> anyhow::Result<()> {
    let (project, ms) = members(paths, g, &a.names, false)?;
    let shown: Vec<&Member> = ms.iter().filter(|m| a.all || m.record.status == Status::Running).collect();
    if a.quiet {
        shown.iter().for_each(|m| println!("{}", m.record.id.as_str()));
        return Ok(());
    }
    if a.services {
        let names: BTreeSet<&String> = shown.iter().map(|m| &m.service).collect();
        names.iter().for_each(|s| println!("{s}"));
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = shown
        .iter()
        .map(|m| {
            let r = &m.record;
            let ports: Vec<String> = r.ports.iter().map(|p| format!("{}->{}", p.host(), p.private())).collect();
            serde_json::json!({
                "ID": r.id.as_str(),
                "Name": r.name,
                "Image": r.image,
                "Command": r.command.join(" "),
                "Project": project,
                "Service": m.service,
                "State": r.status.word(),
                "Health": burrow::container::health::Health::load(&r.dir(paths)).map(|h| h.status).unwrap_or_default(),
                "ExitCode": r.exit_code.unwrap_or(0),
                "Status": status(paths, m),
                "Ports": ports.join(", "),
                "Labels": m.labels(),
            })
        })
        .collect();
    if a.format == "json" {
        for row in &rows {
            println!("{row}");
        }
        return Ok(());
    }
    let mut table = vec![["NAME", "IMAGE", "COMMAND", "SERVICE", "STATUS", "PORTS"].map(String::from).to_vec()];
    for row in &rows {
        let cell = |k: &str| row[k].as_str().unwrap_or_default().to_string();
        table.push(vec![cell("Name"), cell("Image"), format!("\"{}\"", cell("Command")), cell("Service"), cell("Status"), cell("Ports")]);
    }
    super::super::images::print_table(&table);
    Ok(())
}

pub fn logs(paths: &Paths, g: &ComposeArgs, a: &LogsArgs) -> anyhow::Result<()> {
    let (_, ms) = members(paths, g, &a.services, false)?;
    let tail = match a.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| anyhow::anyhow!("invalid --tail {n:?}: give a number of lines or \"all\""))?),
    };
    let width = ms.iter().map(|m| prefix(m).len()).max().unwrap_or(0);
    let mut followers = Vec::new();
    let colour = colour_wanted(a.no_color);
    for (i, m) in ms.iter().enumerate() {
        let dir = m.record.dir(paths);
        let follower = logs::Follower::at_end(&dir);
        let entries = logs::select(logs::read_all(&dir)?, None, None, tail);
        let pre = if a.no_log_prefix { String::new() } else { prefix_text(&prefix(m), width, i, colour) };
        print_entries(&pre, &entries, a.timestamps);
        followers.push((m, pre, follower));
    }
    if !a.follow {
        return Ok(());
    }
    loop {
        let mut alive = false;
        for (m, pre, f) in followers.iter_mut() {
            print_entries(pre, &f.poll(), a.timestamps);
            alive |= lifecycle::running(paths, &m.record);
        }
        if !alive {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A service's prefix `NAME  | `, padded to `width` and, on a terminal
/// (unless `--no-color`), coloured by the container's place `i` as docker
/// compose colours them.
pub(super) fn prefix_text(name: &str, width: usize, i: usize, colour: bool) -> String {
    const COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];
    let text = format!("{name:width$}  | ");
    if colour {
        format!("\x1b[{}m{text}\x1b[0m", COLOURS[i % COLOURS.len()])
    } else {
        text
    }
}

/// Whether prefixes are coloured: stdout is a terminal and NO_COLOR unset.
pub(super) fn colour_wanted(no_color: bool) -> bool {
    !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

fn prefix(m: &Member) -> String {
    format!("{}-{}", m.service, m.number)
}

fn print_entries(prefix: &str, entries: &[logs::Entry], timestamps: bool) {
    use std::io::Write;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for e in entries {
        let w: &mut dyn Write = if e.stream == Stream::Stdout { &mut out } else { &mut err };
        let _ = w.write_all(prefix.as_bytes());
        if timestamps {
            let _ = write!(w, "{} ", e.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        }
        let _ = w.write_all(e.log.as_bytes());
    }
}

pub fn start(paths: &Paths, g: &ComposeArgs, a: &ServicesArgs) -> anyhow::Result<()> {
    let (_, ms) = members(paths, g, &a.services, false)?;
    let names: Vec<String> = ms.iter().map(|m| m.name().to_string()).collect();
    let ready = Checked::existing(paths, &names)?.enter()?;
    for n in &names {
        lifecycle::start(paths, &ready, n).map_err(|e| anyhow::anyhow!("cannot start {n}: {e}"))?;
        say(&format!("Container {n}  Started"));
    }
    Ok(())
}

pub fn stop(paths: &Paths, g: &ComposeArgs, a: &StopArgs, restart: bool) -> anyhow::Result<()> {
    let (_, ms) = members(paths, g, &a.services, false)?;
    let names: Vec<String> = ms.iter().map(|m| m.name().to_string()).collect();
    stop_all(paths, &names, a.timeout)?;
    if restart {
        start(paths, g, &ServicesArgs { services: a.services.clone() })?;
    }
    Ok(())
}

pub fn kill(paths: &Paths, g: &ComposeArgs, a: &KillArgs) -> anyhow::Result<()> {
    let Some(signal) = lifecycle::parse_signal(&a.signal) else {
        anyhow::bail!("invalid signal {:?}: give a name (KILL, SIGTERM) or a number", a.signal);
    };
    let (_, ms) = members(paths, g, &a.services, false)?;
    for m in ms.iter().filter(|m| lifecycle::running(paths, &m.record)) {
        lifecycle::kill(paths, m.name(), signal)?;
        say(&format!("Container {}  Killed", m.name()));
    }
    Ok(())
}

pub fn rm(paths: &Paths, g: &ComposeArgs, a: &RmArgs) -> anyhow::Result<()> {
    let (_, ms) = members(paths, g, &a.services, false)?;
    let running: Vec<String> = ms.iter().filter(|m| lifecycle::running(paths, &m.record)).map(|m| m.name().to_string()).collect();
    if a.stop {
        stop_all(paths, &running, None)?;
    }
    let gone: Vec<String> = ms.iter().filter(|m| a.stop || !running.iter().any(|r| r == m.name())).map(|m| m.name().to_string()).collect();
    if gone.is_empty() {
        eprintln!("No stopped containers");
        return Ok(());
    }
    let _ = a.force;
    let ready = Checked::nothing().enter()?;
    remove_all(paths, &ready, &gone, a.volumes)
}

pub fn exec(paths: &Paths, g: &ComposeArgs, a: &ExecArgs) -> anyhow::Result<i32> {
    let project = g.project_name()?;
    let name = plan::container_name(&project, &a.argv[0], a.index);
    let mut argv = vec!["exec".to_string()];
    if a.detach {
        argv.push("-d".into());
    }
    for e in &a.env {
        argv.extend(["-e".to_string(), e.clone()]);
    }
    if let Some(u) = &a.user {
        argv.extend(["-u".to_string(), u.clone()]);
    }
    if let Some(w) = &a.workdir {
        argv.extend(["-w".to_string(), w.clone()]);
    }
    let _ = a.no_tty;
    argv.push(name);
    argv.extend(a.argv[1..].iter().cloned());
    #[derive(clap::Parser)]
    struct Exec {
        #[command(flatten)]
        args: super::super::exec::ExecArgs,
    }
    let parsed = <Exec as clap::Parser>::try_parse_from(argv)?;
    super::super::exec::exec(paths, parsed.args)
}

pub fn top(paths: &Paths, g: &ComposeArgs, a: &ServicesArgs) -> anyhow::Result<()> {
    let (_, ms) = members(paths, g, &a.services, false)?;
    for m in ms.iter().filter(|m| lifecycle::running(paths, &m.record)) {
        println!("{}", m.name());
        #[derive(clap::Parser)]
        struct Top {
            #[command(flatten)]
            args: super::super::lifecycle::TopArgs,
        }
        let parsed = <Top as clap::Parser>::try_parse_from(["top", m.name()])?;
        super::super::lifecycle::top(paths, &parsed.args)?;
        println!();
    }
    Ok(())
}

pub fn port(paths: &Paths, g: &ComposeArgs, a: &PortArgs) -> anyhow::Result<()> {
    let project = g.project_name()?;
    let name = plan::container_name(&project, &a.service, a.index);
    let r = burrow::container::record::find(paths, &name)?;
    let hit = r.ports.iter().find(|p| p.container_port == a.private_port && p.proto.to_string() == a.protocol);
    match hit {
        Some(p) => println!("{}", p.host()),
        None => anyhow::bail!("no port {}/{} is published for {}", a.private_port, a.protocol, a.service),
    }
    Ok(())
}

pub fn images(paths: &Paths, g: &ComposeArgs, a: &ServicesArgs) -> anyhow::Result<()> {
    let (_, ms) = members(paths, g, &a.services, false)?;
    let mut table = vec![["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID"].map(String::from).to_vec()];
    for m in &ms {
        let (repo, tag) = match m.record.image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((r, t)) => (r.to_string(), t.to_string()),
            None => (m.record.image.clone(), "latest".to_string()),
        };
        let id = m.record.image_id.to_string();
        let short = id.trim_start_matches("sha256:").chars().take(12).collect();
        table.push(vec![m.name().to_string(), repo, tag, short]);
    }
    super::super::images::print_table(&table);
    Ok(())
}

pub fn push(paths: &Paths, g: &ComposeArgs, a: &ServicesArgs) -> anyhow::Result<()> {
    let p = g.load(&a.services)?;
    for s in super::up::services_or_all(&p, &a.services) {
        let svc = &p.services[&s];
        let Some(image) = svc.image.as_ref().filter(|_| svc.build.is_some()) else { continue };
        #[derive(clap::Parser)]
        struct Push {
            #[command(flatten)]
            args: super::super::registry::PushArgs,
        }
        let parsed = <Push as clap::Parser>::try_parse_from(["push", image.as_str()])?;
        super::super::registry::push(paths, &parsed.args).with_context(|| format!("service {s}: cannot push {image}"))?;
    }
    Ok(())
}

pub fn ls(paths: &Paths, a: &LsArgs) -> anyhow::Result<()> {
    let projects = state::projects(paths)?;
    let mut rows = Vec::new();
    for (name, ms) in &projects {
        let running = ms.iter().filter(|m| m.record.status == Status::Running).count();
        if running == 0 && !a.all {
            continue;
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for m in ms {
            *counts.entry(m.record.status.word()).or_default() += 1;
        }
        let status: Vec<String> = counts.iter().map(|(s, n)| format!("{s}({n})")).collect();
        let files = ms.first().and_then(|m| m.labels().get(plan::CONFIG_FILES).cloned()).unwrap_or_default();
        rows.push(serde_json::json!({"Name": name, "Status": status.join(", "), "ConfigFiles": files}));
    }
    if a.quiet {
        rows.iter().for_each(|r| println!("{}", r["Name"].as_str().unwrap_or_default()));
    } else if a.format == "json" {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        let mut table = vec![["NAME", "STATUS", "CONFIG FILES"].map(String::from).to_vec()];
        for r in &rows {
            let cell = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            table.push(vec![cell("Name"), cell("Status"), cell("ConfigFiles")]);
        }
        super::super::images::print_table(&table);
    }
    Ok(())
}
