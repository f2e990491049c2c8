//! Which mounts a container gets (pure).
//!
//! docker's precedence: the mounts given on the command line win; a mount
//! of a `--volumes-from` container is taken unless one given already has
//! its target (with the `:ro`/`:rw` given there, else its own mode; tmpfs
//! mounts are not shared); an image VOLUME becomes an anonymous volume
//! unless some mount already has exactly that target. The result is
//! ordered parents first (by the number of path components), so a mount
//! at `/a/b` lands inside one at `/a`.

use super::attach::{MountPoint, MountType};
use super::spec::{clean_target, MountKind, MountRequest};
use super::Result;

/// The mounts of one `--volumes-from` container, with the mode override.
pub struct From<'a> {
    pub mounts: &'a [MountPoint],
    pub read_only: Option<bool>,
}

pub fn plan(requests: &[MountRequest], from: &[From<'_>], image_volumes: &[String]) -> Result<Vec<MountRequest>> {
    let mut out: Vec<MountRequest> = requests.to_vec();
    for f in from {
        for m in f.mounts {
            if out.iter().any(|o| o.target == m.destination) {
                continue;
            }
            let kind = match m.kind {
                MountType::Volume => MountKind::Volume { name: m.name.clone(), nocopy: false, labels: vec![] },
                MountType::Bind => MountKind::Bind { source: m.source.clone().into(), create: false },
                MountType::Tmpfs => continue,
            };
            out.push(MountRequest { target: m.destination.clone(), kind, read_only: f.read_only.unwrap_or(!m.rw) });
        }
    }
    for v in image_volumes {
        let target = match clean_target(v) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(%e, "ignoring the image's VOLUME {v:?}");
                continue;
            }
        };
        if out.iter().any(|o| o.target == target) {
            continue;
        }
        out.push(MountRequest { target, kind: MountKind::Volume { name: None, nocopy: false, labels: vec![] }, read_only: false });
    }
    out.sort_by_key(|m| m.target.matches('/').count());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(kind: MountType, name: Option<&str>, source: &str, dest: &str, rw: bool) -> MountPoint {
        MountPoint {
            kind,
            name: name.map(str::to_string),
            source: source.into(),
            destination: dest.into(),
            driver: None,
            mode: String::new(),
            rw,
            propagation: String::new(),
        }
    }

    #[test]
    fn precedence_and_order() {
        let given = vec![
            MountRequest {
                target: "/data/sub".into(),
                kind: MountKind::Volume { name: Some("v1".into()), nocopy: false, labels: vec![] },
                read_only: false,
            },
            MountRequest { target: "/cfg".into(), kind: MountKind::Bind { source: "/h".into(), create: true }, read_only: true },
        ];
        let other = vec![
            point(MountType::Volume, Some("shared"), "/s", "/data", true),
            point(MountType::Volume, Some("x"), "/s", "/cfg", true),
            point(MountType::Bind, None, "/host", "/b", false),
            point(MountType::Tmpfs, None, "", "/t", true),
        ];
        let from = [From { mounts: &other, read_only: None }];
        let p = plan(&given, &from, &["/data".into(), "/var/cache/".into(), "/proc".into()]).unwrap();
        let targets: Vec<&str> = p.iter().map(|m| m.target.as_str()).collect();
        assert_eq!(targets, ["/cfg", "/data", "/b", "/data/sub", "/var/cache"]);
        let data = p.iter().find(|m| m.target == "/data").unwrap();
        assert_eq!(data.kind, MountKind::Volume { name: Some("shared".into()), nocopy: false, labels: vec![] });
        assert!(!data.read_only);
        assert!(p.iter().find(|m| m.target == "/b").unwrap().read_only, "kept its own mode");
        assert!(matches!(p.iter().find(|m| m.target == "/var/cache").unwrap().kind, MountKind::Volume { name: None, .. }));
        let ro = plan(&[], &[From { mounts: &other, read_only: Some(true) }], &[]).unwrap();
        assert!(ro.iter().all(|m| m.read_only));
    }
}
