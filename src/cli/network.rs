//! `burrow network create|ls|inspect|rm|prune|connect|disconnect`.
//!
//! Thin over `burrow::network::store`: commands that change the store hold
//! its exclusive lock while they check and write, and learn who uses a
//! network from the container records (`container::record::network_users`)
//! under that lock. Network files are the user's own, so only `connect`
//! and `disconnect` enter burrow's user namespace (to plug a running
//! container in or out: `burrow::container::connect`).

use std::net::IpAddr;

use burrow::container::connect;
use burrow::lock::StoreLock;
use burrow::network::inspect::{inspect as inspect_json, ls_row, Member};
use burrow::network::store::{self, Found, BUILTINS};
use burrow::network::{ipam, store::CreateRequest};
use burrow::paths::Paths;
use ipnet::IpNet;

#[derive(clap::Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks (JSON)
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all networks no container uses
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(clap::Args, Debug)]
pub struct ConnectArgs {
    /// Add a network-scoped alias for the container
    #[arg(long, value_name = "ALIAS")]
    alias: Vec<String>,
    /// IPv4 address
    #[arg(long, value_name = "IP")]
    ip: Option<std::net::Ipv4Addr>,
    /// IPv6 address
    #[arg(long, value_name = "IP")]
    ip6: Option<std::net::Ipv6Addr>,
    /// Network (name or id)
    network: String,
    /// Container (name or id)
    container: String,
}

#[derive(clap::Args, Debug)]
pub struct DisconnectArgs {
    /// Forget the container's endpoint even if it cannot be unplugged
    #[arg(short, long)]
    force: bool,
    /// Network (name or id)
    network: String,
    /// Container (name or id)
    container: String,
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Network name
    name: String,
    /// Driver to manage the network (only "bridge")
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR form (one IPv4 and, with --ipv6, one IPv6)
    #[arg(long, value_name = "CIDR")]
    subnet: Vec<IpNet>,
    /// Gateway for a subnet (default: its first address)
    #[arg(long, value_name = "IP")]
    gateway: Vec<IpAddr>,
    /// Allocate container addresses from this part of the IPv4 subnet
    #[arg(long, value_name = "CIDR")]
    ip_range: Vec<IpNet>,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Enable IPv6 (a ULA /64 unless an IPv6 --subnet is given)
    #[arg(long)]
    ipv6: bool,
    /// Set metadata on the network (KEY=VALUE)
    #[arg(long, value_name = "KEY[=VALUE]")]
    label: Vec<String>,
    /// Driver option: only mtu=N
    #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
    opt: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Only display network ids
    #[arg(short, long)]
    quiet: bool,
    /// Filter: name=, id=, driver=, label=KEY[=VALUE], type=custom|builtin
    #[arg(short, long, value_name = "FILTER")]
    filter: Vec<String>,
    /// Output format: table (default), json, or a Go template ("{{.Name}}")
    #[arg(long, default_value = "table")]
    format: String,
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format the output with a Go template ({{.IPAM.Config}}, {{json .Labels}})
    #[arg(short, long)]
    format: Option<String>,
    /// Networks (names or ids)
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Networks (names or ids)
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Filter: label=KEY[=VALUE] or label!=KEY[=VALUE]
    #[arg(long, value_name = "FILTER")]
    filter: Vec<String>,
    #[command(flatten)]
    confirm: super::Force,
}

pub fn dispatch(paths: &Paths, cmd: NetworkCommand) -> anyhow::Result<()> {
    match cmd {
        NetworkCommand::Create(a) => create(paths, a),
        NetworkCommand::Ls(a) => ls(paths, &a),
        NetworkCommand::Inspect(a) => inspect(paths, &a),
        NetworkCommand::Rm(a) => rm(paths, &a),
        NetworkCommand::Prune(a) => prune(paths, &a),
        NetworkCommand::Connect(a) => connect(paths, a),
        NetworkCommand::Disconnect(a) => disconnect(paths, &a),
    }
}

/// Enter burrow's user namespace, where containers' namespaces can be
/// plugged into a network's.
fn enter() -> anyhow::Result<burrow::userns::InUserns> {
    let entered = burrow::userns::enter_burrow()?;
    super::warn_fallback(entered.fallback.as_deref());
    Ok(entered.proof)
}

fn connect(paths: &Paths, a: ConnectArgs) -> anyhow::Result<()> {
    let proof = enter()?;
    let req = connect::ConnectRequest { network: a.network, container: a.container, aliases: a.alias, ip: a.ip, ip6: a.ip6 };
    Ok(connect::connect(paths, &req, &proof)?)
}

fn disconnect(paths: &Paths, a: &DisconnectArgs) -> anyhow::Result<()> {
    let proof = enter()?;
    Ok(connect::disconnect(paths, &a.network, &a.container, a.force, &proof)?)
}

fn create(paths: &Paths, a: CreateArgs) -> anyhow::Result<()> {
    let req = CreateRequest {
        name: a.name,
        driver: a.driver,
        addressing: ipam::Request { subnets: a.subnet, gateways: a.gateway, ip_ranges: a.ip_range, ipv6: a.ipv6 },
        internal: a.internal,
        labels: super::volume::labels(&a.label),
        options: a.opt,
    };
    let lock = StoreLock::exclusive(&paths.lock_file())?;
    let net = store::create(&lock, paths, &req, &ipam::host_routes())?;
    println!("{}", net.id);
    Ok(())
}

/// One `--filter` of `network ls` or `network prune`, parsed.
enum Filter {
    Name(String),
    Id(String),
    Driver(String),
    Label { key: String, value: Option<String>, want: bool },
    Custom(bool),
}

impl Filter {
    fn parse(f: &str) -> anyhow::Result<Filter> {
        let label = |l: &str, want: bool| match l.split_once('=') {
            Some((k, v)) => Filter::Label { key: k.into(), value: Some(v.into()), want },
            None => Filter::Label { key: l.into(), value: None, want },
        };
        Ok(match f.split_once('=') {
            Some(("label!", l)) => label(l, false),
            Some(("label", l)) => label(l, true),
            Some(("name", v)) => Filter::Name(v.into()),
            Some(("id", v)) => Filter::Id(v.into()),
            Some(("driver", v)) => Filter::Driver(v.into()),
            Some(("type", "custom")) => Filter::Custom(true),
            Some(("type", "builtin")) => Filter::Custom(false),
            _ => {
                anyhow::bail!("invalid filter {f:?}: use name=, id=, driver=, label=KEY[=VALUE], label!=KEY[=VALUE] or type=custom|builtin")
            }
        })
    }

    fn keeps(&self, found: &Found) -> bool {
        let (name, id, driver, labels) = match found {
            Found::User(n) => (n.name.as_str(), n.id.to_string(), n.driver.as_str(), Some(&n.labels)),
            Found::Builtin(b) => (b.name, b.id().to_string(), b.driver, None),
        };
        match self {
            Filter::Name(s) => name.contains(s.as_str()),
            Filter::Id(s) => id.starts_with(s.as_str()),
            Filter::Driver(d) => driver == d,
            Filter::Label { key, value, want } => {
                labels.and_then(|l| l.get(key)).is_some_and(|x| value.as_ref().is_none_or(|v| v == x)) == *want
            }
            Filter::Custom(custom) => matches!(found, Found::User(_)) == *custom,
        }
    }
}

fn ls(paths: &Paths, args: &LsArgs) -> anyhow::Result<()> {
    let filters = args.filter.iter().map(|f| Filter::parse(f)).collect::<anyhow::Result<Vec<_>>>()?;
    let template = match args.format.as_str() {
        "table" | "json" => None,
        t => Some(super::template::Template::parse(t)?),
    };
    let mut all: Vec<Found> = BUILTINS.iter().cloned().map(Found::Builtin).collect();
    all.extend(store::list(paths)?.into_iter().map(|n| Found::User(Box::new(n))));
    let name = |f: &Found| match f {
        Found::User(n) => n.name.clone(),
        Found::Builtin(b) => b.name.to_string(),
    };
    all.sort_by_key(name);
    let rows: Vec<serde_json::Value> =
        all.iter().filter(|f| filters.iter().all(|x| x.keeps(f))).map(|f| ls_row(f, args.no_trunc)).collect();
    let cell = |row: &serde_json::Value, k: &str| row[k].as_str().unwrap_or_default().to_string();
    if args.quiet {
        rows.iter().for_each(|r| println!("{}", cell(r, "ID")));
    } else if args.format == "json" {
        rows.iter().for_each(|r| println!("{r}"));
    } else if let Some(t) = template {
        if let Some(h) = t.header() {
            println!("{}", h.replace("CONTAINER ID", "NETWORK ID"));
        }
        rows.iter().for_each(|r| println!("{}", t.render(r)));
    } else {
        let mut table = vec![["NETWORK ID", "NAME", "DRIVER", "SCOPE"].map(String::from).to_vec()];
        table.extend(rows.iter().map(|r| ["ID", "Name", "Driver", "Scope"].iter().map(|k| cell(r, k)).collect()));
        print_table(&table);
    }
    Ok(())
}

/// Columns padded to the widest cell plus three spaces, as docker's.
fn print_table(table: &[Vec<String>]) {
    let widths: Vec<usize> = (0..table[0].len()).map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[c] + 3));
            }
        }
        println!("{}", line.trim_end());
    }
}

/// Every running container's place on each of its networks.
fn running_members(paths: &Paths) -> anyhow::Result<Vec<Member>> {
    let records = burrow::container::record::list(paths)?;
    let alive = records.into_iter().filter(|r| r.monitor_alive(paths));
    Ok(alive
        .flat_map(|r| {
            let (id, name) = (r.id.as_str().to_string(), r.name.clone());
            r.endpoints.into_iter().map(move |endpoint| Member { id: id.clone(), name: name.clone(), endpoint })
        })
        .collect())
}

fn inspect(paths: &Paths, args: &InspectArgs) -> anyhow::Result<()> {
    let template = args.format.as_deref().map(super::template::Template::parse).transpose()?;
    let mut out = Vec::new();
    let members = running_members(paths)?;
    for key in &args.names {
        out.push(inspect_json(&store::find(paths, key)?, &members));
    }
    match template {
        Some(t) => out.iter().for_each(|v| println!("{}", t.render(v))),
        None => println!("{}", serde_json::to_string_pretty(&out)?),
    }
    Ok(())
}

fn rm(paths: &Paths, args: &RmArgs) -> anyhow::Result<()> {
    let mut failed = false;
    for key in &args.names {
        let result = (|| -> anyhow::Result<String> {
            let lock = StoreLock::exclusive(&paths.lock_file())?;
            let users = burrow::container::record::network_users(paths)?;
            Ok(store::remove(&lock, paths, key, &users)?)
        })();
        match result {
            Ok(_) => println!("{key}"),
            Err(e) => {
                eprintln!("Error: {}", super::describe(&e));
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!("some networks could not be removed");
    }
    Ok(())
}

fn prune(paths: &Paths, args: &PruneArgs) -> anyhow::Result<()> {
    let filters = args.filter.iter().map(|f| Filter::parse(f)).collect::<anyhow::Result<Vec<_>>>()?;
    if filters.iter().any(|f| !matches!(f, Filter::Label { .. })) {
        anyhow::bail!("network prune takes only label=KEY[=VALUE] and label!=KEY[=VALUE] filters");
    }
    if !args.confirm.go_ahead("WARNING! This will remove all custom networks not used by at least one container.\n")? {
        return Ok(());
    }
    let lock = StoreLock::exclusive(&paths.lock_file())?;
    let users = burrow::container::record::network_users(paths)?;
    let keep = |n: &burrow::model::Network| !filters.iter().all(|f| f.keeps(&Found::User(Box::new(n.clone()))));
    let removed = store::prune(&lock, paths, &users, keep)?;
    super::print_deleted("Networks", &removed);
    Ok(())
}
