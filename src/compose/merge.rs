//! Merging compose files, as the compose specification's "Merge and
//! override" section says: mappings are merged key by key, the later
//! file's scalars win, sequences are appended, except that `command`,
//! `entrypoint` and `healthcheck.test` are replaced, and the entries of
//! `ports` (by host address, target, published port, protocol),
//! `volumes`, `secrets` and `configs` (by target) replace or merge with
//! the earlier entry that shares their key. A value tagged `!reset`
//! removes the attribute; one tagged `!override` replaces it whole.
//! Lists of plain values keep each value once.
//!
//! The same function applies a service's own attributes over the service
//! it `extends`. It works on canonical trees (`canonical` has rewritten
//! short syntaxes) and is pure.

use serde_norway::{Mapping, Value};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("{path}: the YAML tag !{tag} is not supported (only !reset and !override)")]
    UnknownTag { path: String, tag: String },
}

/// Merge a whole file over the files before it.
pub fn file(base: &mut Mapping, over: Mapping) -> Result<(), MergeError> {
    for (k, v) in over {
        let key = super::value::scalar_text(&k).unwrap_or_default();
        if key == "services" {
            if let (Some(Value::Mapping(b)), Value::Mapping(o)) = (base.get_mut("services"), &v) {
                for (name, svc) in o.clone() {
                    let path = format!("services.{}", super::value::scalar_text(&name).unwrap_or_default());
                    merge_entry(b, name, svc, &path, Rule::Service)?;
                }
                continue;
            }
        }
        merge_entry(base, k, v, &key, Rule::Deep)?;
    }
    Ok(())
}

/// Apply a service's attributes over a copy of the service it extends.
pub fn service(base: &mut Mapping, over: Mapping, path: &str) -> Result<(), MergeError> {
    for (k, v) in over {
        let key = super::value::scalar_text(&k).unwrap_or_default();
        let rule = service_rule(&key);
        merge_entry(base, k, v, &super::value::join(path, &key), rule)?;
    }
    Ok(())
}

/// How the values under one key merge.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// Mappings merged key by key, lists appended without repeats.
    Deep,
    /// A service: each attribute by its own rule.
    Service,
    /// The later value replaces the earlier.
    Replace,
    /// A healthcheck: deep, but its `test` replaced.
    Healthcheck,
    /// A list of mappings unique by a key (`ports`, `volumes`, ...).
    Unique(UniqueBy),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum UniqueBy {
    Port,
    Target,
    SecretTarget,
    ConfigTarget,
}

fn service_rule(key: &str) -> Rule {
    match key {
        "command" | "entrypoint" => Rule::Replace,
        "healthcheck" => Rule::Healthcheck,
        "ports" => Rule::Unique(UniqueBy::Port),
        "volumes" => Rule::Unique(UniqueBy::Target),
        "secrets" => Rule::Unique(UniqueBy::SecretTarget),
        "configs" => Rule::Unique(UniqueBy::ConfigTarget),
        _ => Rule::Deep,
    }
}

fn merge_entry(base: &mut Mapping, k: Value, v: Value, path: &str, rule: Rule) -> Result<(), MergeError> {
    if let Value::Tagged(t) = &v {
        if t.tag == "reset" {
            base.remove(&k);
            return Ok(());
        }
        if t.tag == "override" {
            let inner = strip(t.value.clone(), path)?;
            base.insert(k, inner);
            return Ok(());
        }
        return Err(MergeError::UnknownTag { path: path.to_string(), tag: t.tag.to_string().trim_start_matches('!').to_string() });
    }
    match base.get_mut(&k) {
        Some(existing) => merge_value(existing, v, path, rule),
        None => {
            base.insert(k, strip(v, path)?);
            Ok(())
        }
    }
}

fn merge_value(base: &mut Value, over: Value, path: &str, rule: Rule) -> Result<(), MergeError> {
    match (base, over, rule) {
        (b, o, Rule::Replace) => *b = strip(o, path)?,
        (Value::Mapping(b), Value::Mapping(o), Rule::Service) => service(b, o, path)?,
        (Value::Mapping(b), Value::Mapping(o), Rule::Healthcheck) => {
            for (k, v) in o {
                let key = super::value::scalar_text(&k).unwrap_or_default();
                let rule = if key == "test" { Rule::Replace } else { Rule::Deep };
                merge_entry(b, k, v, &super::value::join(path, &key), rule)?;
            }
        }
        (Value::Mapping(b), Value::Mapping(o), _) => {
            for (k, v) in o {
                let key = super::value::scalar_text(&k).unwrap_or_default();
                merge_entry(b, k, v, &super::value::join(path, &key), Rule::Deep)?;
            }
        }
        (Value::Sequence(b), Value::Sequence(o), Rule::Unique(by)) => {
            for item in o {
                let item = strip(item, path)?;
                match b.iter_mut().find(|e| unique_key(e, by).is_some() && unique_key(e, by) == unique_key(&item, by)) {
                    Some(e) => merge_value(e, item, path, Rule::Deep)?,
                    None => b.push(item),
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(o), _) => {
            for item in o {
                let item = strip(item, path)?;
                if !b.contains(&item) {
                    b.push(item);
                }
            }
        }
        (b, o, _) => *b = strip(o, path)?,
    }
    Ok(())
}

/// The key a list entry is unique by (None: never merged with another).
fn unique_key(v: &Value, by: UniqueBy) -> Option<String> {
    let m = v.as_mapping()?;
    let get = |k: &str| m.get(k).and_then(super::value::scalar_text);
    match by {
        UniqueBy::Port => Some(format!(
            "{}|{}|{}|{}",
            get("host_ip").unwrap_or_default(),
            get("target").unwrap_or_default(),
            get("published").unwrap_or_default(),
            get("protocol").unwrap_or_else(|| "tcp".into())
        )),
        UniqueBy::Target => get("target"),
        UniqueBy::SecretTarget => get("target").or_else(|| get("source").map(|s| format!("/run/secrets/{s}"))),
        UniqueBy::ConfigTarget => get("target").or_else(|| get("source").map(|s| format!("/{s}"))),
    }
}

/// A value with its merge tags resolved: `!reset` entries dropped,
/// `!override` unwrapped, any other tag refused.
pub fn strip(v: Value, path: &str) -> Result<Value, MergeError> {
    Ok(match v {
        Value::Tagged(t) if t.tag == "override" => strip(t.value, path)?,
        Value::Tagged(t) if t.tag == "reset" => Value::Null,
        Value::Tagged(t) => {
            return Err(MergeError::UnknownTag { path: path.to_string(), tag: t.tag.to_string().trim_start_matches('!').to_string() })
        }
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, v) in m {
                if matches!(&v, Value::Tagged(t) if t.tag == "reset") {
                    continue;
                }
                let key = super::value::scalar_text(&k).unwrap_or_default();
                out.insert(k, strip(v, &super::value::join(path, &key))?);
            }
            Value::Mapping(out)
        }
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(|i| strip(i, path)).collect::<Result<_, _>>()?),
        other => other,
    })
}
