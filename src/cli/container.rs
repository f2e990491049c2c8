//! `run`, `ps`, `rm` and `inspect` for containers.

use std::path::PathBuf;

use anyhow::Context;
use burrow::container::{net::NetworkRequest, record, run::ImageDefaults, run::KeepId, run::RunOptions, Status};
use burrow_netstack::mode::NetworkMode;
use burrow::image::Store;
use burrow::paths::Paths;
use burrow::process;

#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (-h is --hostname, as in docker)
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Keep STDIN open
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to copy the caller's)
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID, with an optional group (USER[:GROUP])
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the image's ENTRYPOINT
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Mount the container's root filesystem read-only
    #[arg(long)]
    read_only: bool,
    /// Add Linux capabilities (or ALL)
    #[arg(long = "cap-add", value_name = "CAP")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities (or ALL)
    #[arg(long = "cap-drop", value_name = "CAP")]
    cap_drop: Vec<String>,
    /// Security options: no-new-privileges, seccomp=unconfined, seccomp=FILE
    #[arg(long = "security-opt", value_name = "OPT")]
    security_opt: Vec<String>,
    /// Run a minimal init as PID 1 that forwards signals and reaps zombies
    #[arg(long)]
    init: bool,
    /// User namespace: "" (your uid is root, subordinate ids after it) or keep-id (your own uid and gid inside)
    #[arg(long, value_name = "MODE")]
    userns: Option<String>,
    /// Pull the image before running: missing (only when not stored), always, never
    #[arg(long, value_name = "POLICY", default_value = "missing", value_parser = ["missing", "always", "never"])]
    pull: String,
    /// Run in the background (not yet available: refused)
    #[arg(short, long)]
    detach: bool,
    /// Publish a container port on the host: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]
    #[arg(short, long, value_name = "SPEC")]
    publish: Vec<String>,
    /// Publish every exposed port (the image's and --expose) on a free host port
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Expose a port or range without publishing it (PORT[/PROTO])
    #[arg(long, value_name = "PORT")]
    expose: Vec<String>,
    /// Set custom DNS servers
    #[arg(long, value_name = "IP")]
    dns: Vec<String>,
    /// Set custom DNS search domains ("." for none)
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    dns_search: Vec<String>,
    /// Set DNS options (resolv.conf "options")
    #[arg(long = "dns-option", value_name = "OPT")]
    dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (HOST:IP; IP may be host-gateway)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    add_host: Vec<String>,
    /// Bind mounts and volumes (not yet available: refused)
    #[arg(short, long, value_name = "SPEC")]
    volume: Vec<String>,
    #[command(flatten)]
    limits: super::limits::LimitArgs,
    /// Network: burrow (default, alias bridge), none, host, or burrow:KEY=VALUE,... with allow_host_loopback, cidr, mtu, enable_ipv6, dns_forward, pcap
    #[arg(long, alias = "net", value_name = "MODE")]
    network: Option<String>,
    /// Image to run
    image: String,
    /// Command and arguments (default: the image's)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

impl RunArgs {
    /// Flags burrow parses but cannot honour yet: refuse, never ignore.
    fn refuse_unsupported(&self) -> anyhow::Result<()> {
        let unsupported = [
            ("--detach", self.detach),
            ("--volume", !self.volume.is_empty()),
        ];
        for (flag, used) in unsupported {
            if used {
                anyhow::bail!("burrow run {flag} is not available in this version yet; run without it");
            }
        }
        Ok(())
    }
}

pub fn run(paths: &Paths, args: RunArgs) -> anyhow::Result<i32> {
    args.refuse_unsupported()?;
    let keep_id = match args.userns.as_deref() {
        None | Some("") => false,
        Some("keep-id") => true,
        Some(other) => anyhow::bail!("unsupported --userns value {other:?}: use keep-id, or leave it out"),
    };
    let limits = super::limits::prepare(&args.limits)?;
    let plan = super::enter(false)?;
    let store = Store::open(paths)?;
    let image = match (args.pull.as_str(), store.resolve(&args.image)) {
        ("always", _) => super::registry::pull_for_run(&store, &args.image)?,
        ("missing", Err(burrow::image::Error::NotFound { .. })) if burrow::image::Reference::parse(&args.image).is_ok() => {
            eprintln!("Unable to find image '{}' locally", args.image);
            super::registry::pull_for_run(&store, &args.image)?
        }
        (_, r) => r?,
    };
    let defaults = image_defaults(&image);
    let network = NetworkRequest {
        mode: match &args.network {
            Some(m) => m.parse().map_err(|e| anyhow::anyhow!("--network: {e}"))?,
            None => NetworkMode::default(),
        },
        publish: args.publish,
        publish_all: args.publish_all,
        expose: args.expose,
        dns: args.dns,
        dns_search: args.dns_search,
        dns_option: args.dns_option,
        add_host: args.add_host,
    };
    let opts = RunOptions {
        image: args.image,
        command: args.command,
        name: args.name,
        rm: args.rm,
        interactive: args.interactive,
        tty: args.tty,
        env: args.env,
        env_files: args.env_file,
        workdir: args.workdir,
        user: args.user,
        entrypoint: args.entrypoint,
        hostname: args.hostname,
        read_only: args.read_only,
        cap_add: args.cap_add,
        cap_drop: args.cap_drop,
        security_opt: args.security_opt,
        init: args.init,
        // After enter() this process is root; the caller's host ids are
        // what burrow's namespace maps to root.
        keep_id: keep_id.then(|| KeepId {
            uid: plan.mapping.uid_outside(0).unwrap_or(0),
            gid: plan.mapping.gid_outside(0).unwrap_or(0),
            outer: plan.mapping.clone(),
        }),
        network,
        limits,
    };
    match burrow::container::run::run(paths, &opts, &image, &defaults) {
        Ok(code) => Ok(code),
        Err(burrow::container::Error::Process(process::Error::Child { class, message })) => {
            eprintln!("Error: {message}");
            Ok(class.code())
        }
        Err(e) => Err(e.into()),
    }
}

fn image_defaults(image: &burrow::image::Image) -> ImageDefaults {
    let Some(c) = image.config.config() else { return ImageDefaults::default() };
    ImageDefaults {
        env: c.env().clone().unwrap_or_default(),
        entrypoint: c.entrypoint().clone().unwrap_or_default(),
        cmd: c.cmd().clone().unwrap_or_default(),
        workdir: c.working_dir().clone().unwrap_or_default(),
        user: c.user().clone().unwrap_or_default(),
        exposed: c.exposed_ports().clone().unwrap_or_default(),
    }
}

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Output format: table (default) or json
    #[arg(long, default_value = "table")]
    format: String,
}

pub fn ps(paths: &Paths, args: &PsArgs) -> anyhow::Result<()> {
    let all = record::list(paths)?;
    // Show a container whose process is gone as exited even before a
    // writing command reconciles the records.
    let all = all.into_iter().map(|mut r| {
        if r.status == Status::Running && !record::is_alive(&r) {
            r.status = Status::Exited;
            r.exit_code = Some(137);
        }
        r
    });
    let shown: Vec<_> = all.into_iter().filter(|r| args.all || r.status == Status::Running).collect();
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(());
    }
    if args.format != "table" {
        anyhow::bail!("unsupported --format {:?}: use table or json", args.format);
    }
    if args.quiet {
        for r in &shown {
            println!("{}", if args.no_trunc { r.id.as_str() } else { r.id.short() });
        }
        return Ok(());
    }
    println!("{:<14}{:<22}{:<24}{:<24}{:<22}NAMES", "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS");
    for r in &shown {
        let mut cmd = format!("\"{}\"", r.command.join(" "));
        if !args.no_trunc && cmd.len() > 22 {
            let cut = (0..=19).rev().find(|i| cmd.is_char_boundary(*i)).unwrap_or(0);
            cmd = format!("{}…\"", &cmd[..cut]);
        }
        let status = match r.status {
            Status::Created => "Created".to_string(),
            Status::Running => format!("Up {}", ago(r.started_at.as_deref()).trim_end_matches(" ago")),
            Status::Exited => format!("Exited ({}) {}", r.exit_code.unwrap_or(0), ago(r.finished_at.as_deref())),
        };
        let id = if args.no_trunc { r.id.as_str() } else { r.id.short() };
        println!("{id:<14}{:<22}{cmd:<24}{:<24}{status:<22}{}", r.image, ago(Some(&r.created)), r.name);
    }
    Ok(())
}

/// docker's relative time of an RFC 3339 timestamp (empty when unset).
fn ago(t: Option<&str>) -> String {
    t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| super::images::ago(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes (none exist yet; accepted for compatibility as it changes nothing)
    #[arg(short, long)]
    volumes: bool,
    /// Containers (names or ids)
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(paths: &Paths, args: &RmArgs) -> anyhow::Result<()> {
    let mut failed = false;
    for key in &args.containers {
        let result = (|| -> anyhow::Result<()> {
            let _lock = burrow::lock::StoreLock::exclusive(&paths.lock_file())?;
            record::reconcile(paths)?;
            let r = record::find(paths, key)?;
            if r.status == Status::Running && record::is_alive(&r) {
                if !args.force {
                    return Err(burrow::container::Error::Running { name: r.name }.into());
                }
                // As docker's rm -f: kill, then remove. The container's
                // init is PID 1 of its namespace, so all its processes go.
                if let Some(pid) = r.pid {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
            }
            burrow::container::rootfs::remove_any(&r.dir(paths)).context("cannot remove the container's files")?;
            Ok(())
        })();
        match result {
            Ok(()) => println!("{key}"),
            Err(e) => {
                eprintln!("Error: {}", super::describe(&e));
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!("some containers could not be removed");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PortArgs {
    /// The container
    container: String,
    /// Only this container port: PORT[/PROTO]
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    private: Option<String>,
}

/// docker's `port`: every mapping, or the host side of one port.
pub fn port(paths: &Paths, args: &PortArgs) -> anyhow::Result<()> {
    let r = record::find(paths, &args.container)?;
    let Some(private) = &args.private else {
        for p in &r.ports {
            println!("{p}");
        }
        return Ok(());
    };
    let (port, proto) = burrow_netstack::ports::parse_expose(private)?;
    let prefix = format!("{port}/{proto} -> ");
    let hosts: Vec<&str> = r.ports.iter().filter_map(|p| p.strip_prefix(&prefix)).collect();
    if hosts.is_empty() {
        anyhow::bail!("no public port '{port}/{proto}' published for {}", r.name);
    }
    for h in hosts {
        println!("{h}");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Containers or images
    #[arg(required = true)]
    names: Vec<String>,
}

/// docker's `inspect`: containers first, then images.
pub fn inspect(paths: &Paths, args: &InspectArgs) -> anyhow::Result<()> {
    let mut out = Vec::new();
    for name in &args.names {
        if let Ok(r) = record::find(paths, name) {
            let mut host_config = serde_json::json!({ "AutoRemove": r.auto_remove });
            super::limits::add_host_config(&mut host_config, &r.limits);
            out.push(serde_json::json!({
                "Id": r.id,
                "Name": format!("/{}", r.name),
                "Created": r.created,
                "Image": r.image_id,
                "Config": { "Image": r.image, "Cmd": r.command },
                "NetworkSettings": { "Ports": r.ports },
                "State": {
                    "Status": r.status,
                    "Running": r.status == Status::Running,
                    "ExitCode": r.exit_code.unwrap_or(0),
                    "StartedAt": r.started_at,
                    "FinishedAt": r.finished_at,
                    "OOMKilled": r.oom_killed,
                    "Paused": r.status == Status::Running && burrow::limits::is_paused(r.id.as_str()),
                },
                "HostConfig": host_config,
            }));
            continue;
        }
        let store = Store::open(paths)?;
        out.push(store.inspect(name).with_context(|| format!("no such container or image: {name}"))?);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct CommitArgs {
    /// Commit message (a history comment)
    #[arg(short, long)]
    message: Option<String>,
    /// Author (e.g. "Jane Doe <jane@example.com>")
    #[arg(short, long)]
    author: Option<String>,
    /// Container (name or id)
    container: String,
    /// Image name for the result, REPOSITORY[:TAG] (untagged when missing)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
}

pub fn commit(paths: &Paths, args: &CommitArgs) -> anyhow::Result<()> {
    let opts = burrow::container::commit::CommitOptions { message: args.message.clone(), author: args.author.clone() };
    let r = burrow::container::commit::commit(paths, &args.container, args.reference.as_deref(), &opts)
        .with_context(|| format!("cannot commit {}", args.container))?;
    println!("{}", r.id);
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// Container (name or id)
    container: String,
}

pub fn diff(paths: &Paths, args: &DiffArgs) -> anyhow::Result<()> {
    let changes = burrow::container::diff::diff(paths, &args.container)?;
    let mut out = String::new();
    for c in changes {
        out.push_str(&c);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}
