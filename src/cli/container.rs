//! `run`, `ps`, `rm` and `inspect` for containers.

use std::path::PathBuf;

use anyhow::Context;
use burrow::container::lifecycle::{self, Checked, Ready};
use burrow::container::{record, Status};
use burrow::image::Store;
use burrow::model::net::NetworkRequest;
use burrow::model::RunOptions;
use burrow::paths::Paths;
use burrow::process;
use burrow_netstack::mode::NetworkMode;

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
    /// Container NIS domain name (on a user-defined network, HOSTNAME.DOMAINNAME resolves to the container)
    #[arg(long)]
    domainname: Option<String>,
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
    /// Run in the background and print the container's id
    #[arg(short, long)]
    detach: bool,
    /// Restart policy: no, on-failure[:MAX-RETRIES], always, unless-stopped
    #[arg(long, value_name = "POLICY")]
    restart: Option<String>,
    /// Logging driver: json-file (default) or none
    #[arg(long = "log-driver", value_name = "DRIVER")]
    log_driver: Option<String>,
    /// Log driver options: max-size=SIZE, max-file=N
    #[arg(long = "log-opt", value_name = "OPT")]
    log_opt: Vec<String>,
    /// Command to check the container's health (run with /bin/sh -c)
    #[arg(long = "health-cmd", value_name = "CMD")]
    health_cmd: Option<String>,
    /// Time between health checks (e.g. 30s, 1m)
    #[arg(long = "health-interval", value_name = "DURATION")]
    health_interval: Option<String>,
    /// Time a health check may take (e.g. 30s)
    #[arg(long = "health-timeout", value_name = "DURATION")]
    health_timeout: Option<String>,
    /// Consecutive failures before the container is unhealthy
    #[arg(long = "health-retries", value_name = "N")]
    health_retries: Option<u32>,
    /// Grace period in which failures do not count (e.g. 10s)
    #[arg(long = "health-start-period", value_name = "DURATION")]
    health_start_period: Option<String>,
    /// Disable the image's HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    no_healthcheck: bool,
    /// Signal to stop the container (default: the image's STOPSIGNAL, else SIGTERM)
    #[arg(long = "stop-signal", value_name = "SIGNAL")]
    stop_signal: Option<String>,
    /// Seconds to wait for the stop signal before SIGKILL (default 10)
    #[arg(long = "stop-timeout", value_name = "SECONDS")]
    stop_timeout: Option<u32>,
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
    /// Another name for the container on its user-defined network
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    network_alias: Vec<String>,
    /// The container's IPv4 address on its (first) user-defined network
    #[arg(long, value_name = "IP")]
    ip: Option<std::net::Ipv4Addr>,
    /// The container's IPv6 address on its (first) user-defined network, which must have --ipv6
    #[arg(long, value_name = "IP")]
    ip6: Option<std::net::Ipv6Addr>,
    /// The container's MAC address on its (first) user-defined network (such as 02:42:0a:59:00:02)
    #[arg(long = "mac-address", value_name = "MAC")]
    mac_address: Option<burrow::model::network::Mac>,
    /// Know another container of the network by NAME and ALIAS: NAME[:ALIAS]
    #[arg(long, value_name = "NAME[:ALIAS]")]
    link: Vec<String>,
    /// Bind mount a host path or mount a volume: [SOURCE:]TARGET[:ro|rw|nocopy] (SOURCE an absolute host path or a volume name; none makes an anonymous volume)
    #[arg(short, long, value_name = "SPEC")]
    volume: Vec<String>,
    /// Attach a filesystem mount: type=volume|bind|tmpfs,source=..,target=..[,readonly][,volume-nocopy][,tmpfs-size=..][,tmpfs-mode=..]
    #[arg(long, value_name = "SPEC")]
    mount: Vec<String>,
    /// Mount a tmpfs: TARGET[:size=..,mode=..,uid=..,gid=..,nr_inodes=..,ro,exec]
    #[arg(long, value_name = "TARGET[:OPTIONS]")]
    tmpfs: Vec<String>,
    /// Mount the volumes and binds of another container: CONTAINER[:ro|rw]
    #[arg(long = "volumes-from", value_name = "CONTAINER[:MODE]")]
    volumes_from: Vec<String>,
    #[command(flatten)]
    limits: super::limits::LimitArgs,
    /// Network: burrow (default, alias bridge), none, host, container:NAME, burrow:KEY=VALUE,... with allow_host_loopback, cidr, mtu, enable_ipv6, dns_forward, pcap, or a user-defined network (repeat --network to join several)
    #[arg(long, alias = "net", value_name = "MODE")]
    network: Vec<String>,
    /// The image to run, then the command and its arguments (default: the
    /// image's). Everything after the image is the container's, flags
    /// included (`IMAGE sh -c 'echo hi'`), as in docker
    #[arg(value_names = ["IMAGE", "COMMAND"], required = true, num_args = 1.., trailing_var_arg = true)]
    argv: Vec<String>,
}

impl RunArgs {
    /// The image and the container's command, split off `argv` (clap
    /// guarantees at least the image).
    fn image_and_command(&mut self) -> (String, Vec<String>) {
        let mut argv = std::mem::take(&mut self.argv);
        let image = if argv.is_empty() { String::new() } else { argv.remove(0) };
        (image, argv)
    }
}

/// The image and the engine's options for `run` and `create`, and the
/// lifecycle's `Ready` (bind sources checked, burrow's namespace entered).
fn prepare(paths: &Paths, mut args: RunArgs) -> anyhow::Result<(burrow::image::Image, RunOptions, Ready)> {
    let (image_name, command) = args.image_and_command();
    let keep_id = match args.userns.as_deref() {
        None | Some("") => false,
        Some("keep-id") => true,
        Some(other) => anyhow::bail!("unsupported --userns value {other:?}: use keep-id, or leave it out"),
    };
    let limits = super::limits::prepare(&args.limits)?;
    let mounts = burrow::volume::spec::parse_all(&args.volume, &args.mount, &args.tmpfs)?;
    let volumes_from = args.volumes_from.iter().map(|v| burrow::volume::spec::parse_volumes_from(v)).collect::<Result<Vec<_>, _>>()?;
    let ready = Checked::new_container(paths, &mounts, &volumes_from)?.enter()?;
    super::warn_fallback(ready.fallback());
    let store = Store::open(paths)?;
    let image = match (args.pull.as_str(), store.resolve(&image_name)) {
        ("always", _) => super::registry::pull_for_run(&store, &image_name)?,
        ("missing", Err(burrow::image::Error::NotFound { .. })) if burrow::image::Reference::parse(&image_name).is_ok() => {
            eprintln!("Unable to find image '{image_name}' locally");
            super::registry::pull_for_run(&store, &image_name)?
        }
        (_, r) => r?,
    };
    let network = NetworkRequest {
        mode: match args.network.first() {
            Some(m) => m.parse().map_err(|e| anyhow::anyhow!("--network: {e}"))?,
            None => NetworkMode::default(),
        },
        more_networks: args.network.iter().skip(1).cloned().collect(),
        ip6: args.ip6,
        mac: args.mac_address,
        publish: args.publish,
        publish_all: args.publish_all,
        expose: args.expose,
        dns: args.dns,
        dns_search: args.dns_search,
        dns_option: args.dns_option,
        add_host: args.add_host,
        aliases: args.network_alias,
        ip: args.ip,
        links: args.link,
    };
    let opts = RunOptions {
        image: image_name,
        command,
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
        domainname: args.domainname,
        read_only: args.read_only,
        cap_add: args.cap_add,
        cap_drop: args.cap_drop,
        security_opt: args.security_opt,
        init: args.init,
        keep_id: keep_id.then(|| ready.keep_id()),
        network,
        restart: match &args.restart {
            Some(p) => p.parse()?,
            None => Default::default(),
        },
        log: burrow::container::logs::LogConfig::parse(args.log_driver.as_deref(), &args.log_opt)?,
        stop_signal: match args.stop_signal {
            Some(s) if burrow::container::lifecycle::parse_signal(&s).is_none() => {
                anyhow::bail!("invalid --stop-signal {s:?}: give a signal name (SIGTERM, TERM) or number")
            }
            other => other,
        },
        stop_timeout: args.stop_timeout,
        health: burrow::container::health::resolve(
            &burrow::container::health::Flags {
                cmd: args.health_cmd,
                interval: args.health_interval,
                timeout: args.health_timeout,
                retries: args.health_retries,
                start_period: args.health_start_period,
                none: args.no_healthcheck,
            },
            image.config_json.get("config").and_then(|c| c.get("Healthcheck")),
        )?,
        mounts,
        volumes_from,
        limits,
        labels: Default::default(),
    };
    Ok((image, opts, ready))
}

pub fn run(paths: &Paths, args: RunArgs) -> anyhow::Result<i32> {
    let detach = args.detach;
    if let Err(e) = process::check_stdin(args.interactive, args.tty, detach, std::io::IsTerminal::is_terminal(&std::io::stdin())) {
        eprintln!("Error: {e}");
        return Ok(1);
    }
    if detach && args.rm && args.restart.as_deref().is_some_and(|r| r != "no") {
        anyhow::bail!("conflicting options: --restart and --rm");
    }
    let (image, opts, ready) = prepare(paths, args)?;
    if detach || opts.restart != Default::default() {
        if !detach && (opts.tty || opts.interactive) {
            anyhow::bail!("a foreground container with a --restart policy cannot be attached to a terminal here: add -d, and use `burrow exec -it` or `burrow logs -f`");
        }
        let record = match lifecycle::run_detached(paths, &ready, &opts, &image) {
            Ok(r) => r,
            Err(lifecycle::StartError::Container(e)) => return Err(e.into()),
            Err(e) => {
                eprintln!("Error: {e}");
                return Ok(e.exit_code());
            }
        };
        // The container's first lines are in its log from the start.
        let follower = lifecycle::Follower::at_start(&record.dir(paths));
        if detach {
            println!("{}", record.id);
            return Ok(0);
        }
        return super::lifecycle::follow_until_exit(paths, &record, follower);
    }
    match lifecycle::run(paths, &ready, &opts, &image) {
        Ok(code) => Ok(code),
        Err(burrow::container::Error::Process(process::Error::Child { class, message })) => {
            eprintln!("Error: {}", burrow::text::shorten(&message));
            Ok(class.code())
        }
        Err(e) => Err(e.into()),
    }
}

/// `burrow create`: the container, not started.
pub fn create(paths: &Paths, args: RunArgs) -> anyhow::Result<()> {
    if args.detach {
        anyhow::bail!("--detach does not apply to create: the container is not started");
    }
    let (image, opts, ready) = prepare(paths, args)?;
    let record = lifecycle::create(paths, &ready, &opts, &image)?;
    println!("{}", record.id);
    Ok(())
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
    /// Filter: status=, name=, id=, ancestor=, exited= (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Show the last N created containers (all states)
    #[arg(short = 'n', long, value_name = "N")]
    last: Option<usize>,
    /// Show the latest created container (all states)
    #[arg(short, long)]
    latest: bool,
    /// Output format: table (default), json, or a Go template ("table {{.ID}}\t{{.Names}}")
    #[arg(long, default_value = "table")]
    format: String,
}

/// One `ps --filter`.
enum Filter {
    Status(String),
    Name(String),
    Id(String),
    Ancestor(String),
    Exited(i32),
    Health(String),
}

impl Filter {
    fn parse(text: &str) -> anyhow::Result<Filter> {
        let (k, v) = text.split_once('=').ok_or_else(|| anyhow::anyhow!("invalid filter {text:?}: expected KEY=VALUE"))?;
        Ok(match k {
            "status" => {
                const KNOWN: [&str; 7] = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];
                if !KNOWN.contains(&v) {
                    anyhow::bail!("invalid filter status={v:?}: use one of {}", KNOWN.join(", "));
                }
                Filter::Status(v.into())
            }
            "name" => Filter::Name(v.into()),
            "id" => Filter::Id(v.into()),
            "ancestor" => Filter::Ancestor(v.into()),
            "health" => {
                if !["starting", "healthy", "unhealthy", "none"].contains(&v) {
                    anyhow::bail!("invalid filter health={v:?}: use starting, healthy, unhealthy or none");
                }
                Filter::Health(v.into())
            }
            "exited" => Filter::Exited(v.parse().map_err(|_| anyhow::anyhow!("invalid filter exited={v:?}: expected an exit code"))?),
            _ => anyhow::bail!("unsupported filter {k:?}: burrow filters on status, name, id, ancestor, exited and health"),
        })
    }

    fn keeps(&self, paths: &Paths, r: &record::Record, state: &str, image_ids: &dyn Fn(&str) -> Option<burrow::model::Digest>) -> bool {
        match self {
            Filter::Status(s) => state == s,
            Filter::Name(n) => r.name.contains(n.as_str()),
            Filter::Id(i) => r.id.as_str().starts_with(i.as_str()),
            Filter::Ancestor(a) => r.image == *a || image_ids(a).is_some_and(|id| id == r.image_id),
            Filter::Exited(c) => r.status == Status::Exited && r.exit_code == Some(*c),
            Filter::Health(h) => {
                let now = burrow::container::health::Health::load(&r.dir(paths)).filter(|_| r.status == Status::Running).map(|x| x.status);
                now.as_deref().unwrap_or("none") == h
            }
        }
    }
}

pub fn ps(paths: &Paths, args: &PsArgs) -> anyhow::Result<()> {
    let filters = args.filter.iter().map(|f| Filter::parse(f)).collect::<anyhow::Result<Vec<_>>>()?;
    let template = match args.format.as_str() {
        "table" | "json" => None,
        t => Some(super::template::Template::parse(t)?),
    };
    let store = Store::open(paths).ok();
    let image_id = |name: &str| store.as_ref()?.resolve(name).ok().map(|i| i.id);
    let mut all: Vec<(record::Record, bool)> = record::list(paths)?
        .into_iter()
        .map(|r| record::observed(paths, r))
        .map(|r| {
            let paused = r.status == Status::Running && burrow::limits::is_paused(r.id.as_str());
            (r, paused)
        })
        .collect();
    let everything = args.all || args.last.is_some() || args.latest || !filters.is_empty();
    if let Some(n) = args.last.or(args.latest.then_some(1)) {
        let cut = all.len().saturating_sub(n);
        all.drain(..cut);
    }
    let shown: Vec<_> = all
        .into_iter()
        .filter(|(r, paused)| {
            let state = if *paused { "paused" } else { r.status.word() };
            (everything || r.status == Status::Running) && filters.iter().all(|f| f.keeps(paths, r, state, &image_id))
        })
        .collect();
    // A record that does not load is listed with -a (and no filter), so
    // it can be seen and removed.
    let broken = if args.all && filters.is_empty() && args.last.is_none() && !args.latest { record::broken(paths) } else { Vec::new() };
    let broken_id = |b: &record::Broken| if args.no_trunc { b.id.clone() } else { b.id.chars().take(12).collect() };
    if args.quiet {
        for (r, _) in &shown {
            println!("{}", if args.no_trunc { r.id.as_str() } else { r.id.short() });
        }
        broken.iter().for_each(|b| println!("{}", broken_id(b)));
        return Ok(());
    }
    let mut rows: Vec<serde_json::Value> = shown
        .iter()
        .map(|(r, paused)| {
            let health = burrow::container::health::Health::load(&r.dir(paths));
            let mut row = burrow::container::inspect::ps_row(r, *paused, status_text(r, *paused, health), ago(Some(r.created)));
            if args.no_trunc {
                row["ID"] = r.id.as_str().into();
            }
            row
        })
        .collect();
    rows.extend(broken.iter().map(
        |b| serde_json::json!({"ID": broken_id(b), "State": "broken", "Status": format!("Broken: {} ({})", b.path.display(), b.reason)}),
    ));
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if let Some(t) = template {
        if let Some(h) = t.header() {
            println!("{h}");
        }
        for row in &rows {
            println!("{}", t.render(row));
        }
        return Ok(());
    }
    let mut table = vec![["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"].map(String::from).to_vec()];
    for (i, row) in rows.iter().enumerate() {
        let cell = |k: &str| row[k].as_str().unwrap_or_default().to_string();
        let Some((r, _)) = shown.get(i) else {
            table.push(vec![cell("ID"), String::new(), String::new(), String::new(), cell("Status"), String::new(), String::new()]);
            continue;
        };
        let mut cmd = row["Command"].as_str().unwrap_or_default().to_string();
        if !args.no_trunc && cmd.len() > 22 {
            let cut = (0..=19).rev().find(|i| cmd.is_char_boundary(*i)).unwrap_or(0);
            cmd = format!("{}…\"", &cmd[..cut]);
        }
        table.push(vec![cell("ID"), r.image.clone(), cmd, cell("RunningFor"), cell("Status"), cell("Ports"), r.name.clone()]);
    }
    super::images::print_table(&table);
    Ok(())
}

/// docker's STATUS column.
fn status_text(r: &record::Record, paused: bool, health: Option<burrow::container::health::Health>) -> String {
    match r.status {
        Status::Created => "Created".to_string(),
        Status::Running => {
            let up = format!("Up {}", ago(r.started_at).trim_end_matches(" ago"));
            let health = match health.map(|h| h.status) {
                Some(s) if s == "starting" => " (health: starting)".to_string(),
                Some(s) => format!(" ({s})"),
                None => String::new(),
            };
            if paused {
                format!("{up} (Paused)")
            } else {
                format!("{up}{health}")
            }
        }
        Status::Restarting => format!("Restarting ({}) {}", r.exit_code.unwrap_or(0), ago(r.finished_at)),
        Status::Exited => format!("Exited ({}) {}", r.exit_code.unwrap_or(0), ago(r.finished_at)),
    }
}

/// docker's relative time of an RFC 3339 timestamp (empty when unset).
fn ago(t: Option<burrow::model::Timestamp>) -> String {
    t.map(|t| super::images::ago(t.time())).unwrap_or_default()
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (it is killed first)
    #[arg(short, long)]
    force: bool,
    /// Remove the container's anonymous volumes (those no other container uses)
    #[arg(short, long)]
    volumes: bool,
    /// Containers (names or ids)
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `rm`: with `-f`, running containers are killed first, from the
/// caller's own namespace (which may signal them); then, inside burrow's
/// namespace (which may delete their files), everything is removed
/// (`container::remove`).
pub fn rm(paths: &Paths, args: &RmArgs) -> anyhow::Result<()> {
    let mut failed = false;
    let mut report = |key: &str, e: anyhow::Error| {
        eprintln!("Error: {}", super::describe(&e.context(format!("cannot remove {key}"))));
        failed = true;
    };
    let mut claimed = Vec::new();
    for key in &args.containers {
        match lifecycle::claim(paths, key, args.force) {
            Ok(c) => claimed.push((key, c)),
            Err(e) => report(key, e.into()),
        }
    }
    // All killed first, then waited for: their teardowns overlap.
    claimed.iter().for_each(|(_, c)| c.wait());
    if !claimed.is_empty() {
        let ready = Checked::nothing().enter()?;
        super::warn_fallback(ready.fallback());
        for (key, c) in claimed {
            match lifecycle::remove(paths, &ready, c, args.volumes) {
                Ok(_) => println!("{key}"),
                Err(e) => report(key, e.into()),
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
    let hosts: Vec<String> = r.ports.iter().filter(|p| p.container_port == port && p.proto == proto).map(|p| p.host()).collect();
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
    /// Format the output with a Go template ({{.State.ExitCode}}, {{json .Config}})
    #[arg(short, long)]
    format: Option<String>,
    /// Containers or images
    #[arg(required = true)]
    names: Vec<String>,
}

/// docker's `inspect`: containers first, then images.
pub fn inspect(paths: &Paths, args: &InspectArgs) -> anyhow::Result<()> {
    let template = args.format.as_deref().map(super::template::Template::parse).transpose()?;
    let mut out = Vec::new();
    for name in &args.names {
        if let Ok(r) = record::find(paths, name) {
            let r = record::observed(paths, r);
            let paused = r.status == Status::Running && burrow::limits::is_paused(r.id.as_str());
            let mut v = burrow::container::inspect::render(paths, &r, paused);
            super::limits::add_host_config(&mut v["HostConfig"], &r.config.clone().unwrap_or_default().limits);
            out.push(v);
            continue;
        }
        let store = Store::open(paths)?;
        out.push(store.inspect(name).with_context(|| format!("no such container or image: {name}"))?);
    }
    match template {
        Some(t) => {
            for v in &out {
                println!("{}", t.render(v));
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&out)?),
    }
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
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// Container (name or id)
    container: String,
    /// Image name for the result, REPOSITORY[:TAG] (untagged when missing)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
}

pub fn commit(paths: &Paths, args: &CommitArgs) -> anyhow::Result<()> {
    let opts = lifecycle::CommitOptions {
        message: args.message.clone(),
        author: args.author.clone(),
        changes: args.change.clone(),
        created_by: None,
    };
    let ready = Checked::nothing().enter()?;
    super::warn_fallback(ready.fallback());
    let r = lifecycle::commit(paths, &ready, &args.container, args.reference.as_deref(), &opts)
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

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    #[command(flatten)]
    confirm: super::Force,
}

/// `container prune`: every container that is not running.
pub fn prune(paths: &Paths, args: &PruneArgs) -> anyhow::Result<()> {
    if !args.confirm.go_ahead("WARNING! This will remove all stopped containers.\n")? {
        return Ok(());
    }
    let ready = Checked::nothing().enter()?;
    super::warn_fallback(ready.fallback());
    let report = lifecycle::prune(paths, &ready)?;
    let ids: Vec<String> = report.deleted.iter().map(|id| id.to_string()).collect();
    super::print_deleted("Containers", &ids);
    println!("Total reclaimed space: {}", super::images::human_size(report.reclaimed));
    Ok(())
}
