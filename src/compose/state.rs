//! What of a project exists: its containers, found by docker compose's
//! labels on the records (so `ps`, `down`, `ls` and `up`'s recreation
//! decisions need no file of their own), and the resources it made.
//!
//! `reconcile` is the pure decision of `up`: for each service's wanted
//! replicas, which existing containers are kept, which are recreated and
//! which are removed (scaled down, orphans).

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{self, HASH, NUMBER, ONEOFF, PROJECT, SERVICE};
use crate::container::record::{self, Record};
use crate::paths::Paths;

/// One container of a project.
#[derive(Debug, Clone)]
pub struct Member {
    pub record: Record,
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
    pub hash: String,
}

impl Member {
    fn of(r: Record) -> Option<(String, Member)> {
        let l = r.config.as_ref()?.labels.clone();
        let project = l.get(PROJECT)?.clone();
        let m = Member {
            service: l.get(SERVICE).cloned().unwrap_or_default(),
            number: l.get(NUMBER).and_then(|n| n.parse().ok()).unwrap_or(0),
            oneoff: l.get(ONEOFF).is_some_and(|o| o == "True"),
            hash: l.get(HASH).cloned().unwrap_or_default(),
            record: r,
        };
        Some((project, m))
    }

    pub fn name(&self) -> &str {
        &self.record.name
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        self.record.config.as_ref().map(|c| c.labels.clone()).unwrap_or_default()
    }
}

/// Every container of every project, by project name, sorted by service
/// and number; records as `observed` (a dead supervisor is an exit).
pub fn projects(paths: &Paths) -> crate::container::Result<BTreeMap<String, Vec<Member>>> {
    let mut out: BTreeMap<String, Vec<Member>> = BTreeMap::new();
    for r in record::list(paths)? {
        if let Some((p, m)) = Member::of(record::observed(paths, r)) {
            out.entry(p).or_default().push(m);
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| (a.oneoff, &a.service, a.number).cmp(&(b.oneoff, &b.service, b.number)));
    }
    Ok(out)
}

/// The containers of one project.
pub fn members(paths: &Paths, project: &str) -> crate::container::Result<Vec<Member>> {
    Ok(projects(paths)?.remove(project).unwrap_or_default())
}

/// How `up` treats existing containers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Recreate {
    /// Recreate what changed (docker compose's default).
    #[default]
    Diverged,
    Force,
    Never,
}

/// What `up` does with one container slot of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Create container `number`.
    Create(u32),
    /// Keep the existing container (start it if it is not running).
    Keep(String),
    /// Remove the existing container, then create `number` again.
    Recreate(String, u32),
}

/// `up`'s decisions: per service its slots, and what to remove.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decisions {
    pub slots: BTreeMap<String, Vec<Slot>>,
    pub remove: Vec<String>,
    pub orphans: Vec<String>,
}

/// Decide, for each `(service, replicas, hash, image id)` wanted, what
/// becomes of the `existing` (non one-off) containers; a container of a
/// service the project no longer has is an orphan.
pub fn reconcile(
    wanted: &BTreeMap<String, (u32, String, String)>,
    all_services: &BTreeSet<String>,
    existing: &[(String, u32, String, String, String)],
    mode: Recreate,
) -> Decisions {
    let mut d = Decisions::default();
    for (service, (replicas, hash, image)) in wanted {
        let mine: Vec<_> = existing.iter().filter(|e| &e.0 == service).collect();
        let mut slots = Vec::new();
        for n in 1..=*replicas {
            let slot = match mine.iter().find(|e| e.1 == n) {
                None => Slot::Create(n),
                Some(e) => {
                    let same = &e.2 == hash && &e.3 == image;
                    match mode {
                        Recreate::Never => Slot::Keep(e.4.clone()),
                        Recreate::Diverged if same => Slot::Keep(e.4.clone()),
                        _ => Slot::Recreate(e.4.clone(), n),
                    }
                }
            };
            slots.push(slot);
        }
        d.remove.extend(mine.iter().filter(|e| e.1 > *replicas || e.1 == 0).map(|e| e.4.clone()));
        d.slots.insert(service.clone(), slots);
    }
    d.orphans = existing.iter().filter(|e| !all_services.contains(&e.0)).map(|e| e.4.clone()).collect();
    d
}

/// The name a `compose run` container gets.
pub fn oneoff_name(project: &str, service: &str) -> String {
    let id = crate::model::ContainerId::random();
    format!("{project}-{service}-run-{}", &id.as_str()[..12])
}

/// Container N's name of a service (re-exported for the verbs).
pub fn container_name(project: &str, service: &str, n: u32) -> String {
    plan::container_name(project, service, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(items: &[(&str, u32, &str)]) -> BTreeMap<String, (u32, String, String)> {
        items.iter().map(|(s, n, h)| (s.to_string(), (*n, h.to_string(), "img".to_string()))).collect()
    }

    fn existing(items: &[(&str, u32, &str)]) -> Vec<(String, u32, String, String, String)> {
        items.iter().map(|(s, n, h)| (s.to_string(), *n, h.to_string(), "img".into(), format!("p-{s}-{n}"))).collect()
    }

    #[test]
    fn only_changed_services_are_recreated() {
        let all: BTreeSet<String> = ["web", "db"].map(String::from).into();
        let have = existing(&[("web", 1, "h1"), ("db", 1, "old"), ("gone", 1, "x")]);
        let d = reconcile(&wanted(&[("web", 1, "h1"), ("db", 1, "new")]), &all, &have, Recreate::Diverged);
        assert_eq!(d.slots["web"], vec![Slot::Keep("p-web-1".into())]);
        assert_eq!(d.slots["db"], vec![Slot::Recreate("p-db-1".into(), 1)]);
        assert_eq!(d.orphans, vec!["p-gone-1".to_string()]);
        let d = reconcile(&wanted(&[("web", 1, "h1"), ("db", 1, "new")]), &all, &have, Recreate::Never);
        assert_eq!(d.slots["db"], vec![Slot::Keep("p-db-1".into())]);
        let d = reconcile(&wanted(&[("web", 1, "h1")]), &all, &have, Recreate::Force);
        assert_eq!(d.slots["web"], vec![Slot::Recreate("p-web-1".into(), 1)]);
    }

    #[test]
    fn scaling_creates_and_removes_numbers() {
        let all: BTreeSet<String> = ["web"].map(String::from).into();
        let have = existing(&[("web", 1, "h"), ("web", 2, "h"), ("web", 3, "h")]);
        let d = reconcile(&wanted(&[("web", 2, "h")]), &all, &have, Recreate::Diverged);
        assert_eq!(d.slots["web"], vec![Slot::Keep("p-web-1".into()), Slot::Keep("p-web-2".into())]);
        assert_eq!(d.remove, vec!["p-web-3".to_string()]);
        let d = reconcile(&wanted(&[("web", 4, "h")]), &all, &have[..1], Recreate::Diverged);
        assert_eq!(d.slots["web"][1..], [Slot::Create(2), Slot::Create(3), Slot::Create(4)]);
    }
}
