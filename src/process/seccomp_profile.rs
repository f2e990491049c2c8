//! Seccomp profiles as plain data, and burrow's default profile.
//!
//! A `Profile` is a default action plus rules; a rule gives an action to a
//! list of system calls by name, optionally only when all its argument
//! comparisons hold (the model of seccomp_rule_add(3)). Nothing here talks
//! to libseccomp or the kernel: `seccomp` compiles a profile, and the
//! docker JSON reader in `seccomp::docker_json` produces one.
//!
//! `default_profile` follows the semantics of docker's default profile
//! (moby's profiles/seccomp), written from the system call list of
//! syscalls(2) rather than copied: anything not listed fails with EPERM;
//! ordinary file, memory, signal, time, socket, process and IPC calls are
//! allowed, for both the 64-bit ABI and the 32-bit compat ABI names
//! (`_llseek`, `fcntl64`, `socketcall`, `*_time64`, ...) since the filter
//! also covers the compat architecture. Calls that reach outside the
//! container are allowed only with the capability the kernel itself would
//! ask for: namespaces and mounts with CAP_SYS_ADMIN, ptrace-like calls
//! with CAP_SYS_PTRACE, reboot and kexec with CAP_SYS_BOOT, modules with
//! CAP_SYS_MODULE, and so on. Some calls are never allowed because the
//! kernel does not namespace what they touch: the keyring (`keyctl`,
//! `add_key`, `request_key`), io_uring (its operations bypass this very
//! filter), `modify_ldt`, `uselib` and obsolete interfaces. `clone` is
//! allowed without namespace flags, `clone3` answers ENOSYS so that libc
//! falls back to `clone` (seccomp cannot look into clone3's struct),
//! `personality` accepts only the ordinary personas and `socket` refuses
//! AF_VSOCK, which would reach the host.
//!
//! Stricter than current docker in one respect, as burrow's design asks:
//! `ptrace` and `process_vm_readv/writev` need CAP_SYS_PTRACE even on
//! kernels (4.8+) where ptrace can no longer bypass seccomp.

use ::caps::Capability;

use super::caps::CapSet;

/// What the filter does with a call (seccomp(2), "Filter return values").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Fail the call with this errno, without running it.
    Errno(u16),
    KillThread,
    KillProcess,
    /// Send SIGSYS.
    Trap,
    /// Allow and log.
    Log,
    /// Notify a ptrace tracer with this message; without a tracer the
    /// kernel fails the call with ENOSYS.
    Trace(u16),
}

/// A comparison of one argument (seccomp_rule_add(3), SCMP_CMP_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq {
        mask: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCmp {
    /// Argument number, 0 to 5.
    pub index: u8,
    pub op: Op,
    pub value: u64,
}

impl ArgCmp {
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        let a = args[usize::from(self.index).min(5)];
        match self.op {
            Op::Eq => a == self.value,
            Op::Ne => a != self.value,
            Op::Lt => a < self.value,
            Op::Le => a <= self.value,
            Op::Gt => a > self.value,
            Op::Ge => a >= self.value,
            Op::MaskedEq { mask } => a & mask == self.value,
        }
    }
}

/// `action` for each call in `names` when every comparison in `args` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<ArgCmp>,
}

impl Rule {
    fn new(names: &[&str], action: Action) -> Self {
        Rule { names: names.iter().map(|n| n.to_string()).collect(), action, args: Vec::new() }
    }

    fn when(mut self, index: u8, op: Op, value: u64) -> Self {
        self.args.push(ArgCmp { index, op, value });
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub default: Action,
    pub rules: Vec<Rule>,
}

impl Profile {
    /// What the profile decides for `name` called with `args`: the first
    /// matching rule's action, else the default. The kernel filter gives
    /// the same answer as long as no call has rules with different actions
    /// whose conditions overlap (true of the default profile; a tested
    /// property). Used by tests and diagnostics.
    pub fn decide(&self, name: &str, args: &[u64; 6]) -> Action {
        self.rules
            .iter()
            .find(|r| r.names.iter().any(|n| n == name) && r.args.iter().all(|c| c.holds(args)))
            .map_or(self.default, |r| r.action)
    }
}

const EPERM: u16 = libc::EPERM as u16;
const ENOSYS: u16 = libc::ENOSYS as u16;

/// Namespace flags of clone(2); any of them needs CAP_SYS_ADMIN.
pub const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// personality(2) values a container may set: PER_LINUX, PER_LINUX32,
/// UNAME26, UNAME26|PER_LINUX32, and the query value 0xffffffff.
pub const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

const AF_VSOCK: u64 = libc::AF_VSOCK as u64;

/// Calls allowed to every container, by area.
#[rustfmt::skip]
const ALWAYS: &[&[&str]] = &[
    // Reading and writing.
    &[
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
        "lseek", "_llseek", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range", "readahead",
        "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "sync_file_range2", "arm_sync_file_range",
        "fadvise64", "fadvise64_64", "arm_fadvise64_64", "fallocate", "truncate", "truncate64", "ftruncate",
        "ftruncate64", "cachestat",
    ],
    // Descriptors.
    &[
        "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "fcntl64",
        "flock", "ioctl", "pipe", "pipe2", "memfd_create", "memfd_secret", "eventfd", "eventfd2", "signalfd",
        "signalfd4", "timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime",
        "timerfd_gettime64", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        "fanotify_mark", "name_to_handle_at",
    ],
    // Metadata and directories.
    &[
        "stat", "stat64", "fstat", "fstat64", "lstat", "lstat64", "newfstatat", "fstatat64", "statx", "statfs",
        "statfs64", "fstatfs", "fstatfs64", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
        "getdents", "getdents64", "getcwd", "chdir", "fchdir", "rename", "renameat", "renameat2", "mkdir",
        "mkdirat", "rmdir", "link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "mknod", "mknodat",
        "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown", "fchown32", "lchown", "lchown32",
        "fchownat", "umask", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat", "getxattr",
        "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr", "fsetxattr", "setxattrat", "listxattr",
        "llistxattr", "flistxattr", "listxattrat", "removexattr", "lremovexattr", "fremovexattr",
        "removexattrat", "statmount", "listmount",
    ],
    // Memory.
    &[
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "pkey_mprotect", "pkey_alloc", "pkey_free",
        "madvise", "process_madvise", "mincore", "msync", "mlock", "mlock2", "munlock", "mlockall", "munlockall",
        "membarrier", "remap_file_pages", "mseal", "map_shadow_stack",
    ],
    // Signals.
    &[
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_sigsuspend", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaction",
        "sigprocmask", "sigreturn", "sigpending", "sigsuspend", "signal", "sigaltstack", "kill", "tkill",
        "tgkill", "pause", "alarm", "pidfd_open", "pidfd_send_signal",
    ],
    // Time.
    &[
        "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64", "clock_nanosleep",
        "clock_nanosleep_time64", "gettimeofday", "time", "nanosleep", "times", "adjtimex", "getitimer",
        "setitimer", "timer_create", "timer_settime", "timer_settime64", "timer_gettime", "timer_gettime64",
        "timer_getoverrun", "timer_delete",
    ],
    // Waiting for events.
    &[
        "poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64", "epoll_create",
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "futex", "futex_time64",
        "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "set_robust_list", "get_robust_list",
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64",
    ],
    // Sockets (`socket` itself is conditional).
    &[
        "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername", "sendto",
        "recvfrom", "send", "recv", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64", "shutdown",
        "setsockopt", "getsockopt", "socketcall",
    ],
    // Processes and threads (`clone`, `clone3` are conditional).
    &[
        "execve", "execveat", "fork", "vfork", "exit", "exit_group", "wait4", "waitid", "waitpid",
        "restart_syscall", "set_tid_address", "set_thread_area", "get_thread_area", "arch_prctl", "rseq",
        "prctl", "seccomp", "capget", "capset", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp",
        "getsid", "setsid", "getpriority", "setpriority", "nice", "ioprio_get", "ioprio_set", "sched_yield",
        "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam", "sched_getscheduler",
        "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
        "sched_rr_get_interval_time64", "sched_getattr", "sched_setattr", "getrlimit", "ugetrlimit",
        "setrlimit", "prlimit64", "getrusage", "getrandom", "getcpu", "uname", "sysinfo", "process_mrelease",
        "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "lsm_get_self_attr",
        "lsm_set_self_attr", "lsm_list_modules",
    ],
    // Identity.
    &[
        "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32", "getresuid",
        "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid", "setuid32", "setgid",
        "setgid32", "setreuid", "setreuid32", "setregid", "setregid32", "setresuid", "setresuid32", "setresgid",
        "setresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32",
    ],
    // System V and POSIX IPC.
    &[
        "ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semtimedop_time64",
        "semctl", "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
        "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
    ],
    // Architecture helpers (32-bit arm).
    &["breakpoint", "cacheflush", "set_tls"],
];

/// Calls allowed only when the container holds one of the capabilities.
#[rustfmt::skip]
const WITH_CAPABILITY: &[(&[Capability], &[&str])] = &[
    (
        &[Capability::CAP_SYS_ADMIN],
        &[
            "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
            "move_mount", "open_tree", "mount_setattr", "sethostname", "setdomainname", "quotactl", "quotactl_fd",
            "lookup_dcookie", "fanotify_init", "swapon", "swapoff",
        ],
    ),
    (&[Capability::CAP_BPF, Capability::CAP_SYS_ADMIN], &["bpf"]),
    (&[Capability::CAP_PERFMON, Capability::CAP_SYS_ADMIN], &["perf_event_open"]),
    (&[Capability::CAP_SYS_CHROOT], &["chroot"]),
    (
        &[Capability::CAP_SYS_PTRACE],
        &["ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "userfaultfd"],
    ),
    (&[Capability::CAP_SYS_BOOT], &["reboot", "kexec_load", "kexec_file_load"]),
    (&[Capability::CAP_SYS_MODULE], &["init_module", "finit_module", "delete_module"]),
    (&[Capability::CAP_SYS_PACCT], &["acct"]),
    (&[Capability::CAP_SYS_RAWIO], &["iopl", "ioperm"]),
    (
        &[Capability::CAP_SYS_TIME],
        &["settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64"],
    ),
    (&[Capability::CAP_SYS_TTY_CONFIG], &["vhangup"]),
    (
        &[Capability::CAP_SYS_NICE],
        &["get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind", "migrate_pages", "move_pages"],
    ),
    (&[Capability::CAP_SYSLOG], &["syslog"]),
    (&[Capability::CAP_DAC_READ_SEARCH], &["open_by_handle_at"]),
];

/// Calls no container gets from the default profile, whatever its
/// capabilities (documentation for readers and tests; the default action
/// already refuses them).
#[cfg(test)]
#[rustfmt::skip]
pub const NEVER: &[&str] = &[
    "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "modify_ldt",
    "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl", "vm86", "vm86old", "create_module", "get_kernel_syms",
    "query_module", "afs_syscall", "tuxcall", "security", "getpmsg", "putpmsg",
];

/// burrow's default profile for a container holding `caps` (pure).
pub fn default_profile(caps: &CapSet) -> Profile {
    let has = |c: Capability| caps.contains(c);
    let mut rules = vec![Rule::new(&ALWAYS.concat(), Action::Allow)];
    for value in PERSONALITIES {
        rules.push(Rule::new(&["personality"], Action::Allow).when(0, Op::Eq, value));
    }
    rules.push(Rule::new(&["socket"], Action::Allow).when(0, Op::Ne, AF_VSOCK));
    if has(Capability::CAP_SYS_ADMIN) {
        rules.push(Rule::new(&["clone", "clone3"], Action::Allow));
    } else {
        // The flags are clone's first argument on x86 and arm alike.
        rules.push(Rule::new(&["clone"], Action::Allow).when(0, Op::MaskedEq { mask: CLONE_NAMESPACE_FLAGS }, 0));
        rules.push(Rule::new(&["clone3"], Action::Errno(ENOSYS)));
    }
    for (needs, names) in WITH_CAPABILITY {
        if needs.iter().any(|c| has(*c)) {
            rules.push(Rule::new(names, Action::Allow));
        }
    }
    Profile { default: Action::Errno(EPERM), rules }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const NO_ARGS: [u64; 6] = [0; 6];

    fn with(extra: &[Capability]) -> CapSet {
        let mut set = CapSet::docker_default();
        for c in extra {
            set.insert(*c);
        }
        set
    }

    fn allowed(p: &Profile, name: &str) -> bool {
        p.decide(name, &NO_ARGS) == Action::Allow
    }

    #[test]
    fn ordinary_workload_calls_are_allowed() {
        let p = default_profile(&CapSet::docker_default());
        for name in [
            "execve",
            "openat",
            "newfstatat",
            "statx",
            "getdents64",
            "rt_sigaction",
            "rt_sigprocmask",
            "wait4",
            "exit_group",
            "set_tid_address",
            "set_robust_list",
            "rseq",
            "prlimit64",
            "futex",
            "clock_gettime",
            "clock_nanosleep",
            "getrandom",
            "pipe2",
            "dup3",
            "epoll_pwait",
            "ppoll",
            "pselect6",
            "ioctl",
            "fcntl",
            "connect",
            "bind",
            "sendmsg",
            "capget",
            "capset",
            "prctl",
            "setresuid",
            "setgroups",
            "fchownat",
            "close_range",
            "faccessat2",
            "fchmodat2",
            "chroot",
            "mknodat",
        ] {
            assert!(allowed(&p, name), "{name} should be allowed");
        }
        assert!(p.decide("socket", &[libc::AF_INET as u64, 1, 0, 0, 0, 0]) == Action::Allow);
    }

    #[test]
    fn namespaces_and_mounts_need_sys_admin() {
        let plain = default_profile(&CapSet::docker_default());
        let admin = default_profile(&with(&[Capability::CAP_SYS_ADMIN]));
        for name in ["unshare", "setns", "mount", "umount2", "pivot_root", "sethostname", "move_mount", "fsopen"] {
            assert_eq!(plain.decide(name, &NO_ARGS), Action::Errno(EPERM), "{name}");
            assert!(allowed(&admin, name), "{name} with CAP_SYS_ADMIN");
        }
    }

    #[test]
    fn clone_is_masked_without_sys_admin() {
        let plain = default_profile(&CapSet::docker_default());
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        assert_eq!(plain.decide("clone", &[thread, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(plain.decide("clone", &[libc::SIGCHLD as u64, 0, 0, 0, 0, 0]), Action::Allow);
        let newuser = libc::CLONE_NEWUSER as u64 | libc::SIGCHLD as u64;
        assert_eq!(plain.decide("clone", &[newuser, 0, 0, 0, 0, 0]), Action::Errno(EPERM));
        assert_eq!(plain.decide("clone3", &NO_ARGS), Action::Errno(ENOSYS));
        let clone = plain.rules.iter().find(|r| r.names == ["clone"]).unwrap();
        assert_eq!(clone.args, vec![ArgCmp { index: 0, op: Op::MaskedEq { mask: CLONE_NAMESPACE_FLAGS }, value: 0 }]);

        let admin = default_profile(&with(&[Capability::CAP_SYS_ADMIN]));
        assert_eq!(admin.decide("clone", &[newuser, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(admin.decide("clone3", &NO_ARGS), Action::Allow);
    }

    #[test]
    fn capability_gated_calls() {
        let plain = default_profile(&CapSet::docker_default());
        let cases = [
            (Capability::CAP_SYS_PTRACE, "ptrace"),
            (Capability::CAP_SYS_PTRACE, "process_vm_readv"),
            (Capability::CAP_SYS_PTRACE, "kcmp"),
            (Capability::CAP_SYS_BOOT, "reboot"),
            (Capability::CAP_SYS_MODULE, "finit_module"),
            (Capability::CAP_SYS_TIME, "settimeofday"),
            (Capability::CAP_SYS_RAWIO, "iopl"),
            (Capability::CAP_SYS_PACCT, "acct"),
            (Capability::CAP_DAC_READ_SEARCH, "open_by_handle_at"),
            (Capability::CAP_BPF, "bpf"),
            (Capability::CAP_SYS_ADMIN, "bpf"),
            (Capability::CAP_PERFMON, "perf_event_open"),
        ];
        for (cap, name) in cases {
            assert!(!allowed(&plain, name), "{name} without {cap}");
            assert!(allowed(&default_profile(&with(&[cap])), name), "{name} with {cap}");
        }
        let no_chroot = resolve_without(Capability::CAP_SYS_CHROOT);
        assert!(!allowed(&default_profile(&no_chroot), "chroot"));
    }

    fn resolve_without(cap: Capability) -> CapSet {
        let mut set = CapSet::docker_default();
        set.remove(cap);
        set
    }

    #[test]
    fn never_allowed_even_with_every_capability() {
        let all = default_profile(&CapSet::all());
        for name in NEVER {
            assert!(!allowed(&all, name), "{name}");
        }
        assert!(!allowed(&all, "io_uring_setup"));
        assert!(!allowed(&all, "keyctl"));
    }

    #[test]
    fn personality_and_vsock_are_limited() {
        let p = default_profile(&CapSet::docker_default());
        for v in PERSONALITIES {
            assert_eq!(p.decide("personality", &[v, 0, 0, 0, 0, 0]), Action::Allow);
        }
        // ADDR_NO_RANDOMIZE is refused.
        assert_eq!(p.decide("personality", &[0x0040000, 0, 0, 0, 0, 0]), Action::Errno(EPERM));
        assert_eq!(p.decide("socket", &[AF_VSOCK, 1, 0, 0, 0, 0]), Action::Errno(EPERM));
    }

    #[test]
    fn lists_name_each_call_once() {
        let mut names: Vec<&str> = ALWAYS.concat();
        names.extend(WITH_CAPABILITY.iter().flat_map(|(_, n)| n.iter().copied()));
        names.extend(NEVER);
        names.extend(["personality", "socket", "clone", "clone3"]);
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a call is listed twice");
    }

    #[test]
    fn no_call_has_two_different_actions() {
        let p = default_profile(&CapSet::all());
        let mut seen: BTreeMap<&str, Action> = BTreeMap::new();
        for r in &p.rules {
            for n in &r.names {
                if let Some(prev) = seen.insert(n, r.action) {
                    assert_eq!(prev, r.action, "{n} has conflicting actions");
                }
            }
        }
        for n in NEVER {
            assert!(!seen.contains_key(n), "{n} is listed");
        }
    }
}
