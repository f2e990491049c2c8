//! Pure decisions about id maps.
//!
//! `plan` chooses the maps of burrow's own namespace from the user's ids,
//! their subordinate ranges and whether the setuid helpers exist. `keep_id`
//! computes the maps of a nested namespace in which the user keeps their own
//! uid and gid, expressed in the ids of burrow's namespace (where container
//! root is the user). Nothing here touches the kernel.

use super::SubidRange;
pub use crate::model::idmap::{IdMap, Mapping};

/// Why the maps are what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingKind {
    /// The user is root and their subordinate ranges are ids 1 and on.
    Range,
    /// Only the user is mapped (to root); `reason` says why and how to fix it.
    SingleId { reason: String },
}

/// What `enter` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub mapping: Mapping,
    pub kind: MappingKind,
}

impl Plan {
    pub fn uses_helpers(&self) -> bool {
        self.kind == MappingKind::Range
    }
}

/// Facts about the host that decide the plan.
#[derive(Debug, Clone)]
pub struct HostIds<'a> {
    pub uid: u32,
    pub gid: u32,
    pub user: Option<&'a str>,
    pub subuids: &'a [SubidRange],
    pub subgids: &'a [SubidRange],
    pub have_newuidmap: bool,
    pub have_newgidmap: bool,
}

/// Choose the maps for burrow's namespace. `force_single` is the user's
/// explicit `--userns=single-id` (or `BURROW_USERNS=single-id`).
pub fn plan(host: &HostIds<'_>, force_single: bool) -> Plan {
    let single = |reason: String| Plan {
        mapping: Mapping {
            uid: vec![IdMap { inside: 0, outside: host.uid, count: 1 }],
            gid: vec![IdMap { inside: 0, outside: host.gid, count: 1 }],
        },
        kind: MappingKind::SingleId { reason },
    };
    let who = host.user.map(str::to_owned).unwrap_or_else(|| host.uid.to_string());
    if force_single {
        return single("requested with --userns=single-id".into());
    }
    if host.uid == 0 {
        return single("burrow runs as root: only root itself is mapped".into());
    }
    if !host.have_newuidmap || !host.have_newgidmap {
        return single("newuidmap/newgidmap not found: install the uidmap package (apt-get install uidmap)".into());
    }
    if host.subuids.is_empty() {
        return single(format!(
            "no subordinate uid range for {who} in /etc/subuid: add one with `usermod --add-subuids 100000-165535 {who}`"
        ));
    }
    if host.subgids.is_empty() {
        return single(format!(
            "no subordinate gid range for {who} in /etc/subgid: add one with `usermod --add-subgids 100000-165535 {who}`"
        ));
    }
    let ranges = |own: u32, subs: &[SubidRange]| {
        let mut maps = vec![IdMap { inside: 0, outside: own, count: 1 }];
        let mut next = 1u32;
        for r in subs {
            maps.push(IdMap { inside: next, outside: r.start, count: r.count });
            next = next.saturating_add(r.count);
        }
        maps
    };
    Plan { mapping: Mapping { uid: ranges(host.uid, host.subuids), gid: ranges(host.gid, host.subgids) }, kind: MappingKind::Range }
}

/// Maps of a nested namespace in which container id `uid`/`gid` is the
/// user (id 0 of burrow's namespace) and the other container ids are the
/// subordinate ids, in order: `0..uid` are burrow ids `1..=uid`, ids above
/// `uid` keep their number. With a single-id `outer`, only the user is
/// mapped. The result is written from burrow's namespace, which owns every
/// id it names.
pub fn keep_id(outer: &Mapping, uid: u32, gid: u32) -> Mapping {
    let nested = |own: u32, outer_count: u64| {
        // burrow ids 1..n are the subordinate ids; n = outer_count - 1.
        let n = u32::try_from(outer_count.saturating_sub(1)).unwrap_or(u32::MAX);
        let mut maps = Vec::new();
        let below = own.min(n);
        if below > 0 {
            maps.push(IdMap { inside: 0, outside: 1, count: below });
        }
        maps.push(IdMap { inside: own, outside: 0, count: 1 });
        if own < n {
            maps.push(IdMap { inside: own + 1, outside: own + 1, count: n - own });
        }
        maps
    };
    Mapping { uid: nested(uid, outer.uid_count()), gid: nested(gid, outer.gid_count()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host<'a>(subs: &'a [SubidRange]) -> HostIds<'a> {
        HostIds { uid: 1000, gid: 1000, user: Some("alice"), subuids: subs, subgids: subs, have_newuidmap: true, have_newgidmap: true }
    }

    const R: [SubidRange; 1] = [SubidRange { start: 100000, count: 65536 }];

    #[test]
    fn range_maps_user_to_root_and_subids_after() {
        let p = plan(&host(&R), false);
        assert_eq!(p.kind, MappingKind::Range);
        assert_eq!(Mapping::render(&p.mapping.uid), "0 1000 1\n1 100000 65536\n");
        assert_eq!(p.mapping.uid_count(), 65537);
        assert_eq!(p.mapping.uid_outside(0), Some(1000));
        assert_eq!(p.mapping.uid_outside(1), Some(100000));
        assert_eq!(p.mapping.uid_outside(65536), Some(165535));
        assert_eq!(p.mapping.uid_outside(65537), None);
    }

    #[test]
    fn maps_parse_back_and_are_shown_as_spans() {
        let p = plan(&host(&R), false);
        let back = Mapping::parse(&Mapping::render(&p.mapping.uid), &Mapping::render(&p.mapping.gid));
        assert_eq!(back, p.mapping);
        assert_eq!(Mapping::shown(&back.uid), "0-65536");
        let single = plan(&host(&R), true).mapping;
        assert_eq!(Mapping::shown(&single.uid), "0");
        let k = keep_id(&p.mapping, 1000, 1000);
        assert_eq!(Mapping::shown(&k.uid), "0-65536");
        let holes = [IdMap { inside: 20, outside: 5, count: 10 }, IdMap { inside: 0, outside: 1, count: 10 }];
        assert_eq!(Mapping::shown(&holes), "0-9, 20-29");
        assert_eq!(Mapping::parse("garbage\n0 1000 1\n", "").uid, vec![IdMap { inside: 0, outside: 1000, count: 1 }]);
    }

    #[test]
    fn two_ranges_are_concatenated() {
        let subs = [SubidRange { start: 100000, count: 10 }, SubidRange { start: 500000, count: 5 }];
        let p = plan(&host(&subs), false);
        assert_eq!(Mapping::render(&p.mapping.gid), "0 1000 1\n1 100000 10\n11 500000 5\n");
        assert_eq!(p.mapping.gid_outside(12), Some(500001));
    }

    #[test]
    fn single_id_fallbacks_explain_themselves() {
        let p = plan(&host(&[]), false);
        match p.kind {
            MappingKind::SingleId { reason } => assert!(reason.contains("usermod --add-subuids"), "{reason}"),
            k => panic!("{k:?}"),
        }
        let mut h = host(&R);
        h.have_newuidmap = false;
        match plan(&h, false).kind {
            MappingKind::SingleId { reason } => assert!(reason.contains("uidmap"), "{reason}"),
            k => panic!("{k:?}"),
        }
        let p = plan(&host(&R), true);
        assert!(!p.uses_helpers());
        assert_eq!(Mapping::render(&p.mapping.uid), "0 1000 1\n");
    }

    #[test]
    fn keep_id_puts_the_user_at_their_own_uid() {
        let outer = plan(&host(&R), false).mapping;
        let k = keep_id(&outer, 1000, 1000);
        assert_eq!(Mapping::render(&k.uid), "0 1 1000\n1000 0 1\n1001 1001 64536\n");
        assert_eq!(k.uid_count(), 65537);
        // container root is the first subordinate id
        assert_eq!(k.uid_outside(0), Some(1));
        assert_eq!(k.uid_outside(1000), Some(0));
    }

    #[test]
    fn keep_id_with_a_high_uid_or_single_id() {
        let outer = plan(&host(&[SubidRange { start: 100000, count: 100 }]), false).mapping;
        let k = keep_id(&outer, 5000, 5000);
        assert_eq!(Mapping::render(&k.uid), "0 1 100\n5000 0 1\n");
        let single = plan(&host(&[]), false).mapping;
        assert_eq!(Mapping::render(&keep_id(&single, 1000, 1000).uid), "1000 0 1\n");
    }
}
