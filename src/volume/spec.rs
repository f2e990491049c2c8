//! Parsing the mount flags of `run` into requests (pure).
//!
//! The grammar is docker's: `-v [SOURCE:]TARGET[:MODE]` where SOURCE is an
//! absolute host path (a bind) or a volume name, and no SOURCE makes an
//! anonymous volume; `--mount key=value,...` with `type=volume|bind|tmpfs`;
//! `--tmpfs TARGET[:OPTIONS]`; `--volumes-from CONTAINER[:ro|rw]`. Targets
//! are cleaned lexically (`/a/./b/` → `/a/b`) and must be absolute, not
//! `/`, and not at or under /proc or /sys (burrow mounts those itself).
//! What burrow does not implement (propagation other than private,
//! `:z`/`:Z`, volume options and subpaths, other drivers) is refused, never
//! ignored.

use std::path::PathBuf;

use super::{Error, Result};
pub use crate::model::volume::{MountKind, MountRequest, TmpfsOptions, VolumesFrom};

/// docker's volume name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Clean a container path lexically and check docker's rules for a target.
pub fn clean_target(target: &str) -> Result<String> {
    let bad = |reason: &str| Err(Error::Target { target: target.to_string(), reason: reason.to_string() });
    if !target.starts_with('/') {
        return bad("the mount path must be absolute");
    }
    let mut parts: Vec<&str> = Vec::new();
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return bad("cannot mount over the container's root `/`");
    }
    if matches!(parts[0], "proc" | "sys") {
        return bad(&format!("/{} is the kernel's interface, which burrow mounts itself; mount somewhere else", parts[0]));
    }
    Ok(format!("/{}", parts.join("/")))
}

fn parse_mode(mode: &str, spec: &str) -> Result<(bool, bool)> {
    let (mut ro, mut nocopy) = (false, false);
    let mut rw_seen = false;
    for m in mode.split(',') {
        match m {
            "ro" => ro = true,
            "rw" => rw_seen = true,
            "nocopy" => nocopy = true,
            "private" | "rprivate" => {}
            "z" | "Z" => return Err(spec_err(spec, "SELinux relabelling (z, Z) is not supported by burrow; leave it out")),
            "shared" | "rshared" | "slave" | "rslave" => {
                return Err(spec_err(spec, &format!("{m} propagation is not supported by burrow (mounts are private); leave it out")))
            }
            other => return Err(spec_err(spec, &format!("invalid mode {other:?}: use ro, rw or nocopy"))),
        }
    }
    if ro && rw_seen {
        return Err(spec_err(spec, "both ro and rw given"));
    }
    Ok((ro, nocopy))
}

fn spec_err(spec: &str, reason: &str) -> Error {
    Error::Spec { spec: spec.to_string(), reason: reason.to_string() }
}

/// Parse one `-v`/`--volume` value.
pub fn parse_volume(spec: &str) -> Result<MountRequest> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => return Err(spec_err(spec, "too many colons: use [SOURCE:]TARGET[:MODE]")),
    };
    if target.is_empty() {
        return Err(spec_err(spec, "the target is empty"));
    }
    let target = clean_target(target)?;
    let (read_only, nocopy) = match mode {
        Some(m) => parse_mode(m, spec)?,
        None => (false, false),
    };
    let kind = match source {
        None => MountKind::Volume { name: None, nocopy, labels: vec![] },
        Some("") => return Err(spec_err(
            spec,
            "the source is empty: give a volume name or an absolute host path, or leave out the colon for an anonymous volume (-v /path)",
        )),
        Some(s) if s.starts_with('/') => {
            if nocopy {
                return Err(spec_err(spec, "nocopy applies to volumes, not host paths"));
            }
            MountKind::Bind { source: PathBuf::from(s), create: true }
        }
        Some(s) if valid_volume_name(s) => MountKind::Volume { name: Some(s.to_string()), nocopy, labels: vec![] },
        Some(s) => return Err(Error::InvalidName { name: s.to_string() }),
    };
    Ok(MountRequest { target, kind, read_only })
}

fn mount_err(spec: &str, reason: &str) -> Error {
    Error::Mount { spec: spec.to_string(), reason: reason.to_string() }
}

fn parse_bool(v: Option<&str>, spec: &str, key: &str) -> Result<bool> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(o) => Err(mount_err(spec, &format!("invalid value {o:?} for {key}: use true or false"))),
    }
}

/// Parse a size as docker does: bytes, or with a k/m/g suffix (base 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let t = lower.trim_end_matches('b');
    let (num, mul) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// Parse one `--mount` value.
pub fn parse_mount(spec: &str) -> Result<MountRequest> {
    let (mut kind, mut source, mut target, mut read_only) = ("volume".to_string(), None, None, false);
    let (mut nocopy, mut labels, mut tmpfs) = (false, Vec::new(), TmpfsOptions::default());
    let mut only_for: Vec<(&str, &str)> = Vec::new();
    for field in spec.split(',') {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| v.map(str::to_string).ok_or_else(|| mount_err(spec, &format!("{key} needs a value")));
        match key.as_str() {
            "type" => kind = need(value)?,
            "source" | "src" => source = Some(need(value)?),
            "target" | "dst" | "destination" => target = Some(need(value)?),
            "readonly" | "ro" => read_only = parse_bool(value, spec, &key)?,
            "volume-nocopy" => {
                nocopy = parse_bool(value, spec, &key)?;
                only_for.push(("volume-nocopy", "volume"));
            }
            "volume-label" => {
                let v = need(value)?;
                let (k, v) = v.split_once('=').unwrap_or((v.as_str(), ""));
                labels.push((k.to_string(), v.to_string()));
                only_for.push(("volume-label", "volume"));
            }
            "volume-driver" => {
                let d = need(value)?;
                if d != "local" {
                    return Err(Error::Driver { driver: d });
                }
                only_for.push(("volume-driver", "volume"));
            }
            "tmpfs-size" => {
                let v = need(value)?;
                tmpfs.size = Some(parse_size(&v).ok_or_else(|| mount_err(spec, &format!("invalid tmpfs-size {v:?}")))?);
                only_for.push(("tmpfs-size", "tmpfs"));
            }
            "tmpfs-mode" => {
                let v = need(value)?;
                tmpfs.mode = Some(
                    u32::from_str_radix(&v, 8)
                        .map_err(|_| mount_err(spec, &format!("invalid tmpfs-mode {v:?}: give octal permissions such as 1777")))?,
                );
                only_for.push(("tmpfs-mode", "tmpfs"));
            }
            "bind-propagation" => {
                let v = need(value)?;
                if !matches!(v.as_str(), "private" | "rprivate") {
                    return Err(mount_err(
                        spec,
                        &format!("bind-propagation={v} is not supported by burrow (mounts are private); leave it out"),
                    ));
                }
                only_for.push(("bind-propagation", "bind"));
            }
            "volume-opt" | "volume-subpath" | "bind-nonrecursive" | "bind-recursive" | "consistency" | "tmpfs-options"
            | "bind-create-src" => return Err(mount_err(spec, &format!("{key} is not supported by burrow; leave it out"))),
            other => return Err(mount_err(spec, &format!("unexpected key {other:?}"))),
        }
    }
    for (key, for_type) in only_for {
        if kind != for_type {
            return Err(mount_err(spec, &format!("{key} applies only to type={for_type}")));
        }
    }
    let target = clean_target(&target.ok_or_else(|| mount_err(spec, "a target is required (target=PATH)"))?)?;
    let kind = match kind.as_str() {
        "volume" => {
            if let Some(s) = &source {
                if !valid_volume_name(s) {
                    return Err(Error::InvalidName { name: s.clone() });
                }
            }
            MountKind::Volume { name: source, nocopy, labels }
        }
        "bind" => {
            let s = source.ok_or_else(|| mount_err(spec, "type=bind needs a source"))?;
            if !s.starts_with('/') {
                return Err(mount_err(spec, "the bind source must be an absolute path"));
            }
            MountKind::Bind { source: PathBuf::from(s), create: false }
        }
        "tmpfs" => {
            if source.is_some() {
                return Err(mount_err(spec, "type=tmpfs takes no source"));
            }
            MountKind::Tmpfs(tmpfs)
        }
        other => return Err(mount_err(spec, &format!("type {other:?} is not supported: use volume, bind or tmpfs"))),
    };
    Ok(MountRequest { target, kind, read_only })
}

/// Parse one `--tmpfs TARGET[:OPTIONS]` (docker's default: noexec).
pub fn parse_tmpfs(spec: &str) -> Result<MountRequest> {
    let err = |reason: &str| Error::Tmpfs { spec: spec.to_string(), reason: reason.to_string() };
    let (target, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let target = clean_target(target)?;
    let mut o = TmpfsOptions { noexec: true, ..Default::default() };
    let mut read_only = false;
    for opt in opts.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = opt.split_once('=').map_or((opt, None), |(k, v)| (k, Some(v)));
        let num = |v: Option<&str>| v.and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| err(&format!("invalid value for {k}")));
        match k {
            "size" => o.size = Some(v.and_then(parse_size).ok_or_else(|| err("invalid size"))?),
            "mode" => {
                o.mode = Some(v.and_then(|v| u32::from_str_radix(v, 8).ok()).ok_or_else(|| err("invalid mode: give octal permissions"))?)
            }
            "uid" => o.uid = Some(num(v)? as u32),
            "gid" => o.gid = Some(num(v)? as u32),
            "nr_inodes" => o.nr_inodes = Some(num(v)?),
            "ro" => read_only = true,
            "rw" => read_only = false,
            "noexec" => o.noexec = true,
            "exec" => o.noexec = false,
            "nosuid" | "nodev" => {}
            other => {
                return Err(err(&format!("option {other:?} is not supported: use size, mode, uid, gid, nr_inodes, ro, rw, exec, noexec")))
            }
        }
    }
    Ok(MountRequest { target, kind: MountKind::Tmpfs(o), read_only })
}

/// Parse `--volumes-from CONTAINER[:ro|rw]`.
pub fn parse_volumes_from(spec: &str) -> Result<VolumesFrom> {
    let (container, mode) = match spec.split_once(':') {
        Some((c, "ro")) => (c, Some(true)),
        Some((c, "rw")) => (c, Some(false)),
        Some((_, m)) => return Err(spec_err(spec, &format!("invalid --volumes-from mode {m:?}: use ro or rw"))),
        None => (spec, None),
    };
    if container.is_empty() {
        return Err(spec_err(spec, "no container given"));
    }
    Ok(VolumesFrom { container: container.to_string(), read_only: mode })
}

/// Parse every mount flag and refuse duplicate targets.
pub fn parse_all(volumes: &[String], mounts: &[String], tmpfs: &[String]) -> Result<Vec<MountRequest>> {
    let mut out: Vec<MountRequest> = Vec::new();
    for r in
        volumes.iter().map(|v| parse_volume(v)).chain(mounts.iter().map(|m| parse_mount(m))).chain(tmpfs.iter().map(|t| parse_tmpfs(t)))
    {
        let r = r?;
        if out.iter().any(|o| o.target == r.target) {
            return Err(Error::Duplicate { target: r.target });
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_forms() {
        let r = parse_volume("data:/var/lib/app:ro").unwrap();
        assert_eq!(r.target, "/var/lib/app");
        assert!(r.read_only);
        assert_eq!(r.kind, MountKind::Volume { name: Some("data".into()), nocopy: false, labels: vec![] });
        let r = parse_volume("/srv/x:/x/").unwrap();
        assert_eq!(r.kind, MountKind::Bind { source: "/srv/x".into(), create: true });
        assert_eq!(r.target, "/x");
        assert!(!r.read_only);
        let r = parse_volume("/anon").unwrap();
        assert_eq!(r.kind, MountKind::Volume { name: None, nocopy: false, labels: vec![] });
        assert!(matches!(parse_volume("v1:/d:nocopy").unwrap().kind, MountKind::Volume { nocopy: true, .. }));
    }

    #[test]
    fn bad_volumes() {
        for bad in [
            "x:/proc",
            "data:/proc/foo",
            "data:/sys",
            "data:relative",
            "data:/",
            "data:/a/..",
            "./rel:/x",
            "a:b:c:d",
            "data:/x:zz",
            "data:/x:Z",
            "data:/x:shared",
            "data:/x:ro,rw",
            "/h:/x:nocopy",
            ":/x:ro",
            ":/x",
            "data/sub:/x",
            "../x:/x",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad} should be refused");
        }
        assert!(matches!(parse_volume("x:/proc"), Err(Error::Target { .. })));
        assert!(matches!(parse_volume("./rel:/x"), Err(Error::InvalidName { .. })));
    }

    #[test]
    fn targets_are_cleaned() {
        assert_eq!(clean_target("/a/./b//c/").unwrap(), "/a/b/c");
        assert_eq!(clean_target("/a/../b").unwrap(), "/b");
        assert!(clean_target("/../proc/x").is_err());
        assert_eq!(clean_target("/process").unwrap(), "/process");
    }

    #[test]
    fn mount_forms() {
        let r = parse_mount("type=bind,src=/h,dst=/c,readonly").unwrap();
        assert_eq!(r.kind, MountKind::Bind { source: "/h".into(), create: false });
        assert!(r.read_only);
        let r = parse_mount("target=/v,volume-nocopy,volume-label=a=b").unwrap();
        assert_eq!(r.kind, MountKind::Volume { name: None, nocopy: true, labels: vec![("a".into(), "b".into())] });
        let r = parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(r.kind, MountKind::Tmpfs(TmpfsOptions { size: Some(1 << 20), mode: Some(0o1770), ..Default::default() }));
        assert_eq!(parse_mount("type=bind,src=/h,dst=/c,bind-propagation=rprivate").unwrap().target, "/c");
    }

    #[test]
    fn bad_mounts() {
        for bad in [
            "type=bind,dst=/c",
            "type=bind,src=rel,dst=/c",
            "type=tmpfs,src=x,dst=/t",
            "type=npipe,dst=/x",
            "src=v",
            "type=bind,src=/h,dst=/c,bind-propagation=shared",
            "type=volume,dst=/c,volume-opt=o=1",
            "type=volume,dst=/c,volume-driver=nfs",
            "type=bind,src=/h,dst=/c,tmpfs-size=1",
            "dst=/c,bogus=1",
            "dst=/proc",
            "type=volume,src=/abs,dst=/c",
        ] {
            assert!(parse_mount(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn tmpfs_forms() {
        let r = parse_tmpfs("/run:size=64k,mode=1777,exec").unwrap();
        let MountKind::Tmpfs(o) = &r.kind else { panic!() };
        assert_eq!(o.data(), "size=65536,mode=1777");
        assert!(!o.noexec);
        assert!(matches!(parse_tmpfs("/t").unwrap().kind, MountKind::Tmpfs(TmpfsOptions { noexec: true, .. })));
        assert!(parse_tmpfs("/t:suid").is_err());
        assert!(parse_tmpfs("rel").is_err());
    }

    #[test]
    fn duplicates_and_volumes_from() {
        assert!(matches!(parse_all(&["a1:/x".into()], &["type=tmpfs,dst=/x/".into()], &[]), Err(Error::Duplicate { .. })));
        assert_eq!(parse_all(&["a1:/x".into()], &[], &["/y".into()]).unwrap().len(), 2);
        assert_eq!(parse_volumes_from("web:ro").unwrap(), VolumesFrom { container: "web".into(), read_only: Some(true) });
        assert_eq!(parse_volumes_from("web").unwrap().read_only, None);
        assert!(parse_volumes_from("web:x").is_err());
    }

    #[test]
    fn names_and_sizes() {
        assert!(valid_volume_name("data_1.x-y"));
        assert!(!valid_volume_name("x"));
        assert!(!valid_volume_name("-x"));
        assert!(!valid_volume_name("a/b"));
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("1gb"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
    }
}
