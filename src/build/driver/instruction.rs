//! One instruction of a stage: ARG and SHELL change the stage's state,
//! RUN goes to `run`, COPY/ADD to `sources` and `steps::copy`, and the
//! metadata instructions (ENV, CMD, LABEL, WORKDIR, USER, EXPOSE, VOLUME,
//! STOPSIGNAL, MAINTAINER, ONBUILD, HEALTHCHECK) become a config change
//! cached on their text as expanded.

use std::io::Write;

use super::{cache, expand, set, sources, Build, Error, StageState};
use crate::build::steps;
use crate::build::{Command, CopySpec, Instruction, Kind};

/// A metadata instruction's change to the image config.
type ConfigChange = Box<dyn FnOnce(&mut serde_json::Value)>;

/// `$VAR` substitution with the instruction's variables, errors placed.
type Expand<'a> = dyn Fn(&str) -> Result<String, Error> + 'a;

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
    let v = vars(st);
    let x = |w: &str| expand(w, &v, b.df.escape).map_err(|e| b.subst(line, e));
    match &ins.kind {
        Kind::Arg(decls) => {
            for a in decls {
                let default = a.default.as_deref().map(&x).transpose()?;
                if let Some(val) = b.opts.build_args.get(&a.name).cloned().or(default).or_else(|| b.global.get(&a.name).cloned()) {
                    st.args.insert(a.name.clone(), val);
                }
            }
            Ok(false)
        }
        Kind::Shell(words) => {
            st.shell = words.clone();
            Ok(false)
        }
        Kind::Run { command, network, mounts, heredocs } => super::run::run(b, st, ins, command, network.as_deref(), mounts, heredocs, out),
        Kind::Copy(spec) | Kind::Add(spec) => copy(b, st, ins, spec, &x),
        Kind::From { .. } => Err(b.at(line, "FROM inside a stage".into())),
        _ => {
            let (text, change) = config_change(st, &ins.kind, &x)?;
            commit_config(b, st, ins, &text, change)
        }
    }
}

/// COPY or ADD: the items, their content digests for the cache key, then
/// `steps::copy`.
fn copy(b: &Build, st: &mut StageState, ins: &Instruction, spec: &CopySpec, x: &Expand) -> Result<bool, Error> {
    let line = ins.span;
    let is_add = matches!(ins.kind, Kind::Add(_));
    let scratch = sources::scratch(b)?;
    let items = sources::items(b, st, spec, x, is_add, scratch.path(), line)?;
    let chown = match spec.chown.as_deref().map(x).transpose()? {
        Some(spec) => Some(sources::owner(st, &spec).map_err(|source| Error::Chown { file: b.df.file.clone(), at: line, spec, source })?),
        None => None,
    };
    let chmod = spec
        .chmod
        .as_deref()
        .map(|m| u32::from_str_radix(m, 8).map_err(|_| Error::Chmod { file: b.df.file.clone(), at: line, value: m.to_string() }))
        .transpose()?;
    let mut digests = Vec::new();
    for i in &items {
        let d = cache::content_digest(&i.source).map_err(|e| b.at(line, format!("{}: {e}", i.source.display())))?;
        digests.push(format!("{}={d}{}", i.dest, if i.unpack { " unpacked" } else { "" }));
    }
    let key = cache::key(st.image.as_ref(), &[if is_add { "ADD" } else { "COPY" }, &digests.join("\u{0}"), &format!("{chown:?}{chmod:?}")]);
    if let Some(hit) = cache::get(b, &key) {
        st.image = Some(hit);
        return Ok(true);
    }
    let id = steps::copy(&b.store, st.image.as_ref(), &items, chown, chmod, &ins.original).map_err(|source| b.step(line, source))?;
    cache::put(b, &key, &id);
    st.image = Some(b.store.resolve(&id.to_string())?);
    Ok(false)
}

/// A metadata instruction's cache text (its values expanded) and its change
/// to the config.
fn config_change(st: &StageState, kind: &Kind, x: &Expand) -> Result<(String, ConfigChange), Error> {
    let single = |keyword: &str, field: &'static str, value: String| -> (String, ConfigChange) {
        (format!("{keyword} {value}"), Box::new(move |c| set(c, &["config", field], serde_json::json!(value))))
    };
    Ok(match kind {
        Kind::Env(pairs) => env_change(pairs.iter().map(|(k, v)| Ok((k.clone(), x(v)?))).collect::<Result<_, Error>>()?),
        Kind::Label(pairs) => {
            let labels: Vec<(String, String)> = pairs.iter().map(|(k, v)| Ok((x(k)?, x(v)?))).collect::<Result<_, Error>>()?;
            (
                format!("LABEL {labels:?}"),
                Box::new(move |c| {
                    for (k, v) in labels {
                        set(c, &["config", "Labels", &k], serde_json::json!(v));
                    }
                }),
            )
        }
        Kind::Cmd(command) => command_change("Cmd", argv(command, &st.shell)),
        Kind::Entrypoint(command) => command_change("Entrypoint", argv(command, &st.shell)),
        Kind::Workdir(dir) => {
            let dir = x(dir)?;
            single("WORKDIR", "WorkingDir", if dir.starts_with('/') { dir } else { format!("{}/{dir}", workdir(st).trim_end_matches('/')) })
        }
        Kind::User(u) => single("USER", "User", x(u)?),
        Kind::StopSignal(s) => single("STOPSIGNAL", "StopSignal", x(s)?),
        Kind::Expose(ports) => {
            let mut list = Vec::new();
            for p in ports {
                let p = x(p)?;
                let (n, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                list.push(format!("{n}/{proto}"));
            }
            set_change("EXPOSE", "ExposedPorts", list)
        }
        Kind::Volume(vols) => set_change("VOLUME", "Volumes", vols.iter().map(|p| x(p)).collect::<Result<_, Error>>()?),
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
        Kind::Arg(_) | Kind::Shell(_) | Kind::Run { .. } | Kind::Copy(_) | Kind::Add(_) | Kind::From { .. } => {
            unreachable!("run handles the instructions that are not a config change")
        }
    })
}

/// ENV: the pairs replace the variables of the same names, in order.
fn env_change(pairs: Vec<(String, String)>) -> (String, ConfigChange) {
    let text = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    (
        format!("ENV {text}"),
        Box::new(move |c| {
            let mut list: Vec<String> =
                c["config"]["Env"].as_array().cloned().unwrap_or_default().iter().filter_map(|e| e.as_str().map(str::to_string)).collect();
            for (k, v) in pairs {
                list.retain(|e| e.split('=').next() != Some(k.as_str()));
                list.push(format!("{k}={v}"));
            }
            set(c, &["config", "Env"], serde_json::json!(list));
        }),
    )
}

/// CMD or ENTRYPOINT (`field`) as an argv.
fn command_change(field: &'static str, words: Vec<String>) -> (String, ConfigChange) {
    (
        format!("{field} {words:?}"),
        Box::new(move |c| {
            set(c, &["config", field], serde_json::json!(words));
            if field == "Entrypoint" {
                // docker: a new ENTRYPOINT drops the CMD inherited from the base.
                set(c, &["config", "Cmd"], serde_json::Value::Null);
            }
        }),
    )
}

/// EXPOSE or VOLUME: each entry a key of the config's `field` object.
fn set_change(keyword: &str, field: &'static str, list: Vec<String>) -> (String, ConfigChange) {
    (
        format!("{keyword} {list:?}"),
        Box::new(move |c| {
            for p in list {
                set(c, &["config", field, &p], serde_json::json!({}));
            }
        }),
    )
}

/// A config change as the next image, cached on its text.
fn commit_config(b: &Build, st: &mut StageState, ins: &Instruction, text: &str, change: ConfigChange) -> Result<bool, Error> {
    let Some(image) = st.image.clone() else {
        return Err(b.at(
            ins.span,
            format!("{} needs a base image with FROM scratch: add a file first (COPY)", text.split(' ').next().unwrap_or("this")),
        ));
    };
    let key = cache::key(Some(&image), &[text]);
    if let Some(hit) = cache::get(b, &key) {
        st.image = Some(hit);
        return Ok(true);
    }
    let id = steps::config(&b.store, &image, Some(&ins.original), change).map_err(|source| b.step(ins.span, source))?;
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
    let ns = |d: &Option<String>| d.as_deref().and_then(crate::model::health::parse_duration).map(|d| d.as_nanos() as u64).unwrap_or(0);
    serde_json::json!({
        "Test": test,
        "Interval": ns(&h.interval),
        "Timeout": ns(&h.timeout),
        "StartPeriod": ns(&h.start_period),
        "Retries": h.retries.unwrap_or(0),
    })
}
