//! burrow-overlayfs: burrow's overlay with fuse-overlayfs's command line,
//! so benchmarks and scripts can swap the two.
//!
//! Usage: `burrow-overlayfs [-f] -o lowerdir=TOP:...:BOTTOM,upperdir=U,workdir=W[,threads=N] MOUNTPOINT`
//!
//! It always stays in the foreground (`-f` is accepted for compatibility)
//! and serves until the mount goes away (`fusermount3 -u` or umount), then
//! exits 0. Any other `-o` option is refused rather than ignored. Errors
//! go to stderr with exit status 1. Logging follows
//! RUST_LOG (e.g. `RUST_LOG=burrow_fs=trace`).

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error("usage: burrow-overlayfs [-f] -o lowerdir=TOP:...:BOTTOM,upperdir=U,workdir=W[,threads=N] MOUNTPOINT")]
    Usage,
    #[error("missing option {0}=")]
    Missing(&'static str),
    #[error("bad threads={0:?}: give a number from 1 to 64")]
    Threads(String),
    #[error("unsupported option {0:?}: burrow-overlayfs takes lowerdir, upperdir, workdir and threads")]
    Unsupported(String),
}

struct Args {
    cfg: burrow_fs::Config,
    threads: usize,
    mountpoint: PathBuf,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, UsageError> {
    let mut opts = Vec::new();
    let mut mountpoint = None;
    let mut it = args.peekable();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-f" | "-d" => {}
            "-o" => opts.push(it.next().ok_or(UsageError::Usage)?),
            s if s.starts_with("-o") => opts.push(s[2..].to_string()),
            s if s.starts_with('-') => return Err(UsageError::Usage),
            _ if mountpoint.is_none() => mountpoint = Some(PathBuf::from(a)),
            _ => return Err(UsageError::Usage),
        }
    }
    let (mut lowers, mut upper, mut work, mut threads) = (None, None, None, burrow_fs::default_threads());
    for o in opts.iter().flat_map(|o| o.split(',')) {
        match o.split_once('=') {
            Some(("lowerdir", v)) => lowers = Some(v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect::<Vec<_>>()),
            Some(("upperdir", v)) => upper = Some(PathBuf::from(v)),
            Some(("workdir", v)) => work = Some(PathBuf::from(v)),
            Some(("threads", v)) => {
                threads = v.parse().ok().filter(|n| (1..=64).contains(n)).ok_or_else(|| UsageError::Threads(v.to_string()))?
            }
            _ => return Err(UsageError::Unsupported(o.to_string())),
        }
    }
    Ok(Args {
        cfg: burrow_fs::Config {
            lowers: lowers.ok_or(UsageError::Missing("lowerdir"))?,
            upper: upper.ok_or(UsageError::Missing("upperdir"))?,
            work: work.ok_or(UsageError::Missing("workdir"))?,
        },
        threads,
        mountpoint: mountpoint.ok_or(UsageError::Usage)?,
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("burrow-overlayfs: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mounted = match burrow_fs::spawn_mount_threads(args.cfg, &args.mountpoint, args.threads) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("burrow-overlayfs: {e}");
            return ExitCode::FAILURE;
        }
    };
    match mounted.join() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("burrow-overlayfs: serving ended with an error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, UsageError> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn takes_fuse_overlayfs_options_topmost_first() {
        let a = args("-f -o lowerdir=/top:/bottom,upperdir=/u,workdir=/w,threads=2 /m").unwrap();
        assert_eq!(a.cfg.lowers, [PathBuf::from("/top"), PathBuf::from("/bottom")]);
        assert_eq!((a.cfg.upper, a.cfg.work, a.threads, a.mountpoint), ("/u".into(), "/w".into(), 2, "/m".into()));
    }

    #[test]
    fn refuses_what_it_does_not_do() {
        assert!(matches!(args("-o lowerdir=/l,upperdir=/u,workdir=/w,squash_to_root /m"), Err(UsageError::Unsupported(_))));
        assert!(matches!(args("-o lowerdir=/l,upperdir=/u,workdir=/w,threads=0 /m"), Err(UsageError::Threads(_))));
        assert!(matches!(args("-o upperdir=/u,workdir=/w /m"), Err(UsageError::Missing("lowerdir"))));
        assert!(matches!(args("-x /m"), Err(UsageError::Usage)));
    }
}
