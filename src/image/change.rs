//! `commit -c` / `import -c`: Dockerfile instructions applied to an image
//! config, as docker does.
//!
//! docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER,
//! VOLUME, WORKDIR and STOPSIGNAL here. CMD and ENTRYPOINT take the exec
//! form (a JSON array) or the shell form (wrapped in `/bin/sh -c`); ENV
//! and LABEL take `KEY=VALUE` pairs (double quotes group, backslash
//! escapes) or the legacy `KEY VALUE`; EXPOSE ports default to tcp; a
//! relative WORKDIR is joined to the current one. Anything else is refused
//! with the instruction named. Pure: the config is a JSON value.

use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid change {change:?}: {reason}")]
    Invalid { change: String, reason: String },
}

/// Apply one change line to `config` (the image config's JSON).
pub fn apply(config: &mut Value, change: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::Invalid { change: change.to_string(), reason: reason.to_string() };
    let line = change.trim();
    let (instr, rest) = line.split_once(char::is_whitespace).map(|(a, b)| (a, b.trim())).unwrap_or((line, ""));
    if !config.is_object() {
        *config = json!({});
    }
    if !config.get("config").is_some_and(Value::is_object) {
        config["config"] = json!({});
    }
    let c = &mut config["config"];
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => c["Cmd"] = command(rest).ok_or_else(|| bad("CMD needs a command"))?,
        "ENTRYPOINT" => c["Entrypoint"] = command(rest).ok_or_else(|| bad("ENTRYPOINT needs a command"))?,
        "ENV" => {
            for (k, v) in pairs(rest).ok_or_else(|| bad("expected KEY=VALUE"))? {
                let list = c["Env"].as_array().cloned().unwrap_or_default();
                let mut list: Vec<Value> =
                    list.into_iter().filter(|e| e.as_str().and_then(|s| s.split('=').next()) != Some(k.as_str())).collect();
                list.push(json!(format!("{k}={v}")));
                c["Env"] = json!(list);
            }
        }
        "LABEL" => {
            for (k, v) in pairs(rest).ok_or_else(|| bad("expected KEY=VALUE"))? {
                if !c["Labels"].is_object() {
                    c["Labels"] = json!({});
                }
                c["Labels"][k] = json!(v);
            }
        }
        "EXPOSE" => {
            let ports: Vec<&str> = rest.split_whitespace().collect();
            if ports.is_empty() {
                return Err(bad("EXPOSE needs a port"));
            }
            for p in ports {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(bad(&format!("{p:?} is not a port (PORT[/tcp|udp|sctp])")));
                }
                if !c["ExposedPorts"].is_object() {
                    c["ExposedPorts"] = json!({});
                }
                c["ExposedPorts"][format!("{num}/{proto}")] = json!({});
            }
        }
        "VOLUME" => {
            let list: Vec<String> = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) => v,
                Err(_) => rest.split_whitespace().map(str::to_string).collect(),
            };
            if list.is_empty() || list.iter().any(|v| !v.starts_with('/')) {
                return Err(bad("VOLUME needs absolute paths"));
            }
            if !c["Volumes"].is_object() {
                c["Volumes"] = json!({});
            }
            for v in list {
                c["Volumes"][v] = json!({});
            }
        }
        "USER" if !rest.is_empty() => c["User"] = json!(rest),
        "STOPSIGNAL" if !rest.is_empty() => c["StopSignal"] = json!(rest),
        "WORKDIR" if !rest.is_empty() => {
            let dir = if rest.starts_with('/') {
                rest.to_string()
            } else {
                let cur = c["WorkingDir"].as_str().unwrap_or("/").trim_end_matches('/').to_string();
                format!("{cur}/{rest}")
            };
            c["WorkingDir"] = json!(dir);
        }
        "ONBUILD" if !rest.is_empty() => {
            let mut list = c["OnBuild"].as_array().cloned().unwrap_or_default();
            list.push(json!(rest));
            c["OnBuild"] = json!(list);
        }
        "USER" | "STOPSIGNAL" | "WORKDIR" | "ONBUILD" => return Err(bad(&format!("{instr} needs an argument"))),
        _ => {
            return Err(bad(
                "the instructions allowed here are CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR and STOPSIGNAL",
            ))
        }
    }
    Ok(())
}

/// Exec form (a JSON array of strings) or shell form.
fn command(rest: &str) -> Option<Value> {
    if rest.is_empty() {
        return None;
    }
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return Some(json!(v));
        }
    }
    Some(json!(["/bin/sh", "-c", rest]))
}

/// `K=V K2="v 2"` or the legacy `K V...`.
fn pairs(rest: &str) -> Option<Vec<(String, String)>> {
    let words = words(rest)?;
    let first = words.first()?;
    if !first.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace)?;
        return Some(vec![(k.to_string(), v.trim().to_string())]);
    }
    words
        .into_iter()
        .map(|w| w.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect::<Option<Vec<_>>>()
        .filter(|p| p.iter().all(|(k, _)| !k.is_empty()))
}

/// Split on spaces outside double quotes; quotes removed, `\x` is `x`.
fn words(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => cur.push(chars.next()?),
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> Value {
        let mut c = json!({"config": {"Env": ["PATH=/bin", "A=old"], "WorkingDir": "/srv"}});
        for ch in changes {
            apply(&mut c, ch).unwrap();
        }
        c["config"].clone()
    }

    #[test]
    fn instructions() {
        let c = applied(&[
            r#"CMD ["app", "--flag"]"#,
            "ENTRYPOINT /bin/run me",
            r#"ENV A=new B="two words""#,
            "ENV C legacy value",
            r#"LABEL version=1.0 "maintainer"="me""#,
            "EXPOSE 80 53/udp",
            r#"VOLUME ["/data"]"#,
            "VOLUME /cache /logs",
            "USER app:app",
            "WORKDIR sub",
            "STOPSIGNAL SIGINT",
            "ONBUILD RUN make",
        ]);
        assert_eq!(c["Cmd"], json!(["app", "--flag"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "/bin/run me"]));
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=new", "B=two words", "C=legacy value"]));
        assert_eq!(c["Labels"], json!({"version": "1.0", "maintainer": "me"}));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["Volumes"], json!({"/data": {}, "/cache": {}, "/logs": {}}));
        assert_eq!(
            (c["User"].as_str(), c["WorkingDir"].as_str(), c["StopSignal"].as_str()),
            (Some("app:app"), Some("/srv/sub"), Some("SIGINT"))
        );
        assert_eq!(c["OnBuild"], json!(["RUN make"]));
    }

    #[test]
    fn refusals() {
        let mut c = json!({});
        for bad in ["RUN make", "FROM x", "CMD", "EXPOSE http", "VOLUME rel", "ENV", "LABEL \"open=1", "USER"] {
            assert!(apply(&mut c, bad).is_err(), "{bad}");
        }
    }
}
