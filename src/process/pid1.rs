//! A minimal init for `--init`, as docker's tini-based `--init` behaves.
//!
//! The container's PID 1 gets no default signal actions from the kernel,
//! and orphans are reparented to it. This init blocks every signal and
//! waits for them synchronously (sigwaitinfo(2)): SIGCHLD reaps every
//! exited child, and when the workload itself exits, init exits with the
//! workload's status (128+N for a signal). Every other catchable signal is
//! forwarded to the workload, so SIGTERM reaches an application that is not
//! PID 1 and would otherwise get it with its default action.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub fn run(workload: Pid) -> ! {
    let all = SigSet::all();
    let _ = all.thread_block();
    // SAFETY: naming the process is a plain prctl.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"burrow-init".as_ptr(), 0, 0, 0) };
    loop {
        // Reap first: the workload may have exited before we blocked.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == workload => std::process::exit(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == workload => std::process::exit(128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        let Ok(sig) = all.wait() else { continue };
        if sig != Signal::SIGCHLD {
            let _ = kill(workload, sig);
        }
    }
}
