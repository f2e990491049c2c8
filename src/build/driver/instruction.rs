//! One instruction of a stage: ARG and SHELL change the stage's state,
//! RUN goes to `run`, COPY/ADD to `sources` and `steps::copy`, and the
//! metadata instructions (ENV, CMD, LABEL, WORKDIR, USER, EXPOSE, VOLUME,
//! STOPSIGNAL, MAINTAINER, ONBUILD, HEALTHCHECK) become a config change
//! cached on their text as expanded.

use std::io::Write;

use super::{cache, expand, set, sources, Build, Error, StageState};
use crate::build::steps;
use crate::build::{Command, Instruction, Kind};

/// A metadata instruction's change to the image config.
type ConfigChange = Box<dyn FnOnce(&mut serde_json::Value)>;

/// The variables an instruction sees: the stage's ARGs, then the image's
/// Env (ENV wins over ARG, as docker has it).
pub(super) fn vars(st: &StageState) -> std::collections::BTreeMap<String, String> {
    let mut v = st.args.clone();
    for kv in image_env(st) {
        if let Some((k, val)) = kv.split_once('=') {
            v.insert(k.to_string(), val.to_string());
        }
    }
    v
}

pub(super) fn image_env(st: &StageState) -> Vec<String> {
    st.image
        .as_ref()
        .and_then(|i| i.config_json["config"]["Env"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect()
}

/// The image's working directory (`/` when it sets none).
pub(super) fn workdir(st: &StageState) -> String {
    st.image
        .as_ref()
        .and_then(|i| i.config_json["config"]["WorkingDir"].as_str().map(str::to_string))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into())
}

/// A command's argv: exec form as is, shell form through SHELL.
pub(super) fn argv(command: &Command, shell: &[String]) -> Vec<String> {
    match command {
        Command::Exec(words) => words.clone(),
        Command::Shell(s) => shell.iter().cloned().chain(std::iter::once(s.clone())).collect(),
    }
}

/// Run one instruction; true when it came from the cache.
pub(super) fn run(b: &Build, st: &mut StageState, ins: &Instruction, out: &mut dyn Write) -> Result<bool, Error> {
    let line = ins.span;
    let err_at = |m: String| b.at(line, m);
    let v = vars(st);
    let x = |w: &str| expand(w, &v, b.df.escape).map_err(err_at);
    let meta: (String, ConfigChange) = match &ins.kind {
        Kind::Arg(decls) => {
            for a in decls {
                let default = a.default.as_deref().map(&x).transpose()?;
                if let Some(val) = b.opts.build_args.get(&a.name).cloned().or(default).or_else(|| b.global.get(&a.name).cloned()) {
                    st.args.insert(a.name.clone(), val);
                }
            }
            return Ok(false);
        }
        Kind::Shell(words) => {
            st.shell = words.clone();
            return Ok(false);
        }
        Kind::Run { command, network, mounts, heredocs } => {
            return super::run::run(b, st, ins, command, network.as_deref(), mounts, heredocs, out)
        }
        Kind::Copy(spec) | Kind::Add(spec) => {
            let is_add = matches!(ins.kind, Kind::Add(_));
            let scratch = sources::scratch(b)?;
            let items = sources::items(b, st, spec, &x, is_add, scratch.path(), line)?;
            let chown = spec.chown.as_deref().map(&x).transpose()?.map(|c| sources::owner(st, &c)).transpose().map_err(err_at)?;
            let chmod = spec
                .chmod
                .as_deref()
                .map(|m| u32::from_str_radix(m, 8).map_err(|_| format!("invalid --chmod {m:?}: give octal bits such as 755")))
                .transpose()
                .map_err(err_at)?;
            let mut digests = Vec::new();
            for i in &items {
                let d = cache::content_digest(&i.source).map_err(|e| err_at(format!("{}: {e}", i.source.display())))?;
                digests.push(format!("{}={d}{}", i.dest, if i.unpack { " unpacked" } else { "" }));
            }
            let key = cache::key(
                st.image.as_ref(),
                &[if is_add { "ADD" } else { "COPY" }, &digests.join("\u{0}"), &format!("{chown:?}{chmod:?}")],
            );
            if let Some(hit) = cache::get(b, &key) {
                st.image = Some(hit);
                return Ok(true);
            }
            let id =
                steps::copy(&b.store, st.image.as_ref(), &items, chown, chmod, &ins.original).map_err(|source| b.step(line, source))?;
            cache::put(b, &key, &id);
            st.image = Some(b.store.resolve(&id.to_string())?);
            return Ok(false);
        }
        Kind::Env(pairs) => {
            let mut set_env = Vec::new();
            for (k, val) in pairs {
                set_env.push((k.clone(), x(val)?));
            }
            let text = set_env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
            (
                format!("ENV {text}"),
                Box::new(move |c| {
                    let mut list: Vec<String> = c["config"]["Env"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|e| e.as_str().map(str::to_string))
                        .collect();
                    for (k, v) in set_env {
                        list.retain(|e| e.split('=').next() != Some(k.as_str()));
                        list.push(format!("{k}={v}"));
                    }
                    set(c, &["config", "Env"], serde_json::json!(list));
                }),
            )
        }
        Kind::Label(pairs) => {
            let mut labels = Vec::new();
            for (k, val) in pairs {
                labels.push((x(k)?, x(val)?));
            }
            (
                format!("LABEL {labels:?}"),
                Box::new(move |c| {
                    for (k, v) in labels {
                        set(c, &["config", "Labels", &k], serde_json::json!(v));
                    }
                }),
            )
        }
        Kind::Cmd(command) | Kind::Entrypoint(command) => {
            let field = if matches!(ins.kind, Kind::Cmd(_)) { "Cmd" } else { "Entrypoint" };
            let words = argv(command, &st.shell);
            let reset_cmd = field == "Entrypoint";
            (
                format!("{field} {words:?}"),
                Box::new(move |c| {
                    set(c, &["config", field], serde_json::json!(words));
                    if reset_cmd {
                        // docker: a new ENTRYPOINT drops the CMD inherited from the base.
                        set(c, &["config", "Cmd"], serde_json::Value::Null);
                    }
                }),
            )
        }
        Kind::Workdir(dir) => {
            let dir = x(dir)?;
            let full = if dir.starts_with('/') { dir } else { format!("{}/{dir}", workdir(st).trim_end_matches('/')) };
            (format!("WORKDIR {full}"), Box::new(move |c| set(c, &["config", "WorkingDir"], serde_json::json!(full))))
        }
        Kind::User(u) => {
            let u = x(u)?;
            (format!("USER {u}"), Box::new(move |c| set(c, &["config", "User"], serde_json::json!(u))))
        }
        Kind::Expose(ports) => {
            let mut list = Vec::new();
            for p in ports {
                let p = x(p)?;
                let (n, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                list.push(format!("{n}/{proto}"));
            }
            (
                format!("EXPOSE {list:?}"),
                Box::new(move |c| {
                    for p in list {
                        set(c, &["config", "ExposedPorts", &p], serde_json::json!({}));
                    }
                }),
            )
        }
        Kind::Volume(vols) => {
            let mut list = Vec::new();
            for p in vols {
                list.push(x(p)?);
            }
            (
                format!("VOLUME {list:?}"),
                Box::new(move |c| {
                    for p in list {
                        set(c, &["config", "Volumes", &p], serde_json::json!({}));
                    }
                }),
            )
        }
        Kind::StopSignal(s) => {
            let s = x(s)?;
            (format!("STOPSIGNAL {s}"), Box::new(move |c| set(c, &["config", "StopSignal"], serde_json::json!(s))))
        }
        Kind::Maintainer(m) => {
            let m = m.clone();
            (format!("MAINTAINER {m}"), Box::new(move |c| c["author"] = serde_json::json!(m)))
        }
        Kind::OnBuild(inner) => {
            let text = trigger_text(inner);
            (
                format!("ONBUILD {text}"),
                Box::new(move |c| {
                    let mut list = c["config"]["OnBuild"].as_array().cloned().unwrap_or_default();
                    list.push(serde_json::json!(text));
                    set(c, &["config", "OnBuild"], serde_json::json!(list));
                }),
            )
        }
        Kind::Healthcheck(spec) => {
            let value = health_json(spec.as_ref());
            (format!("HEALTHCHECK {value}"), Box::new(move |c| set(c, &["config", "Healthcheck"], value)))
        }
        Kind::From { .. } => return Err(err_at("FROM inside a stage".into())),
    };
    let (text, change) = meta;
    let image = match &st.image {
        Some(i) => i.clone(),
        None => {
            return Err(err_at(format!(
                "{} needs a base image with FROM scratch: add a file first (COPY)",
                text.split(' ').next().unwrap_or("this")
            )))
        }
    };
    let key = cache::key(Some(&image), &[&text]);
    if let Some(hit) = cache::get(b, &key) {
        st.image = Some(hit);
        return Ok(true);
    }
    let id = steps::config(&b.store, &image, Some(&ins.original), change).map_err(|source| b.step(line, source))?;
    cache::put(b, &key, &id);
    st.image = Some(b.store.resolve(&id.to_string())?);
    Ok(false)
}

/// An ONBUILD trigger as stored in the config: its text, with any heredoc
/// bodies on the lines after it, so the child parses it whole.
fn trigger_text(inner: &Instruction) -> String {
    let heredocs = match &inner.kind {
        Kind::Run { heredocs, .. } => heredocs.as_slice(),
        Kind::Copy(s) | Kind::Add(s) => s.heredocs.as_slice(),
        _ => &[],
    };
    let mut text = inner.original.clone();
    for h in heredocs {
        text.push('\n');
        text.push_str(&h.body);
        text.push_str(&h.name);
    }
    text
}

/// docker's `Healthcheck` config for a HEALTHCHECK instruction (durations
/// in nanoseconds; `NONE` is `["NONE"]`).
fn health_json(spec: Option<&crate::build::HealthSpec>) -> serde_json::Value {
    let Some(h) = spec else { return serde_json::json!({"Test": ["NONE"]}) };
    let test: Vec<String> = match &h.command {
        Command::Exec(w) => std::iter::once("CMD".to_string()).chain(w.iter().cloned()).collect(),
        Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
    };
    let ns = |d: &Option<String>| d.as_deref().and_then(crate::container::health::parse_duration).map(|d| d.as_nanos() as u64).unwrap_or(0);
    serde_json::json!({
        "Test": test,
        "Interval": ns(&h.interval),
        "Timeout": ns(&h.timeout),
        "StartPeriod": ns(&h.start_period),
        "Retries": h.retries.unwrap_or(0),
    })
}
