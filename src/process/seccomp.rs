//! Seccomp for the workload, like `docker run --security-opt seccomp=...`.
//!
//! Three parts. `parse_security_opt` reads one `--security-opt` word:
//! `seccomp=unconfined`, `seccomp=builtin`, `seccomp=FILE`,
//! `no-new-privileges[=|:true|false]`; `apparmor=` and `label=` are refused
//! with a message, never ignored, because burrow applies no LSM profile.
//! `prepare` runs in the parent before the container exists and does
//! everything that can fail because of the user's input: it reads and
//! parses a docker JSON profile (`docker_json`) or builds the default one
//! for the container's capabilities (`seccomp_profile`), resolves every
//! call name with libseccomp (names this libseccomp does not know are
//! skipped and logged at trace level), and generates the BPF program for
//! the native architecture plus its 32-bit compat ABIs (x86 and x32 on
//! x86_64, arm on aarch64), as docker does, so that a 32-bit binary is
//! filtered rather than killed. `Prepared::load` is then a single
//! seccomp(2) call with no allocation, made by the container's init.
//!
//! Order in the init (see seccomp(2), SECCOMP_SET_MODE_FILTER): without
//! no_new_privs, installing a filter needs CAP_SYS_ADMIN in the caller's
//! user namespace, and docker does not set no_new_privs unless asked. So
//! the init calls `caps::drop_bounding`, then `Prepared::load` while its
//! effective set is still full, then (with `no-new-privileges`)
//! PR_SET_NO_NEW_PRIVS, then `caps::switch_ids`, `caps::apply_final` and
//! execve. Everything after the load runs under the filter, so the profile
//! must allow setgroups, setresgid, setresuid, prctl, capget, capset,
//! write (to report errors), exit_group and execve; the default profile
//! does, and so does docker's.
//!
//! Known gap: a call newer than this libseccomp's table fails with EPERM,
//! not ENOSYS, so libc cannot fall back from it (runc patches the program
//! for that; burrow does not yet).

mod docker_json;

use std::io::{Read, Seek};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use libseccomp::error::SeccompError;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use nix::errno::Errno;

use super::caps::CapSet;
use super::seccomp_profile::default_profile;
pub use super::seccomp_profile::{Action, ArgCmp, Op, Profile, Rule};
pub use docker_json::{Place, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported security option \"{opt}\": burrow applies no AppArmor or SELinux profile; remove the option")]
    UnsupportedLsm { opt: String },
    #[error("unknown security option \"{opt}\": burrow understands seccomp=unconfined, seccomp=builtin, seccomp=PROFILE.json and no-new-privileges[=true|false]")]
    UnknownOpt { opt: String },
    #[error("invalid security option \"{opt}\": {expected}")]
    BadValue { opt: String, expected: &'static str },
    #[error("cannot read the seccomp profile {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the seccomp profile {path} is invalid: {problem}")]
    Profile { path: PathBuf, problem: Problem },
    #[error("cannot build the seccomp filter ({step}): {source}")]
    Build { step: &'static str, source: SeccompError },
    #[error("cannot add the seccomp rule for {syscall}: {source}: check the profile for conflicting rules on this call")]
    Rule { syscall: String, source: SeccompError },
    #[error("cannot export the seccomp filter: {source}")]
    Export { source: std::io::Error },
    #[error("the seccomp filter has {instructions} instructions, more than the kernel's limit of {limit}: shorten the profile")]
    TooLong { instructions: usize, limit: usize },
    #[error("cannot load the seccomp filter: {source}: the container's init must hold CAP_SYS_ADMIN or have set no_new_privs")]
    Load { source: Errno },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Which filter the workload gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompMode {
    /// burrow's default profile for the container's capabilities.
    Default,
    /// No filter (`seccomp=unconfined`).
    Unconfined,
    /// A docker-format JSON profile.
    File(PathBuf),
}

/// One `--security-opt` that burrow acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    Seccomp(SeccompMode),
    NoNewPrivileges(bool),
}

/// Read one `--security-opt` value (pure). `Ok(None)` for an empty word.
/// Like docker, `=` and the older `:` both separate key and value.
pub fn parse_security_opt(opt: &str) -> Result<Option<SecurityOpt>> {
    let word = opt.trim();
    if word.is_empty() {
        return Ok(None);
    }
    let (key, value) = match word.find(['=', ':']) {
        Some(i) => (&word[..i], Some(&word[i + 1..])),
        None => (word, None),
    };
    let bad = |expected| Error::BadValue { opt: opt.to_string(), expected };
    let parsed = match (key, value) {
        ("no-new-privileges", None) => SecurityOpt::NoNewPrivileges(true),
        ("no-new-privileges", Some(v)) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" => SecurityOpt::NoNewPrivileges(true),
            "false" | "0" => SecurityOpt::NoNewPrivileges(false),
            _ => return Err(bad("use no-new-privileges=true or no-new-privileges=false")),
        },
        ("seccomp", Some("unconfined")) => SecurityOpt::Seccomp(SeccompMode::Unconfined),
        ("seccomp", Some("builtin")) => SecurityOpt::Seccomp(SeccompMode::Default),
        ("seccomp", None | Some("")) => return Err(bad("give seccomp=unconfined or seccomp=PATH to a JSON profile")),
        ("seccomp", Some(path)) => SecurityOpt::Seccomp(SeccompMode::File(PathBuf::from(path))),
        ("apparmor" | "label", _) => return Err(Error::UnsupportedLsm { opt: opt.to_string() }),
        _ => return Err(Error::UnknownOpt { opt: opt.to_string() }),
    };
    Ok(Some(parsed))
}

/// One BPF instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Instruction {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// BPF_MAXINSNS: the kernel refuses longer programs.
const MAX_INSTRUCTIONS: usize = 4096;

/// A filter ready to install: the BPF program, generated in the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    program: Vec<Instruction>,
}

impl Prepared {
    /// Install the filter on the calling thread. Runs in the container's
    /// init right before the final identity switch and execve; see the
    /// module comment for the order. Does not allocate.
    pub fn load(&self) -> Result<()> {
        let prog = libc::sock_fprog {
            // `prepare` checked the length against MAX_INSTRUCTIONS.
            len: self.program.len() as libc::c_ushort,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `len` instructions that stay alive for
        // the call; the kernel copies the program.
        let rc = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) };
        if rc != 0 {
            return Err(Error::Load { source: Errno::last() });
        }
        Ok(())
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }
}

/// Build the filter `mode` asks for, for a container holding `caps`.
/// `Ok(None)` means unconfined.
pub fn prepare(mode: &SeccompMode, caps: &CapSet) -> Result<Option<Prepared>> {
    let native = ScmpArch::native();
    let (profile, arches) = match mode {
        SeccompMode::Unconfined => return Ok(None),
        SeccompMode::Default => (default_profile(caps), compat_arches(native)),
        SeccompMode::File(path) => {
            let parsed = read_profile(path, caps)?;
            let arches = listed_arches(native, &parsed.architectures);
            (parsed.profile, arches)
        }
    };
    let program = compile(&profile, &arches)?;
    tracing::debug!(instructions = program.len(), rules = profile.rules.len(), "seccomp filter prepared");
    Ok(Some(Prepared { program }))
}

/// `prepare` through a cache of compiled programs in `cache_dir`: the
/// compile costs milliseconds (libseccomp), and `run`, each restart and
/// each `exec` would otherwise repeat it. The key is a hash of everything
/// the program depends on (burrow's version, the architecture, the mode,
/// the capabilities, a profile file's bytes); a cached program is read
/// back only if it decodes, and written with `atomic::write`, so a
/// broken or concurrent cache entry is never used half-written. Any cache
/// failure just compiles.
pub fn prepare_cached(mode: &SeccompMode, caps: &CapSet, cache_dir: &Path) -> Result<Option<Prepared>> {
    use sha2::{Digest, Sha256};
    let mut key = Sha256::new();
    key.update(env!("CARGO_PKG_VERSION"));
    key.update(format!("{:?}|{:?}|{:x}", ScmpArch::native(), mode, caps.bits()));
    match mode {
        SeccompMode::Unconfined => return Ok(None),
        SeccompMode::File(path) => {
            let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
            key.update(&bytes);
        }
        SeccompMode::Default => {}
    }
    let name: String = key.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let file = cache_dir.join(format!("{name}.bpf"));
    if let Some(program) = std::fs::read(&file).ok().and_then(|b| decode(&b)).filter(|p| !p.is_empty() && p.len() <= MAX_INSTRUCTIONS) {
        return Ok(Some(Prepared { program }));
    }
    let prepared = prepare(mode, caps)?;
    if let Some(p) = &prepared {
        let bytes: Vec<u8> = p
            .program
            .iter()
            .flat_map(|i| {
                let mut b = Vec::with_capacity(8);
                b.extend_from_slice(&i.code.to_ne_bytes());
                b.extend_from_slice(&[i.jt, i.jf]);
                b.extend_from_slice(&i.k.to_ne_bytes());
                b
            })
            .collect();
        let stored = std::fs::create_dir_all(cache_dir).and_then(|_| crate::atomic::write(&file, &bytes));
        if let Err(e) = stored {
            tracing::debug!(%e, "cannot cache the seccomp program");
        }
    }
    Ok(prepared)
}

fn read_profile(path: &Path, caps: &CapSet) -> Result<docker_json::Parsed> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    docker_json::parse(&text, caps).map_err(|problem| Error::Profile { path: path.to_path_buf(), problem })
}

/// The 32-bit ABIs a native architecture can also run (pure).
fn compat_arches(native: ScmpArch) -> Vec<ScmpArch> {
    match native {
        ScmpArch::X8664 => vec![ScmpArch::X86, ScmpArch::X32],
        ScmpArch::Aarch64 => vec![ScmpArch::Arm],
        _ => Vec::new(),
    }
}

/// The compat ABIs a JSON profile lists; other architectures in the list
/// cannot run here and are skipped (pure).
fn listed_arches(native: ScmpArch, listed: &[String]) -> Vec<ScmpArch> {
    let compat = compat_arches(native);
    listed
        .iter()
        .filter_map(|name| match ScmpArch::from_str(name) {
            Ok(a) if compat.contains(&a) => Some(a),
            Ok(a) if a == native => None,
            _ => {
                tracing::trace!(name = %name, "architecture does not run here: skipped");
                None
            }
        })
        .collect()
}

fn scmp_action(a: Action) -> ScmpAction {
    match a {
        Action::Allow => ScmpAction::Allow,
        Action::Errno(e) => ScmpAction::Errno(i32::from(e)),
        Action::KillThread => ScmpAction::KillThread,
        Action::KillProcess => ScmpAction::KillProcess,
        Action::Trap => ScmpAction::Trap,
        Action::Log => ScmpAction::Log,
        Action::Trace(m) => ScmpAction::Trace(m),
    }
}

fn scmp_cmp(c: &ArgCmp) -> ScmpArgCompare {
    let op = match c.op {
        Op::Eq => ScmpCompareOp::Equal,
        Op::Ne => ScmpCompareOp::NotEqual,
        Op::Lt => ScmpCompareOp::Less,
        Op::Le => ScmpCompareOp::LessOrEqual,
        Op::Gt => ScmpCompareOp::Greater,
        Op::Ge => ScmpCompareOp::GreaterEqual,
        Op::MaskedEq { mask } => ScmpCompareOp::MaskedEqual(mask),
    };
    ScmpArgCompare::new(u32::from(c.index), op, c.value)
}

/// Rules that change anything: libseccomp refuses a rule whose action is
/// the default action, and such a rule means nothing anyway (pure).
fn effective_rules(profile: &Profile) -> impl Iterator<Item = &Rule> {
    profile.rules.iter().filter(move |r| r.action != profile.default)
}

/// Generate the BPF program for `profile` on the native architecture and
/// `extra` ones.
fn compile(profile: &Profile, extra: &[ScmpArch]) -> Result<Vec<Instruction>> {
    let build = |step| move |source| Error::Build { step, source };
    let mut ctx = ScmpFilterContext::new(scmp_action(profile.default)).map_err(build("create"))?;
    // Only libseccomp's own load would use this; burrow loads the program
    // itself and leaves no_new_privs to `--security-opt no-new-privileges`.
    ctx.set_ctl_nnp(false).map_err(build("no_new_privs attribute"))?;
    for arch in extra {
        ctx.add_arch(*arch).map_err(build("add architecture"))?;
    }
    for rule in effective_rules(profile) {
        let action = scmp_action(rule.action);
        let cmps: Vec<ScmpArgCompare> = rule.args.iter().map(scmp_cmp).collect();
        for name in &rule.names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                tracing::trace!(name = %name, "system call unknown to libseccomp: rule skipped");
                continue;
            };
            ctx.add_rule_conditional(action, syscall, &cmps).map_err(|source| Error::Rule { syscall: name.clone(), source })?;
        }
    }
    let program = export(&ctx)?;
    if program.len() > MAX_INSTRUCTIONS {
        return Err(Error::TooLong { instructions: program.len(), limit: MAX_INSTRUCTIONS });
    }
    Ok(program)
}

/// libseccomp 2.5 can only write the program to a descriptor: use a memfd.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<Instruction>> {
    let export_err = |source| Error::Export { source };
    // SAFETY: the name is a NUL-terminated literal.
    let fd = unsafe { libc::memfd_create(c"burrow-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(export_err(std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&file).map_err(|source| Error::Build { step: "generate program", source })?;
    let mut bytes = Vec::new();
    file.rewind().and_then(|_| file.read_to_end(&mut bytes)).map_err(export_err)?;
    decode(&bytes).ok_or_else(|| export_err(std::io::Error::new(std::io::ErrorKind::InvalidData, "program length is not a multiple of 8")))
}

/// Split the exported bytes into instructions, native byte order (pure).
fn decode(bytes: &[u8]) -> Option<Vec<Instruction>> {
    let chunks = bytes.chunks_exact(8);
    if !chunks.remainder().is_empty() {
        return None;
    }
    Some(
        chunks
            .map(|c| Instruction {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use ::caps::Capability;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    use super::*;

    #[test]
    fn the_cache_gives_back_the_compiled_program() {
        let t = tempfile::tempdir().unwrap();
        let caps = CapSet::docker_default();
        let fresh = prepare(&SeccompMode::Default, &caps).unwrap().unwrap();
        let first = prepare_cached(&SeccompMode::Default, &caps, t.path()).unwrap().unwrap();
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1, "one entry written");
        let second = prepare_cached(&SeccompMode::Default, &caps, t.path()).unwrap().unwrap();
        assert_eq!((&first, &second), (&fresh, &fresh));
        // A damaged entry is not used: the program is compiled again.
        let entry = std::fs::read_dir(t.path()).unwrap().next().unwrap().unwrap().path();
        std::fs::write(&entry, b"garbage").unwrap();
        assert_eq!(prepare_cached(&SeccompMode::Default, &caps, t.path()).unwrap().unwrap(), fresh);
        // Other capabilities, another entry.
        let other = prepare_cached(&SeccompMode::Default, &CapSet::all(), t.path()).unwrap().unwrap();
        assert_ne!(other, fresh);
        assert!(prepare_cached(&SeccompMode::Unconfined, &caps, t.path()).unwrap().is_none());
    }

    #[test]
    fn security_opts() {
        let p = |s| parse_security_opt(s).unwrap();
        assert_eq!(p("seccomp=unconfined"), Some(SecurityOpt::Seccomp(SeccompMode::Unconfined)));
        assert_eq!(p("seccomp:unconfined"), Some(SecurityOpt::Seccomp(SeccompMode::Unconfined)));
        assert_eq!(p("seccomp=builtin"), Some(SecurityOpt::Seccomp(SeccompMode::Default)));
        assert_eq!(p("seccomp=/etc/p.json"), Some(SecurityOpt::Seccomp(SeccompMode::File("/etc/p.json".into()))));
        assert_eq!(p("no-new-privileges"), Some(SecurityOpt::NoNewPrivileges(true)));
        assert_eq!(p("no-new-privileges:true"), Some(SecurityOpt::NoNewPrivileges(true)));
        assert_eq!(p("no-new-privileges=false"), Some(SecurityOpt::NoNewPrivileges(false)));
        assert_eq!(p(""), None);
        let e = |s| parse_security_opt(s).unwrap_err().to_string();
        assert!(e("apparmor=unconfined").contains("burrow applies no AppArmor or SELinux profile"));
        assert!(e("label=disable").contains("unsupported security option \"label=disable\""));
        assert!(e("systempaths=unconfined").starts_with("unknown security option"));
        assert!(e("no-new-privileges=maybe").contains("no-new-privileges=true"));
        assert!(e("seccomp=").contains("seccomp=unconfined"));
    }

    #[test]
    fn arches_for_json_profiles() {
        let listed = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_S390X", "bogus"].map(String::from);
        assert_eq!(listed_arches(ScmpArch::X8664, &listed), vec![ScmpArch::X86, ScmpArch::X32]);
        assert_eq!(listed_arches(ScmpArch::Aarch64, &listed), Vec::<ScmpArch>::new());
    }

    #[test]
    fn rules_with_the_default_action_are_dropped() {
        let profile = Profile {
            default: Action::Errno(1),
            rules: vec![
                Rule { names: vec!["read".into()], action: Action::Allow, args: vec![] },
                Rule { names: vec!["mount".into()], action: Action::Errno(1), args: vec![] },
            ],
        };
        assert_eq!(effective_rules(&profile).count(), 1);
        assert!(compile(&profile, &[]).is_ok());
    }

    #[test]
    fn decode_needs_whole_instructions() {
        assert_eq!(decode(&[0; 7]), None);
        let one = decode(&[6, 0, 1, 2, 0, 0, 0xff, 0x7f]).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!((one[0].jt, one[0].jf), (1, 2));
    }

    #[test]
    fn default_profile_compiles_for_every_capability_set() {
        for caps in [CapSet::empty(), CapSet::docker_default(), CapSet::all()] {
            let prepared = prepare(&SeccompMode::Default, &caps).unwrap().unwrap();
            assert!(prepared.len() > 100 && prepared.len() <= MAX_INSTRUCTIONS, "{}", prepared.len());
        }
        assert_eq!(prepare(&SeccompMode::Unconfined, &CapSet::docker_default()).unwrap(), None);
    }

    #[test]
    fn json_file_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                "syscalls": [{"names": ["mount", "no_such_call"], "action": "SCMP_ACT_ERRNO"},
                             {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                              "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}"#,
        )
        .unwrap();
        let mode = SeccompMode::File(good);
        assert!(prepare(&mode, &CapSet::docker_default()).unwrap().is_some());

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}"#).unwrap();
        let msg = prepare(&SeccompMode::File(bad.clone()), &CapSet::docker_default()).unwrap_err().to_string();
        assert_eq!(
            msg,
            format!("the seccomp profile {} is invalid: syscalls[0] names no system call: give \"names\" (or \"name\")", bad.display())
        );
        let missing = dir.path().join("missing.json");
        let msg = prepare(&SeccompMode::File(missing.clone()), &CapSet::docker_default()).unwrap_err().to_string();
        assert!(msg.starts_with(&format!("cannot read the seccomp profile {}:", missing.display())), "{msg}");
    }

    #[test]
    fn errors_can_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_send_sync::<Prepared>();
    }

    /// Exit codes of the probe child: one bit per failed expectation.
    fn probe_under_filter(prepared: &Prepared) -> i32 {
        let mut failures = 0;
        // Only in the child: lets the test run without CAP_SYS_ADMIN.
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        if prepared.load().is_err() {
            return 1;
        }
        let errno = || std::io::Error::last_os_error().raw_os_error();
        // SAFETY: raw system calls with integer arguments; failures expected.
        unsafe {
            if libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno() != Some(libc::EPERM) {
                failures |= 2;
            }
            if libc::unshare(libc::CLONE_NEWUSER) != -1 || errno() != Some(libc::EPERM) {
                failures |= 4;
            }
            if libc::syscall(libc::SYS_getpid) <= 0 {
                failures |= 8;
            }
            if libc::syscall(libc::SYS_clone3, 0, 0) != -1 || errno() != Some(libc::ENOSYS) {
                failures |= 16;
            }
            if libc::syscall(libc::SYS_io_uring_setup, 1, 0) != -1 || errno() != Some(libc::EPERM) {
                failures |= 32;
            }
        }
        failures
    }

    #[test]
    fn loaded_default_filter_denies_and_allows() {
        let prepared = prepare(&SeccompMode::Default, &CapSet::docker_default()).unwrap().unwrap();
        // SAFETY: the child only makes raw system calls and `_exit`s; the
        // program was generated before the fork, so it does not allocate.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = probe_under_filter(&prepared);
                // SAFETY: leave without running the test harness's code.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn sys_admin_profile_allows_namespaces() {
        let mut caps = CapSet::docker_default();
        caps.insert(Capability::CAP_SYS_ADMIN);
        let profile = default_profile(&caps);
        assert_eq!(profile.decide("unshare", &[0; 6]), Action::Allow);
        assert!(prepare(&SeccompMode::Default, &caps).unwrap().is_some());
    }
}
