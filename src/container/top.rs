//! `top`: the processes of a running container.
//!
//! A process belongs to the container when its pid namespace is the one
//! of the container's first process (compared by the namespace's inode,
//! read from `/proc/PID/ns/pid`; the caller owns the container's user
//! namespace, so the kernel lets it read these links). docker's way of
//! showing them is kept: run `ps` on the host with the user's options
//! (default `-ef`) and keep the rows whose PID column is one of them
//! (`filter_ps`, pure).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the processes of the container: {source}")]
    Proc { source: std::io::Error },
    #[error("ps printed no PID column: give ps options that include the pid (e.g. -ef or -o pid,args)")]
    NoPidColumn,
}

/// The host pids of every process in the pid namespace of `init`.
pub fn pids(init: i32) -> Result<HashSet<i32>, Error> {
    let ns = |pid: i32| std::fs::metadata(format!("/proc/{pid}/ns/pid")).map(|m| (m.dev(), m.ino()));
    let target = ns(init).map_err(|source| Error::Proc { source })?;
    let entries = std::fs::read_dir("/proc").map_err(|source| Error::Proc { source })?;
    Ok(entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| ns(*pid).is_ok_and(|n| n == target))
        .collect())
}

/// Keep the header and the rows of `ps` output whose PID is in `pids`.
pub fn filter_ps(output: &str, pids: &HashSet<i32>) -> Result<String, Error> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let column = header.split_whitespace().position(|h| h == "PID").ok_or(Error::NoPidColumn)?;
    let mut out = format!("{header}\n");
    for line in lines {
        if line.split_whitespace().nth(column).and_then(|p| p.parse().ok()).is_some_and(|p: i32| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_by_pid_column() {
        let ps =
            "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\n100000 4242 4200 0 10:01 ? 00:00:00 sleep 100\n";
        let got = filter_ps(ps, &HashSet::from([4242])).unwrap();
        assert_eq!(got, "UID PID PPID C STIME TTY TIME CMD\n100000 4242 4200 0 10:01 ? 00:00:00 sleep 100\n");
        assert!(matches!(filter_ps("USER COMMAND\nx y\n", &HashSet::new()), Err(Error::NoPidColumn)));
    }

    #[test]
    fn this_process_is_in_its_own_namespace() {
        let me = std::process::id() as i32;
        assert!(pids(me).unwrap().contains(&me));
    }
}
