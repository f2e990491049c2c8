//! `--ulimit`: setrlimit(2) in the container's child before execve.
//!
//! rlimits mean the same thing on every host, so they need no cgroup. A
//! user namespace gives no right to raise a hard limit (that needs
//! CAP_SYS_RESOURCE in the initial namespace), so a hard limit above the
//! user's own is refused before the container exists, with the number
//! that would work.

use super::request::{Ulimit, ULIMITS};
use super::{Error, Result};

/// One rlimit ready for the child: the resource number and both limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    pub name: String,
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

/// Check `ulimits` against this process's own hard limits.
pub fn prepare(ulimits: &[Ulimit]) -> Result<Vec<Rlimit>> {
    ulimits
        .iter()
        .map(|u| {
            let resource = ULIMITS
                .iter()
                .find(|(n, _)| *n == u.name)
                .map(|(_, r)| *r)
                .ok_or_else(|| Error::Invalid { flag: "--ulimit".into(), reason: format!("unknown limit {:?}", u.name) })?;
            check(u, resource, own_hard(resource))
        })
        .collect()
}

/// The pure rule: the hard limit may not exceed `max` (the user's own).
fn check(u: &Ulimit, resource: i32, max: u64) -> Result<Rlimit> {
    if u.hard > max {
        return Err(Error::UlimitTooHigh { name: u.name.clone(), hard: render(u.hard), max: render(max) });
    }
    Ok(Rlimit { name: u.name.clone(), resource, soft: u.soft, hard: u.hard })
}

fn render(v: u64) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

/// Raise this process's soft limit on open files to its hard limit, as
/// podman (and every Go program) does. One burrow process holds a host
/// socket per container connection besides its FUSE server's descriptors,
/// so a container opening a thousand connections would otherwise make it
/// fail with EMFILE at the default 1024. Containers inherit the raised
/// limit, as under podman (docker gives its containers 1048576); `--ulimit
/// nofile=` still sets theirs. Best effort: on failure the limit stays.
pub fn raise_nofile() {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass; setrlimit reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                tracing::debug!(error = %std::io::Error::last_os_error(), "cannot raise the open-file limit");
            }
        }
    }
}

fn own_hard(resource: i32) -> u64 {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(resource as _, &mut r) } != 0 {
        return libc::RLIM_INFINITY;
    }
    r.rlim_max
}

impl Rlimit {
    /// Apply in the container's child (async-signal-safe: one system call).
    pub fn apply(&self) -> Result<()> {
        let r = libc::rlimit { rlim_cur: self.soft, rlim_max: self.hard };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(self.resource as _, &r) } != 0 {
            return Err(Error::Setrlimit { name: self.name.clone(), source: std::io::Error::last_os_error() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_limit_above_own_is_refused() {
        let u = Ulimit { name: "nofile".into(), soft: 64, hard: 2048 };
        let nofile = libc::RLIMIT_NOFILE as i32;
        assert_eq!(check(&u, nofile, 4096).unwrap(), Rlimit { name: "nofile".into(), resource: nofile, soft: 64, hard: 2048 });
        let e = check(&u, nofile, 1024).unwrap_err().to_string();
        assert!(e.contains("above your own hard limit 1024"), "{e}");
        let inf = Ulimit { name: "core".into(), soft: 0, hard: libc::RLIM_INFINITY };
        assert!(check(&inf, libc::RLIMIT_CORE as i32, 10).unwrap_err().to_string().contains("unlimited"));
    }

    #[test]
    fn raise_nofile_lifts_the_soft_limit_to_the_hard_one() {
        raise_nofile();
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes into the struct we pass.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
        assert_eq!(r.rlim_cur, r.rlim_max);
    }

    #[test]
    fn prepare_reads_own_limits() {
        let own = own_hard(libc::RLIMIT_NOFILE as i32);
        assert_eq!(prepare(&[Ulimit { name: "nofile".into(), soft: 1, hard: own }]).unwrap().len(), 1);
    }
}
