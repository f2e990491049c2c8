//! Reading docker's seccomp profile format (`--security-opt seccomp=FILE`).
//!
//! The format is the one of docker's `profiles/seccomp/default.json` and the
//! OCI runtime spec's `linux.seccomp`, with docker's extras: a top-level
//! `defaultAction`, `defaultErrnoRet` and `architectures`, then `syscalls`
//! entries with `names` (or the older single `name`), `action`, `errnoRet`,
//! `args` and `includes`/`excludes`. An entry counts only if the container
//! holds every capability in `includes.caps` and none in `excludes.caps`,
//! and if `includes.arches`/`excludes.arches` (docker's names: amd64,
//! arm64, ...) admit the machine burrow runs on; `minKernel` is not checked
//! and is logged at trace level. Arguments follow the OCI rules: when all
//! of an entry's comparisons are on different arguments they must all hold;
//! when an argument appears twice, each comparison makes a rule of its own
//! (any may hold), which is how profiles say "arg0 is A or B". For
//! SCMP_CMP_MASKED_EQ, `value` is the mask and `valueTwo` what the masked
//! argument must equal.
//!
//! Actions: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO (errno from `errnoRet`, EPERM by
//! default), SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS,
//! SCMP_ACT_TRAP, SCMP_ACT_LOG and SCMP_ACT_TRACE (message from
//! `errnoRet`, EPERM by default, like runc; burrow attaches no tracer, so
//! the kernel fails such calls with ENOSYS). SCMP_ACT_NOTIFY is refused:
//! it needs a seccomp agent, which burrow does not run. Unknown fields are
//! ignored, as docker does. Parsing is pure; reading the file is the
//! caller's business.

use std::fmt;
use std::str::FromStr;

use ::caps::Capability;
use serde::Deserialize;

use super::super::caps::CapSet;
use super::super::seccomp_profile::{Action, ArgCmp, Op, Profile, Rule};

/// Where in the file a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    DefaultAction,
    /// The n-th entry of `syscalls`, from 0.
    Entry(usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::DefaultAction => f.write_str("defaultAction"),
            Place::Entry(i) => write!(f, "syscalls[{i}]"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("not a docker seccomp profile: {source}")]
    Json { source: serde_json::Error },
    #[error("unknown action \"{action}\" in {place}: use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG or SCMP_ACT_TRACE")]
    UnknownAction { place: Place, action: String },
    #[error("SCMP_ACT_NOTIFY in {place} needs a seccomp agent, which burrow does not run: use another action")]
    Notify { place: Place },
    #[error("errno {errno} in {place} is out of range: use a value from 0 to 65535")]
    ErrnoRange { place: Place, errno: u64 },
    #[error("unknown comparison \"{op}\" in {place}: use SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT, SCMP_CMP_GE or SCMP_CMP_MASKED_EQ")]
    UnknownOp { place: Place, op: String },
    #[error("argument index {index} in {place} is out of range: system calls have arguments 0 to 5")]
    ArgIndex { place: Place, index: u64 },
    #[error("{place} names no system call: give \"names\" (or \"name\")")]
    NoNames { place: Place },
}

/// A parsed profile and the architectures it lists (`SCMP_ARCH_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub profile: Profile,
    pub architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileRepr {
    default_action: String,
    default_errno_ret: Option<u64>,
    architectures: Option<Vec<String>>,
    syscalls: Option<Vec<EntryRepr>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryRepr {
    names: Option<Vec<String>>,
    name: Option<String>,
    action: String,
    errno_ret: Option<u64>,
    args: Option<Vec<ArgRepr>>,
    includes: Option<FilterRepr>,
    excludes: Option<FilterRepr>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArgRepr {
    index: u64,
    value: u64,
    value_two: Option<u64>,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct FilterRepr {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

/// docker's names for the machine burrow runs on.
fn native_docker_arches() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "x86_64" => &["amd64", "x86_64"],
        "aarch64" => &["arm64", "aarch64"],
        "x86" => &["386", "x86"],
        "arm" => &["arm"],
        "riscv64" => &["riscv64"],
        "s390x" => &["s390x"],
        "powerpc64" => &["ppc64le", "ppc64"],
        _ => &[],
    }
}

fn action(name: &str, errno: Option<u64>, place: Place) -> Result<Action, Problem> {
    let errno = || -> Result<u16, Problem> {
        let e = errno.unwrap_or(libc::EPERM as u64);
        u16::try_from(e).map_err(|_| Problem::ErrnoRange { place, errno: e })
    };
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno()?),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_TRACE" => Action::Trace(errno()?),
        "SCMP_ACT_NOTIFY" => return Err(Problem::Notify { place }),
        other => return Err(Problem::UnknownAction { place, action: other.to_string() }),
    })
}

fn arg(a: &ArgRepr, place: Place) -> Result<ArgCmp, Problem> {
    let index = u8::try_from(a.index).ok().filter(|i| *i <= 5).ok_or(Problem::ArgIndex { place, index: a.index })?;
    let (op, value) = match a.op.as_str() {
        "SCMP_CMP_EQ" => (Op::Eq, a.value),
        "SCMP_CMP_NE" => (Op::Ne, a.value),
        "SCMP_CMP_LT" => (Op::Lt, a.value),
        "SCMP_CMP_LE" => (Op::Le, a.value),
        "SCMP_CMP_GT" => (Op::Gt, a.value),
        "SCMP_CMP_GE" => (Op::Ge, a.value),
        "SCMP_CMP_MASKED_EQ" => (Op::MaskedEq { mask: a.value }, a.value_two.unwrap_or(0)),
        other => return Err(Problem::UnknownOp { place, op: other.to_string() }),
    };
    Ok(ArgCmp { index, op, value })
}

/// Whether the capability named `name` is in `caps`; names unknown to
/// burrow count as absent.
fn holds(caps: &CapSet, name: &str) -> bool {
    match Capability::from_str(&::caps::to_canonical(name)) {
        Ok(c) => caps.contains(c),
        Err(_) => {
            tracing::trace!(name, "unknown capability in a seccomp profile condition: treated as not held");
            false
        }
    }
}

/// Whether an entry applies to a container holding `caps` on this machine.
fn applies(includes: &FilterRepr, excludes: &FilterRepr, caps: &CapSet, place: Place) -> bool {
    let native = native_docker_arches();
    let on_native = |arches: &[String]| arches.iter().any(|a| native.contains(&a.as_str()));
    if let Some(k) = includes.min_kernel.as_ref().or(excludes.min_kernel.as_ref()) {
        tracing::trace!(%place, min_kernel = %k, "minKernel is not checked");
    }
    let inc_caps = includes.caps.as_deref().unwrap_or_default();
    let exc_caps = excludes.caps.as_deref().unwrap_or_default();
    let inc_arches = includes.arches.as_deref().unwrap_or_default();
    let exc_arches = excludes.arches.as_deref().unwrap_or_default();
    inc_caps.iter().all(|c| holds(caps, c))
        && !exc_caps.iter().any(|c| holds(caps, c))
        && (inc_arches.is_empty() || on_native(inc_arches))
        && !on_native(exc_arches)
}

/// Turn docker profile JSON into a profile for a container holding `caps`.
pub fn parse(text: &str, caps: &CapSet) -> Result<Parsed, Problem> {
    let file: FileRepr = serde_json::from_str(text).map_err(|source| Problem::Json { source })?;
    let default = action(&file.default_action, file.default_errno_ret, Place::DefaultAction)?;
    let mut rules = Vec::new();
    for (i, entry) in file.syscalls.unwrap_or_default().into_iter().enumerate() {
        let place = Place::Entry(i);
        let mut names = entry.names.unwrap_or_default();
        names.extend(entry.name);
        if names.is_empty() {
            return Err(Problem::NoNames { place });
        }
        let act = action(&entry.action, entry.errno_ret, place)?;
        let args = entry.args.unwrap_or_default().iter().map(|a| arg(a, place)).collect::<Result<Vec<_>, _>>()?;
        if !applies(&entry.includes.unwrap_or_default(), &entry.excludes.unwrap_or_default(), caps, place) {
            continue;
        }
        let mut indexes: Vec<u8> = args.iter().map(|a| a.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        if indexes.len() == args.len() {
            rules.push(Rule { names, action: act, args });
        } else {
            for a in args {
                rules.push(Rule { names: names.clone(), action: act, args: vec![a] });
            }
        }
    }
    Ok(Parsed { profile: Profile { default, rules }, architectures: file.architectures.unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "args": null},
            {"name": "getpid", "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone", "unshare"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["only_elsewhere"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
            {"names": ["kill"], "action": "SCMP_ACT_TRACE"}
        ]
    }"#;

    fn names(p: &Profile) -> Vec<String> {
        p.rules.iter().flat_map(|r| r.names.clone()).collect()
    }

    #[test]
    fn parses_docker_format_with_capability_conditions() {
        let plain = parse(SAMPLE, &CapSet::docker_default()).unwrap();
        assert_eq!(plain.profile.default, Action::Errno(1));
        assert_eq!(plain.architectures.len(), 3);
        let n = names(&plain.profile);
        assert!(n.contains(&"getpid".to_string()));
        assert!(n.contains(&"ptrace".to_string()));
        assert!(!n.contains(&"unshare".to_string()));
        assert!(!n.contains(&"only_elsewhere".to_string()));
        let p = &plain.profile;
        assert_eq!(p.decide("clone", &[0x11, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(p.decide("clone", &[libc::CLONE_NEWNET as u64, 0, 0, 0, 0, 0]), Action::Errno(1));
        assert_eq!(p.decide("clone3", &[0; 6]), Action::Errno(38));
        assert_eq!(p.decide("kill", &[0; 6]), Action::Trace(1));
        // Two comparisons on arg 0 mean "either".
        assert_eq!(p.decide("personality", &[8, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(p.decide("personality", &[0, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(p.decide("personality", &[9, 0, 0, 0, 0, 0]), Action::Errno(1));

        let mut admin_caps = CapSet::docker_default();
        admin_caps.insert(Capability::CAP_SYS_ADMIN);
        let admin = parse(SAMPLE, &admin_caps).unwrap().profile;
        assert_eq!(admin.decide("unshare", &[0; 6]), Action::Allow);
        assert_eq!(admin.decide("clone", &[libc::CLONE_NEWNET as u64, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(admin.decide("clone3", &[0; 6]), Action::Errno(1));
    }

    #[test]
    fn default_errno_is_eperm() {
        let p = parse(r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#, &CapSet::empty()).unwrap();
        assert_eq!(p.profile.default, Action::Errno(libc::EPERM as u16));
        assert!(p.profile.rules.is_empty());
    }

    fn problem(text: &str) -> String {
        parse(text, &CapSet::docker_default()).unwrap_err().to_string()
    }

    #[test]
    fn bad_profiles_say_what_is_wrong() {
        assert!(problem("{").starts_with("not a docker seccomp profile:"));
        assert!(problem(r#"{"syscalls": []}"#).contains("defaultAction"));
        assert!(problem(r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#).contains("unknown action \"SCMP_ACT_BOGUS\" in defaultAction"));
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["open"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#;
        assert_eq!(problem(text), "argument index 7 in syscalls[1] is out of range: system calls have arguments 0 to 5");
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["open"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}"#;
        assert!(problem(text).contains("unknown comparison \"SCMP_CMP_SOMETIMES\" in syscalls[0]"));
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#;
        assert!(problem(text).contains("syscalls[0] names no system call"));
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_NOTIFY"}]}"#;
        assert!(problem(text).contains("needs a seccomp agent"));
        let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}"#;
        assert!(problem(text).contains("errno 70000 in defaultAction is out of range"));
    }
}
