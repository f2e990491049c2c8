//! Id maps: which ids of a user namespace are which ids of its parent.
//!
//! A `Mapping` is the pair of `uid_map` and `gid_map` contents of one
//! namespace. `--userns=keep-id` keeps the maps of burrow's own namespace
//! in the container's record, so they live here with the other recorded
//! values; choosing maps is `userns::plan`'s business.

/// One line of `/proc/PID/uid_map`: `count` ids starting at `inside` in the
/// namespace are `outside` and on in the parent namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The uid and gid maps of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Mapping {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
}

impl Mapping {
    /// The parent-namespace id of `inside`, if `inside` is mapped.
    pub fn uid_outside(&self, inside: u32) -> Option<u32> {
        to_outside(&self.uid, inside)
    }

    pub fn gid_outside(&self, inside: u32) -> Option<u32> {
        to_outside(&self.gid, inside)
    }

    /// How many uids the namespace maps (the container ids 0..n when the
    /// map is contiguous from 0, as burrow's maps are).
    pub fn uid_count(&self) -> u64 {
        self.uid.iter().map(|m| u64::from(m.count)).sum()
    }

    pub fn gid_count(&self) -> u64 {
        self.gid.iter().map(|m| u64::from(m.count)).sum()
    }

    /// The text the kernel expects in `uid_map` (and `gid_map` for `gid`).
    pub fn render(maps: &[IdMap]) -> String {
        maps.iter().map(|m| format!("{} {} {}\n", m.inside, m.outside, m.count)).collect()
    }

    /// The maps of `/proc/PID/uid_map` and `gid_map` texts, the inverse
    /// of `render`; lines that do not parse are left out.
    pub fn parse(uid_map: &str, gid_map: &str) -> Mapping {
        let maps = |text: &str| {
            text.lines()
                .filter_map(|l| {
                    let f: Vec<u32> = l.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                    matches!(f[..], [_, _, _]).then(|| IdMap { inside: f[0], outside: f[1], count: f[2] })
                })
                .collect()
        };
        Mapping { uid: maps(uid_map), gid: maps(gid_map) }
    }

    /// The ids `maps` give the namespace, for messages: "0-65536",
    /// "0", "0-9, 20-29".
    pub fn shown(maps: &[IdMap]) -> String {
        let mut spans: Vec<(u64, u64)> =
            maps.iter().filter(|m| m.count > 0).map(|m| (u64::from(m.inside), u64::from(m.inside) + u64::from(m.count) - 1)).collect();
        spans.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (a, b) in spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let text: Vec<String> = merged.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
        text.join(", ")
    }
}

fn to_outside(maps: &[IdMap], inside: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let off = inside.checked_sub(m.inside)?;
        (off < m.count).then(|| m.outside + off)
    })
}
