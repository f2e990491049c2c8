//! Resolving `--user` against the container's own `/etc/passwd` and
//! `/etc/group` (passwd(5), group(5)), as `docker run -u` does.
//!
//! `USER[:GROUP]` where each part is a name or a number. A numeric uid that
//! is not in passwd is accepted (docker allows it) with gid 0 and home `/`;
//! an unknown name is an error. Supplementary groups are the groups that
//! list the user by name. Pure functions over the files' text.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unable to find user {name}: no matching entries in the container's /etc/passwd")]
    NoUser { name: String },
    #[error("unable to find group {name}: no matching entries in the container's /etc/group")]
    NoGroup { name: String },
    #[error("invalid --user value {spec:?}: use USER[:GROUP] with names or numeric ids")]
    Invalid { spec: String },
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
    Ok(Identity { uid, gid, groups, home, name })
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
    fn unknown_names_are_errors() {
        assert_eq!(resolve("nobody2", PASSWD, GROUP), Err(Error::NoUser { name: "nobody2".into() }));
        assert_eq!(resolve("app:nogroup", PASSWD, GROUP), Err(Error::NoGroup { name: "nogroup".into() }));
        assert!(matches!(resolve(":1", PASSWD, GROUP), Err(Error::Invalid { .. })));
    }
}
