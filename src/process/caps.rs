//! The workload's capabilities, chosen and applied the way `docker run` does.
//!
//! Choosing is pure: `resolve` starts from docker's default set of fourteen
//! capabilities and applies `--cap-drop` and `--cap-add`. Names are taken
//! with or without the `CAP_` prefix and in any case. `ALL` in `--cap-add`
//! means every capability (minus the ones dropped by name); `ALL` in
//! `--cap-drop` empties the set before the named adds go in, so
//! `--cap-drop ALL --cap-add NET_BIND_SERVICE` leaves exactly that one.
//!
//! Applying happens in the container's init, in three steps it calls in
//! this order (see capabilities(7), "Effect of user ID changes on
//! capabilities" and "Transformation of capabilities during execve()"):
//!
//! 1. `drop_bounding` while the init is still root with every capability
//!    of its user namespace: the bounding set loses everything outside the
//!    chosen set (PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set,
//!    which is untouched by this step). Seccomp is loaded after this, while
//!    CAP_SYS_ADMIN is still effective.
//! 2. `switch_ids`: supplementary groups, then gid, then uid. No keep-caps:
//!    a switch to a non-zero uid clears permitted, effective and ambient,
//!    which is exactly the end state docker gives a non-root user.
//! 3. `apply_final`: for root, permitted = effective = the chosen set; for
//!    anyone else, nothing. Inheritable and ambient always end empty, as in
//!    docker since the fix for CVE-2022-24769; a root workload keeps its
//!    capabilities across execve anyway, because the kernel treats uid 0's
//!    executables as if they carried every file capability, capped by the
//!    bounding set. A non-root workload gets capabilities only from file
//!    capabilities (e.g. `ping` with cap_net_raw+ep), within the bounding set.
//!
//! This module does not decide which uid or groups to use (the caller reads
//! the image's passwd/group files) and does not touch securebits.

use std::fmt;
use std::str::FromStr;

use ::caps::Capability;
use nix::errno::Errno;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown capability \"{name}\": see capabilities(7) for names")]
    Unknown { name: String },
    #[error("cannot drop capability {index} from the bounding set: {source}: the container's init must still hold CAP_SETPCAP")]
    DropBounding { index: u8, source: Errno },
    #[error("cannot set supplementary groups {groups:?}: {source}: every group must be mapped in the container's user namespace")]
    SetGroups { groups: Vec<u32>, source: Errno },
    #[error("cannot switch to group {gid}: {source}: the group must be mapped in the container's user namespace")]
    SetGid { gid: u32, source: Errno },
    #[error("cannot switch to user {uid}: {source}: the user must be mapped in the container's user namespace")]
    SetUid { uid: u32, source: Errno },
    #[error("cannot clear the ambient capabilities: {source}")]
    ClearAmbient { source: Errno },
    #[error("cannot set the capabilities {set:?}: {source}")]
    Capset { set: CapSet, source: Errno },
}

pub type Result<T> = std::result::Result<T, Error>;

/// docker's default capabilities, in the order docker lists them.
const DOCKER_DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// A set of capabilities, kept as the kernel's bit mask (bit N is
/// capability number N), so it is ordered, `Copy` and cheap to compare.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct CapSet {
    bits: u64,
}

impl CapSet {
    pub const fn empty() -> Self {
        CapSet { bits: 0 }
    }

    /// docker's fourteen default capabilities.
    pub fn docker_default() -> Self {
        DOCKER_DEFAULT.iter().copied().collect()
    }

    /// Every capability the `caps` crate knows.
    pub fn all() -> Self {
        ::caps::all().into_iter().collect()
    }

    pub fn contains(&self, cap: Capability) -> bool {
        self.bits & cap.bitmask() != 0
    }

    pub fn insert(&mut self, cap: Capability) {
        self.bits |= cap.bitmask();
    }

    pub fn remove(&mut self, cap: Capability) {
        self.bits &= !cap.bitmask();
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The kernel's bit mask of this set.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// The capabilities in kernel number order.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        let mut known: Vec<Capability> = ::caps::all().into_iter().filter(|c| self.contains(*c)).collect();
        known.sort_by_key(|c| c.index());
        known.into_iter()
    }

    /// Canonical names (`CAP_CHOWN`, ...) in kernel number order.
    pub fn names(&self) -> Vec<String> {
        self.iter().map(|c| c.to_string()).collect()
    }
}

impl FromIterator<Capability> for CapSet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapSet::empty();
        for c in iter {
            set.insert(c);
        }
        set
    }
}

impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// One `--cap-add`/`--cap-drop` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    All,
    Cap(Capability),
}

fn parse_word(name: &str) -> Result<Word> {
    let canonical = ::caps::to_canonical(name.trim());
    if canonical == "CAP_ALL" {
        return Ok(Word::All);
    }
    Capability::from_str(&canonical).map(Word::Cap).map_err(|_| Error::Unknown { name: name.to_string() })
}

/// The workload's capabilities for `--cap-add add --cap-drop drop` (pure).
///
/// `ALL` in `add` wins over `ALL` in `drop`, as in docker; a capability
/// named in both lists ends up present, because named adds are applied
/// last, except under `--cap-add ALL`, where the named drops are what the
/// user asked to remove.
pub fn resolve(add: &[String], drop: &[String]) -> Result<CapSet> {
    let add: Vec<Word> = add.iter().map(|n| parse_word(n)).collect::<Result<_>>()?;
    let drop: Vec<Word> = drop.iter().map(|n| parse_word(n)).collect::<Result<_>>()?;
    let named = |words: &[Word]| -> CapSet {
        words
            .iter()
            .filter_map(|w| match w {
                Word::Cap(c) => Some(*c),
                Word::All => None,
            })
            .collect()
    };
    let (add_named, drop_named) = (named(&add), named(&drop));
    let set = if add.contains(&Word::All) {
        CapSet { bits: CapSet::all().bits & !drop_named.bits }
    } else if drop.contains(&Word::All) {
        add_named
    } else {
        CapSet { bits: (CapSet::docker_default().bits & !drop_named.bits) | add_named.bits }
    };
    Ok(set)
}

/// Capability numbers to drop from the bounding set: everything outside
/// `set`, including numbers newer than the `caps` crate knows (the kernel
/// answers EINVAL past its last capability, which `drop_bounding` ignores).
fn bounding_drops(set: &CapSet) -> impl Iterator<Item = u8> + '_ {
    (0..64u8).filter(move |i| set.bits & (1u64 << i) == 0)
}

/// Step 1: shrink the bounding set to `set`. Needs CAP_SETPCAP.
pub fn drop_bounding(set: &CapSet) -> Result<()> {
    for index in bounding_drops(set) {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(index), 0, 0, 0) };
        if rc != 0 {
            match Errno::last() {
                // Past the kernel's last capability.
                Errno::EINVAL => tracing::trace!(index, "capability unknown to this kernel"),
                source => return Err(Error::DropBounding { index, source }),
            }
        }
    }
    Ok(())
}

/// Whether a failed setgroups(2) must stop the container (pure). In a user
/// namespace whose `/proc/PID/setgroups` is "deny" (burrow's single-id
/// mapping) the kernel refuses setgroups with EPERM; when no group beyond
/// the primary `gid` is wanted there is nothing the workload would gain,
/// so that case goes on.
fn setgroups_failure_is_fatal(groups: &[u32], gid: u32, errno: Errno) -> bool {
    !(groups.iter().all(|g| *g == gid) && errno == Errno::EPERM)
}

/// Step 2: become `uid`/`gid` with supplementary `groups`: setgroups, then
/// setresgid, then setresuid, all while the init still holds CAP_SETGID and
/// CAP_SETUID. A non-zero uid clears permitted, effective and ambient.
pub fn switch_ids(uid: u32, gid: u32, groups: &[u32]) -> Result<()> {
    let gids: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    if let Err(errno) = setgroups(&gids) {
        if setgroups_failure_is_fatal(groups, gid, errno) {
            return Err(Error::SetGroups { groups: groups.to_vec(), source: errno });
        }
        tracing::debug!("setgroups is denied in this user namespace; keeping the inherited groups");
    }
    let g = Gid::from_raw(gid);
    setresgid(g, g, g).map_err(|source| Error::SetGid { gid, source })?;
    let u = Uid::from_raw(uid);
    setresuid(u, u, u).map_err(|source| Error::SetUid { uid, source })
}

/// The three base sets to write: (effective, permitted, inheritable) (pure).
fn final_sets(set: &CapSet, keep_effective: bool) -> (u64, u64, u64) {
    if keep_effective {
        (set.bits, set.bits, 0)
    } else {
        (0, 0, 0)
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// capset(2)'s two 32-bit words per set (pure).
fn capset_words(effective: u64, permitted: u64, inheritable: u64) -> [CapData; 2] {
    let word = |v: u64, hi: bool| if hi { (v >> 32) as u32 } else { v as u32 };
    [false, true].map(|hi| CapData { effective: word(effective, hi), permitted: word(permitted, hi), inheritable: word(inheritable, hi) })
}

/// Step 3, right before execve: clear ambient, then write all three base
/// sets in one capset(2) (writing them one at a time can fail halfway,
/// since effective must stay within permitted). `keep_effective` is true
/// for a root workload (uid 0 in the container).
pub fn apply_final(set: &CapSet, keep_effective: bool) -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        match Errno::last() {
            // Kernels before 4.3 have no ambient set: nothing to clear.
            Errno::EINVAL => {}
            source => return Err(Error::ClearAmbient { source }),
        }
    }
    let (eff, perm, inh) = final_sets(set, keep_effective);
    let header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    let data = capset_words(eff, perm, inh);
    // SAFETY: both pointers refer to live, correctly laid out structs; the
    // v3 ABI reads exactly two CapData entries.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if rc != 0 {
        return Err(Error::Capset { set: CapSet { bits: perm }, source: Errno::last() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_is_dockers_fourteen() {
        let set = resolve(&[], &[]).unwrap();
        assert_eq!(set, CapSet::docker_default());
        assert_eq!(set.names().len(), 14);
        assert!(set.contains(Capability::CAP_NET_BIND_SERVICE));
        assert!(!set.contains(Capability::CAP_SYS_ADMIN));
        assert!(!set.contains(Capability::CAP_SYS_PTRACE));
    }

    #[test]
    fn names_in_any_case_with_or_without_prefix() {
        let set = resolve(&s(&["sys_admin", "CAP_Sys_Ptrace", " net_admin "]), &s(&["cap_chown", "NET_RAW"])).unwrap();
        assert!(set.contains(Capability::CAP_SYS_ADMIN));
        assert!(set.contains(Capability::CAP_SYS_PTRACE));
        assert!(set.contains(Capability::CAP_NET_ADMIN));
        assert!(!set.contains(Capability::CAP_CHOWN));
        assert!(!set.contains(Capability::CAP_NET_RAW));
        assert!(set.contains(Capability::CAP_KILL));
    }

    #[test]
    fn drop_all_then_add() {
        let set = resolve(&s(&["NET_BIND_SERVICE"]), &s(&["ALL"])).unwrap();
        assert_eq!(set.names(), vec!["CAP_NET_BIND_SERVICE"]);
        assert!(resolve(&[], &s(&["all"])).unwrap().is_empty());
    }

    #[test]
    fn add_all_minus_named_drops() {
        let set = resolve(&s(&["ALL"]), &s(&["SYS_ADMIN"])).unwrap();
        assert!(!set.contains(Capability::CAP_SYS_ADMIN));
        assert!(set.contains(Capability::CAP_SYS_MODULE));
        assert_eq!(set.names().len(), CapSet::all().names().len() - 1);
        // ALL in both: add wins, as in docker.
        assert_eq!(resolve(&s(&["ALL"]), &s(&["ALL"])).unwrap(), CapSet::all());
    }

    #[test]
    fn named_add_beats_named_drop() {
        let set = resolve(&s(&["CHOWN"]), &s(&["CHOWN"])).unwrap();
        assert!(set.contains(Capability::CAP_CHOWN));
    }

    #[test]
    fn unknown_name_is_an_error() {
        let err = resolve(&s(&["FOO"]), &[]).unwrap_err();
        assert_eq!(err.to_string(), "unknown capability \"FOO\": see capabilities(7) for names");
        assert!(resolve(&[], &s(&["cap_bogus"])).is_err());
    }

    #[test]
    fn names_are_in_kernel_order() {
        let set = resolve(&s(&["SYS_ADMIN"]), &s(&["ALL"])).unwrap();
        let mut with_chown = set;
        with_chown.insert(Capability::CAP_CHOWN);
        assert_eq!(with_chown.names(), vec!["CAP_CHOWN", "CAP_SYS_ADMIN"]);
        assert_eq!(format!("{with_chown:?}"), "{\"CAP_CHOWN\", \"CAP_SYS_ADMIN\"}");
    }

    #[test]
    fn bounding_drops_everything_outside_the_set() {
        let set = CapSet::docker_default();
        let drops: Vec<u8> = bounding_drops(&set).collect();
        assert!(drops.contains(&Capability::CAP_SYS_ADMIN.index()));
        assert!(!drops.contains(&Capability::CAP_CHOWN.index()));
        assert!(drops.contains(&63));
        assert_eq!(drops.len(), 64 - 14);
    }

    #[test]
    fn final_sets_for_root_and_others() {
        let set = CapSet::docker_default();
        assert_eq!(final_sets(&set, true), (set.bits(), set.bits(), 0));
        assert_eq!(final_sets(&set, false), (0, 0, 0));
    }

    #[test]
    fn capset_words_split_high_and_low() {
        let bits = Capability::CAP_CHOWN.bitmask() | Capability::CAP_BPF.bitmask();
        let [lo, hi] = capset_words(bits, bits, 0);
        assert_eq!(lo, CapData { effective: 1, permitted: 1, inheritable: 0 });
        assert_eq!(hi.effective, 1 << (Capability::CAP_BPF.index() - 32));
    }

    #[test]
    fn setgroups_denied_without_groups_is_fine() {
        assert!(!setgroups_failure_is_fatal(&[], 0, Errno::EPERM));
        assert!(!setgroups_failure_is_fatal(&[0], 0, Errno::EPERM));
        assert!(setgroups_failure_is_fatal(&[10], 0, Errno::EPERM));
        assert!(setgroups_failure_is_fatal(&[], 0, Errno::EINVAL));
    }
}
