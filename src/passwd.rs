//! Resolving `--user` against the container's own `/etc/passwd` and
//! `/etc/group` (passwd(5), group(5)), as `docker run -u` does.
//!
//! `USER[:GROUP]` where each part is a name or a number. A numeric uid that
//! is not in passwd is accepted (docker allows it) with gid 0 and home `/`;
//! an unknown name is an error. Supplementary groups are the groups that
//! list the user by name. Pure functions over the files' text.
//!
//! Ids are checked twice: against the kernel's range (0-2147483647, as
//! runc; 4294967295 is -1, which setresuid(2) takes as "unchanged", so it
//! would run the workload as root), and against the ids the container's
//! user namespace maps, so an unmapped id is refused before the container
//! starts with a message that names the map in force.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unable to find user {name}: no matching entries in the container's /etc/passwd")]
    NoUser { name: String },
    #[error("unable to find group {name}: no matching entries in the container's /etc/group")]
    NoGroup { name: String },
    #[error("invalid --user value {spec:?}: use USER[:GROUP] with names or numeric ids")]
    Invalid { spec: String },
    #[error("invalid user {spec:?}: id {id} is out of range (uids and gids must be in 0-{MAX_ID})")]
    OutOfRange { spec: String, id: u32 },
    #[error("{kind} {id} is not mapped in the container's user namespace, {}", unmapped_hint(kind, mapped, *single))]
    Unmapped { kind: &'static str, id: u32, mapped: String, single: bool },
}

/// The largest uid or gid a container may use (runc's limit).
pub const MAX_ID: u32 = i32::MAX as u32;

/// What to say about the ids a namespace maps (`mapped`, as
/// `userns::Mapping::shown` writes them).
fn unmapped_hint(kind: &str, mapped: &str, single: bool) -> String {
    if single {
        format!(
            "which maps only {kind} 0 (burrow's single-id mapping; `burrow info` says why): run as root, or give your user subordinate ids in /etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER)"
        )
    } else {
        format!("which maps {kind}s {mapped}: use one of those (your subordinate ids in /etc/sub{kind} set how many there are)")
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The process identity a container runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
    pub name: Option<String>,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry { name: f[0], uid: f[2].parse().ok()?, gid: f[3].parse().ok()?, home: f[5] })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        let members = f[3].split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
        Some(GroupEntry { name: f[0], gid: f[2].parse().ok()?, members })
    })
}

/// Resolve `spec` (empty means root) with the container's passwd and group
/// texts (empty strings when the files are missing).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<Identity> {
    let spec = spec.trim();
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() && grp.is_some() || grp == Some("") {
        return Err(Error::Invalid { spec: spec.into() });
    }
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd_entries(passwd).find(|e| e.name == user || user.parse() == Ok(e.uid));
    let (uid, mut gid, home, name) = match (entry, user.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_string(), Some(e.name.to_string())),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => return Err(Error::NoUser { name: user.into() }),
    };
    if let Some(g) = grp {
        gid = match group_entries(group).find(|e| e.name == g) {
            Some(e) => e.gid,
            None => g.parse().map_err(|_| Error::NoGroup { name: g.into() })?,
        };
    }
    let mut groups = vec![gid];
    if let Some(n) = &name {
        for g in group_entries(group) {
            if g.members.contains(&n.as_str()) && !groups.contains(&g.gid) {
                groups.push(g.gid);
            }
        }
    }
    if let Some(&id) = [uid, gid].iter().chain(&groups).find(|&&id| id > MAX_ID) {
        return Err(Error::OutOfRange { spec: spec.into(), id });
    }
    Ok(Identity { uid, gid, groups, home, name })
}

/// Whether the container's user namespace, with maps `mapping`, has every
/// id of `identity` (pure).
pub fn check_mapped(identity: &Identity, mapping: &crate::userns::Mapping) -> Result<()> {
    let check = |kind: &'static str, ids: &[u32], mapped: &dyn Fn(u32) -> bool, maps: &[crate::userns::IdMap]| {
        let single = maps.iter().map(|m| u64::from(m.count)).sum::<u64>() == 1;
        match ids.iter().find(|&&id| !mapped(id)) {
            Some(&id) => Err(Error::Unmapped { kind, id, mapped: crate::userns::Mapping::shown(maps), single }),
            None => Ok(()),
        }
    };
    check("uid", &[identity.uid], &|id| mapping.uid_outside(id).is_some(), &mapping.uid)?;
    let gids = [&[identity.gid][..], &identity.groups].concat();
    check("gid", &gids, &|id| mapping.gid_outside(id).is_some(), &mapping.gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nwww-data:x:33:\nextra:x:2000:app,other\n";

    #[test]
    fn default_is_root() {
        let id = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid, id.home.as_str()), (0, 0, "/root"));
    }

    #[test]
    fn names_and_supplementary_groups() {
        let id = resolve("app", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (1000, 1000));
        assert_eq!(id.groups, vec![1000, 2000]);
        assert_eq!(id.home, "/home/app");
    }

    #[test]
    fn user_and_group_by_number_or_name() {
        let id = resolve("app:www-data", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (1000, 33));
        let id = resolve("4242:77", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid, id.home.as_str()), (4242, 77, "/"));
        let id = resolve("33", PASSWD, GROUP).unwrap();
        assert_eq!(id.name.as_deref(), Some("www-data"));
    }

    #[test]
    fn ids_beyond_the_kernels_range_are_refused() {
        // 4294967295 is -1: setresuid would leave the ids unchanged (root).
        for spec in ["4294967295", "0:4294967295", "2147483648"] {
            assert!(matches!(resolve(spec, PASSWD, GROUP), Err(Error::OutOfRange { .. })), "{spec}");
        }
        assert_eq!(resolve("2147483647", PASSWD, GROUP).unwrap().uid, MAX_ID);
        let passwd = "big:x:4294967295:0::/:/bin/sh\n";
        assert!(matches!(resolve("big", passwd, GROUP), Err(Error::OutOfRange { id: 4294967295, .. })));
    }

    #[test]
    fn unmapped_ids_are_refused_with_the_map_in_force() {
        use crate::userns::Mapping;
        let range = Mapping::parse("0 1000 1\n1 100000 65536\n", "0 1000 1\n1 100000 65536\n");
        let single = Mapping::parse("0 1000 1\n", "0 1000 1\n");
        let id = |spec: &str| resolve(spec, PASSWD, GROUP).unwrap();
        assert_eq!(check_mapped(&id("app"), &range), Ok(()));
        assert_eq!(check_mapped(&id("65536"), &range), Ok(()));
        let e = check_mapped(&id("70000"), &range).unwrap_err();
        assert!(matches!(&e, Error::Unmapped { kind: "uid", id: 70000, single: false, .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("uids 0-65536") && !text.contains("single-id"), "{text}");
        let e = check_mapped(&id("0:70000"), &range).unwrap_err();
        assert!(matches!(e, Error::Unmapped { kind: "gid", id: 70000, .. }), "{e}");
        assert_eq!(check_mapped(&id(""), &single), Ok(()));
        let e = check_mapped(&id("app"), &single).unwrap_err();
        assert!(matches!(e, Error::Unmapped { kind: "uid", id: 1000, single: true, .. }), "{e}");
        assert!(e.to_string().contains("single-id") && e.to_string().contains("usermod"), "{e}");
        // A supplementary group counts too.
        let with_group = Identity { groups: vec![0, 5], ..id("") };
        assert!(matches!(check_mapped(&with_group, &single), Err(Error::Unmapped { kind: "gid", id: 5, .. })));
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(resolve("nobody2", PASSWD, GROUP), Err(Error::NoUser { name: "nobody2".into() }));
        assert_eq!(resolve("app:nogroup", PASSWD, GROUP), Err(Error::NoGroup { name: "nogroup".into() }));
        assert!(matches!(resolve(":1", PASSWD, GROUP), Err(Error::Invalid { .. })));
    }
}
