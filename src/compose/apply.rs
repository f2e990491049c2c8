//! `compose up`: the project's networks, volumes and containers made to
//! match the model, through the lifecycle service as `burrow run` uses it.
//!
//! Theory of operation. The caller has entered burrow's namespace (a
//! [`Ready`] carrying every bind source of the project, checked) and has
//! each service's image. `up` makes the project's networks and volumes
//! (labelled as docker compose labels them; an `external` one must
//! exist), decides per container slot what to keep, create or recreate
//! (`state::reconcile`: the config hash and the image decide), and then
//! runs one thread per service. A service's thread waits until each of
//! its dependencies has started and meets its condition (`service_healthy`
//! polls the health the dependency's supervisor writes;
//! `service_completed_successfully` waits for exit 0), then creates its
//! containers (joining further networks before the first start, with the
//! service name as alias on each) and starts them. Independent services
//! thus start in parallel. When one fails, its dependents fail without
//! starting, and `up` stops every container it started and names the
//! service. `wait` then checks every container is running (and healthy
//! when it has a check).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::graph;
use super::model::{Condition, Project};
use super::plan::{self, PlanError};
use super::state::{self, Decisions, Recreate, Slot};
use crate::container::connect::{self, ConnectRequest};
use crate::container::health::Health;
use crate::container::lifecycle::{self, Ready};
use crate::container::record::{self, Status};
use crate::image::Image;
use crate::lock::StoreLock;
use crate::network::{ipam, store as netstore};
use crate::paths::Paths;

/// Why a container did not do what was waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Exited(i32),
    Unhealthy,
    NoHealthcheck,
    DidNotStart,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Exited(c) => write!(f, "exited with code {c}"),
            Why::Unhealthy => f.write_str("is unhealthy"),
            Why::NoHealthcheck => f.write_str("has no healthcheck: give it one, or depend on it with condition: service_started"),
            Why::DidNotStart => f.write_str("failed to start"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Container(#[from] crate::container::Error),
    #[error(transparent)]
    Start(#[from] lifecycle::StartError),
    #[error(transparent)]
    Network(#[from] netstore::Error),
    #[error(transparent)]
    Volume(#[from] crate::volume::Error),
    #[error(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error("network {name} is external but does not exist: create it with `burrow network create {name}`")]
    ExternalNetwork { name: String },
    #[error("volume {name} is external but does not exist: create it with `burrow volume create {name}`")]
    ExternalVolume { name: String },
    #[error("service {service} has no image")]
    NoImage { service: String },
    #[error("dependency failed to start: container {container} {why}")]
    Dependency { container: String, why: Why },
    #[error("service {service}: {source}")]
    Service { service: String, source: Box<ApplyError> },
    #[error("container {container} {why}")]
    Wait { container: String, why: Why },
    #[error("timed out waiting for {container} to be running and healthy")]
    WaitTimeout { container: String },
}

pub type Result<T> = std::result::Result<T, ApplyError>;

/// `up`'s flags that change what it does.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The services named (with what they depend on); empty: all.
    pub services: Vec<String>,
    pub scale: BTreeMap<String, u32>,
    pub recreate: Recreate,
    pub remove_orphans: bool,
    /// `--wait`, with `--wait-timeout`.
    pub wait: Option<Option<Duration>>,
}

/// What `up` reports as it goes (`Container NAME  Started`).
pub type Say<'a> = &'a (dyn Fn(&str) + Sync);

/// The services named and everything they depend on (all when none is named).
pub fn selection(p: &Project, named: &[String]) -> BTreeSet<String> {
    if named.is_empty() {
        return p.services.keys().cloned().collect();
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = named.to_vec();
    while let Some(s) = todo.pop() {
        if p.services.contains_key(&s) && out.insert(s.clone()) {
            todo.extend(graph::dependencies(&p.services[&s]).into_iter().map(|(d, _)| d));
        }
    }
    out
}

/// Make the networks and volumes the selected services use.
pub fn resources(paths: &Paths, p: &Project, selected: &BTreeSet<String>, say: Say) -> Result<()> {
    let lock = StoreLock::exclusive(&paths.lock_file())?;
    let used_nets: BTreeSet<&String> = selected.iter().flat_map(|s| p.services[s].networks.keys()).collect();
    for key in used_nets {
        let n = &p.networks[key];
        match netstore::get(paths, &n.name) {
            Ok(_) => continue,
            Err(netstore::Error::NoSuchNetwork { .. }) if n.external => return Err(ApplyError::ExternalNetwork { name: n.name.clone() }),
            Err(netstore::Error::NoSuchNetwork { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let mut labels = n.labels.clone();
        labels.insert(plan::PROJECT.into(), p.name.clone());
        labels.insert(plan::NETWORK.into(), key.clone());
        let req = netstore::CreateRequest {
            name: n.name.clone(),
            driver: n.driver.clone().unwrap_or_else(|| "bridge".into()),
            addressing: ipam::Request {
                subnets: n.ipam.iter().map(|i| i.subnet).collect(),
                gateways: n.ipam.iter().filter_map(|i| i.gateway).collect(),
                ip_ranges: n.ipam.iter().filter_map(|i| i.ip_range).collect(),
                ipv6: n.enable_ipv6,
            },
            internal: n.internal,
            labels,
            options: Vec::new(),
        };
        netstore::create(&lock, paths, &req, &ipam::host_routes())?;
        say(&format!("Network {}  Created", n.name));
    }
    let used_vols: BTreeSet<&String> = selected
        .iter()
        .flat_map(|s| p.services[s].volumes.iter().filter_map(|m| m.source.as_ref().filter(|_| m.kind == super::model::MountType::Volume)))
        .collect();
    for key in used_vols {
        let v = &p.volumes[key];
        if crate::volume::store::get(paths, &v.name).is_ok() {
            continue;
        }
        if v.external {
            return Err(ApplyError::ExternalVolume { name: v.name.clone() });
        }
        let mut labels = v.labels.clone();
        labels.insert(plan::PROJECT.into(), p.name.clone());
        labels.insert(plan::VOLUME.into(), key.clone());
        crate::volume::store::create(paths, &v.name, labels, false)?;
        say(&format!("Volume {}  Created", v.name));
    }
    Ok(())
}

/// Decide what becomes of the project's existing containers.
pub fn decide(
    paths: &Paths,
    p: &Project,
    selected: &BTreeSet<String>,
    images: &BTreeMap<String, Image>,
    o: &UpOptions,
) -> Result<Decisions> {
    let mut wanted = BTreeMap::new();
    for s in selected {
        let svc = &p.services[s];
        let image = images.get(s).ok_or_else(|| ApplyError::NoImage { service: s.clone() })?;
        wanted.insert(s.clone(), (plan::replicas(s, svc, &o.scale), plan::config_hash(svc), image.id.to_string()));
    }
    let existing: Vec<_> = state::members(paths, &p.name)?
        .into_iter()
        .filter(|m| !m.oneoff)
        .map(|m| (m.service.clone(), m.number, m.hash.clone(), m.record.image_id.to_string(), m.record.name.clone()))
        .collect();
    let all: BTreeSet<String> = p.services.keys().chain(p.disabled.keys()).cloned().collect();
    Ok(state::reconcile(&wanted, &all, &existing, o.recreate))
}

/// Stop (gracefully) and remove a container.
pub fn stop_and_remove(paths: &Paths, ready: &Ready, name: &str, timeout: Option<u32>) -> Result<()> {
    lifecycle::stop(paths, name, timeout)?;
    let claimed = lifecycle::claim(paths, name, true)?;
    claimed.wait();
    lifecycle::remove(paths, ready, claimed, false)?;
    Ok(())
}

/// Shared between the services' threads.
struct Board {
    /// A service's outcome: its containers, or that it failed.
    done: Mutex<BTreeMap<String, Option<Vec<String>>>>,
    changed: Condvar,
    started: Mutex<Vec<String>>,
}

impl Board {
    fn finish(&self, service: &str, outcome: Option<Vec<String>>) {
        self.done.lock().expect("not poisoned").insert(service.to_string(), outcome);
        self.changed.notify_all();
    }

    fn await_service(&self, service: &str) -> Option<Vec<String>> {
        let mut done = self.done.lock().expect("not poisoned");
        loop {
            if let Some(o) = done.get(service) {
                return o.clone();
            }
            done = self.changed.wait(done).expect("not poisoned");
        }
    }
}

/// `up`: everything above, in dependency order; the containers of the
/// selected services, by service.
pub fn up(
    paths: &Paths,
    ready: &Ready,
    p: &Project,
    images: &BTreeMap<String, Image>,
    o: &UpOptions,
    say: Say,
) -> Result<BTreeMap<String, Vec<String>>> {
    let selected = selection(p, &o.services);
    resources(paths, p, &selected, say)?;
    let d = decide(paths, p, &selected, images, o)?;
    for name in &d.orphans {
        if o.remove_orphans {
            stop_and_remove(paths, ready, name, None)?;
            say(&format!("Container {name}  Removed"));
        } else {
            say(&format!("warning: found orphan container ({name}) for this project: remove it with --remove-orphans"));
        }
    }
    for name in &d.remove {
        stop_and_remove(paths, ready, name, None)?;
        say(&format!("Container {name}  Removed"));
    }
    let board = Board { done: Mutex::new(BTreeMap::new()), changed: Condvar::new(), started: Mutex::new(Vec::new()) };
    let errors: Mutex<Vec<(String, ApplyError)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for service in &selected {
            let (board, errors, d) = (&board, &errors, &d);
            scope.spawn(move || {
                let outcome = bring_up(paths, ready, p, service, &d.slots[service], images, board, say);
                match outcome {
                    Ok(names) => board.finish(service, Some(names)),
                    Err(e) => {
                        board.finish(service, None);
                        errors.lock().expect("not poisoned").push((service.clone(), e));
                    }
                }
            });
        }
    });
    let mut errors = errors.into_inner().expect("not poisoned");
    // The root cause first: a failure that is not a dependency's.
    errors.sort_by_key(|(_, e)| matches!(e, ApplyError::Dependency { .. }));
    if let Some((service, e)) = errors.into_iter().next() {
        rollback(paths, &board.started.into_inner().expect("not poisoned"), say);
        return Err(ApplyError::Service { service, source: Box::new(e) });
    }
    let done: BTreeMap<String, Vec<String>> =
        board.done.into_inner().expect("not poisoned").into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
    if let Some(timeout) = o.wait {
        wait_running(paths, p, &done, timeout)?;
    }
    Ok(done)
}

/// Stop what this `up` started, last first.
fn rollback(paths: &Paths, started: &[String], say: Say) {
    for name in started.iter().rev() {
        if lifecycle::stop(paths, name, None).is_ok() {
            say(&format!("Container {name}  Stopped"));
        }
    }
}

/// One service: wait for its dependencies, then its containers.
#[allow(clippy::too_many_arguments)]
fn bring_up(
    paths: &Paths,
    ready: &Ready,
    p: &Project,
    service: &str,
    slots: &[Slot],
    images: &BTreeMap<String, Image>,
    board: &Board,
    say: Say,
) -> Result<Vec<String>> {
    let s = &p.services[service];
    for (dep, _) in graph::dependencies(s) {
        if !p.services.contains_key(&dep) {
            continue;
        }
        let Some(containers) = board.await_service(&dep) else {
            return Err(ApplyError::Dependency { container: dep, why: Why::DidNotStart });
        };
        let condition = s.depends_on.get(&dep).map_or(Condition::ServiceStarted, |d| d.condition);
        for c in &containers {
            satisfied(paths, c, condition)?;
        }
    }
    let image = images.get(service).ok_or_else(|| ApplyError::NoImage { service: service.to_string() })?;
    let image_health = image.config_json.get("config").and_then(|c| c.get("Healthcheck"));
    let mut names = Vec::new();
    for slot in slots {
        let (name, fresh) = match slot {
            Slot::Keep(name) => (name.clone(), false),
            Slot::Recreate(old, n) => {
                stop_and_remove(paths, ready, old, None)?;
                say(&format!("Container {old}  Recreate"));
                (create(paths, ready, p, service, *n, image, image_health)?, true)
            }
            Slot::Create(n) => (create(paths, ready, p, service, *n, image, image_health)?, true),
        };
        if fresh {
            say(&format!("Container {name}  Created"));
        }
        let r = record::observed(paths, record::find(paths, &name)?);
        if r.status != Status::Running {
            lifecycle::start(paths, ready, &name)?;
            board.started.lock().expect("not poisoned").push(name.clone());
            say(&format!("Container {name}  Started"));
        } else {
            say(&format!("Container {name}  Running"));
        }
        names.push(name);
    }
    Ok(names)
}

/// Create container `n` of a service and join its further networks.
fn create(
    paths: &Paths,
    ready: &Ready,
    p: &Project,
    service: &str,
    n: u32,
    image: &Image,
    image_health: Option<&serde_json::Value>,
) -> Result<String> {
    let planned = plan::plan(p, service, n, false, image_health)?;
    let mut opts = planned.opts;
    opts.name = Some(planned.name.clone());
    lifecycle::create(paths, ready, &opts, image)?;
    for j in &planned.joins {
        let req =
            ConnectRequest { network: j.network.clone(), container: planned.name.clone(), aliases: j.aliases.clone(), ip: j.ip, ip6: None };
        connect::connect(paths, &req, ready.proof())?;
    }
    Ok(planned.name)
}

/// Block until container `name` meets `condition`.
pub fn satisfied(paths: &Paths, name: &str, condition: Condition) -> Result<()> {
    let fail = |why| ApplyError::Dependency { container: name.to_string(), why };
    match condition {
        Condition::ServiceStarted => Ok(()),
        Condition::ServiceCompletedSuccessfully => match lifecycle::wait(paths, name)? {
            0 => Ok(()),
            code => Err(fail(Why::Exited(code))),
        },
        Condition::ServiceHealthy => loop {
            match health_now(paths, name)? {
                Ok(true) => return Ok(()),
                Ok(false) => std::thread::sleep(Duration::from_millis(20)),
                Err(why) => return Err(fail(why)),
            }
        },
    }
}

/// Whether a container is healthy now (Ok(false): not yet), or why it
/// never will be.
fn health_now(paths: &Paths, name: &str) -> Result<std::result::Result<bool, Why>> {
    let r = record::observed(paths, record::find(paths, name)?);
    if r.config.as_ref().is_none_or(|c| c.health.is_none()) {
        return Ok(Err(Why::NoHealthcheck));
    }
    if r.status != Status::Running && r.status != Status::Restarting {
        return Ok(Err(Why::Exited(r.exit_code.unwrap_or(0))));
    }
    Ok(match Health::load(&r.dir(paths)).map(|h| h.status) {
        Some(s) if s == "healthy" => Ok(true),
        Some(s) if s == "unhealthy" => Err(Why::Unhealthy),
        _ => Ok(false),
    })
}

/// `--wait`: every container running (and healthy when it has a check);
/// one a `service_completed_successfully` dependent waited for may have
/// exited 0.
fn wait_running(paths: &Paths, p: &Project, done: &BTreeMap<String, Vec<String>>, timeout: Option<Duration>) -> Result<()> {
    let one_shots: BTreeSet<&String> = p
        .services
        .values()
        .flat_map(|s| s.depends_on.iter().filter(|(_, d)| d.condition == Condition::ServiceCompletedSuccessfully).map(|(n, _)| n))
        .collect();
    let deadline = timeout.map(|t| Instant::now() + t);
    for (service, names) in done {
        for name in names {
            loop {
                let r = record::observed(paths, record::find(paths, name)?);
                let has_check = r.config.as_ref().is_some_and(|c| c.health.is_some());
                let ok = match r.status {
                    Status::Exited if one_shots.contains(service) && r.exit_code == Some(0) => true,
                    Status::Exited | Status::Created => {
                        return Err(ApplyError::Wait { container: name.clone(), why: Why::Exited(r.exit_code.unwrap_or(0)) })
                    }
                    _ if !has_check => true,
                    _ => match health_now(paths, name)? {
                        Ok(h) => h,
                        Err(why) => return Err(ApplyError::Wait { container: name.clone(), why }),
                    },
                };
                if ok {
                    break;
                }
                if deadline.is_some_and(|d| Instant::now() > d) {
                    return Err(ApplyError::WaitTimeout { container: name.clone() });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    Ok(())
}
