//! What `/proc` says about a process, read without side effects: the
//! start time that tells a live process from a reused pid (proc(5),
//! `/proc/PID/stat` field 22).

use std::fs;

/// The start time of a live process, in clock ticks since boot; `None`
/// for no process or a zombie (dead, waiting for a parent to reap it).
pub fn process_start(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let mut fields = stat[stat.rfind(')')? + 2..].split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_this_process() {
        let me = std::process::id() as i32;
        let start = process_start(me).unwrap();
        assert_eq!(process_start(me), Some(start));
        assert_eq!(process_start(i32::MAX), None);
    }
}
