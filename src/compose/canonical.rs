//! One file's short syntaxes rewritten into the long ones, before files
//! are merged (the merge rules match list entries by their long-syntax
//! keys: a port by address, target, published port and protocol, a mount
//! by target).
//!
//! Per service: `build: DIR` becomes `{context: DIR}`; `environment`,
//! `labels`, `build.args` and `build.labels` lists become mappings (a
//! bare `KEY` in a list becomes `KEY: null`, "from the environment");
//! `ports`, `volumes`, `secrets` and `configs` entries become mappings;
//! `depends_on` and `networks` lists become mappings; `extends: NAME`
//! becomes `{service: NAME}`; a single `dns`, `tmpfs`, `env_file` or
//! `dns_search` becomes a list. Relative host paths (build context, bind
//! sources, env files, secret and config files) are made absolute against
//! the directory the file's paths are relative to. A tag (`!reset`,
//! `!override`) is kept around the rewritten value for `merge`.

use std::path::Path;

use serde_norway::{Mapping, Value};

use super::mounts;
use super::ports;
use super::value::{index, invalid, join, mapping, scalar_text, string, text, wrong, Result};

/// Rewrite a whole file in place; `base` is where its relative paths start.
pub fn file(doc: &mut Value, base: &Path) -> Result<()> {
    let Some(top) = doc.as_mapping_mut() else { return Ok(()) };
    if let Some(services) = top.get_mut("services") {
        let found = services.clone();
        let services_map = services.as_mapping_mut().ok_or_else(|| wrong("services", "a mapping", &found))?;
        for (k, v) in services_map.iter_mut() {
            let name = scalar_text(k).unwrap_or_default();
            service(v, base, &join("services", &name))?;
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(Value::Mapping(defs)) = top.get_mut(section) {
            for v in defs.values_mut() {
                if let Some(Value::String(f)) = v.as_mapping_mut().and_then(|d| d.get_mut("file")) {
                    *f = mounts::absolute(f, base);
                }
            }
        }
    }
    Ok(())
}

/// Apply `f` to a value, or to the value inside its tag.
fn untagged(v: &mut Value, f: impl FnOnce(&mut Value) -> Result<()>) -> Result<()> {
    match v {
        Value::Tagged(t) => f(&mut t.value),
        other => f(other),
    }
}

/// Rewrite one service's mapping.
pub fn service(svc: &mut Value, base: &Path, path: &str) -> Result<()> {
    let Value::Mapping(m) = svc else {
        return Err(wrong(path, "a mapping", svc));
    };
    for (k, v) in m.iter_mut() {
        let key = scalar_text(k).unwrap_or_default();
        let p = join(path, &key);
        untagged(v, |v| attribute(&key, v, base, &p))?;
    }
    Ok(())
}

fn attribute(key: &str, v: &mut Value, base: &Path, p: &str) -> Result<()> {
    match key {
        "build" => build(v, base, p),
        "environment" | "labels" => to_map(v, p),
        "ports" => each_flat(v, p, |item, ip| match item {
            Value::Mapping(_) => long_port(item, ip).map(|x| vec![x]),
            other => ports::parse_short(&string(other, &ip)?, &ip),
        }),
        "volumes" => each_flat(v, p, |item, ip| match item {
            Value::Mapping(_) => long_volume(item, base, &ip).map(|x| vec![x]),
            other => Ok(vec![mounts::parse_short(&string(other, &ip)?, base, &ip)?]),
        }),
        "secrets" | "configs" => each_flat(v, p, |item, ip| match item {
            Value::Mapping(_) => Ok(vec![item.clone()]),
            other => Ok(vec![single("source", string(other, &ip)?)]),
        }),
        "depends_on" => list_to_map(v, p, |_| {
            let mut d = Mapping::new();
            d.insert(text("condition"), text("service_started"));
            d.insert(text("required"), Value::Bool(true));
            Value::Mapping(d)
        }),
        "networks" => list_to_map(v, p, |_| Value::Null),
        "extends" => {
            if let Some(s) = scalar_text(v) {
                *v = single("service", s);
            }
            if let Some(Value::String(f)) = v.as_mapping_mut().and_then(|m| m.get_mut("file")) {
                *f = mounts::absolute(f, base);
            }
            Ok(())
        }
        "dns" | "dns_search" | "tmpfs" => one_to_list(v),
        "env_file" => {
            one_to_list(v)?;
            each_flat(v, p, |item, ip| {
                let mut e = match item {
                    Value::Mapping(m) => m.clone(),
                    other => match single("path", string(other, &ip)?) {
                        Value::Mapping(m) => m,
                        _ => unreachable!(),
                    },
                };
                if let Some(Value::String(f)) = e.get_mut("path") {
                    *f = mounts::absolute(f, base);
                }
                Ok(vec![Value::Mapping(e)])
            })
        }
        _ => Ok(()),
    }
}

fn single(key: &str, value: String) -> Value {
    let mut m = Mapping::new();
    m.insert(text(key), text(value));
    Value::Mapping(m)
}

fn one_to_list(v: &mut Value) -> Result<()> {
    if matches!(v, Value::String(_) | Value::Number(_)) {
        *v = Value::Sequence(vec![v.clone()]);
    }
    Ok(())
}

/// Replace each entry of a list with what `f` makes of it (one or more).
fn each_flat(v: &mut Value, p: &str, f: impl Fn(&Value, String) -> Result<Vec<Value>>) -> Result<()> {
    let Value::Sequence(items) = v else {
        return if v.is_null() { Ok(()) } else { Err(wrong(p, "a list", v)) };
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.extend(f(item, index(p, i))?);
    }
    *items = out;
    Ok(())
}

/// `[KEY=VALUE, KEY]` → `{KEY: VALUE, KEY: null}`; a mapping stays.
fn to_map(v: &mut Value, p: &str) -> Result<()> {
    let Value::Sequence(items) = v else { return Ok(()) };
    let mut m = Mapping::new();
    for (i, item) in items.iter().enumerate() {
        let s = string(item, &index(p, i))?;
        match s.split_once('=') {
            Some((k, val)) => m.insert(text(k), text(val)),
            None => m.insert(text(s), Value::Null),
        };
    }
    *v = Value::Mapping(m);
    Ok(())
}

/// `[a, b]` → `{a: default, b: default}`; a mapping stays.
fn list_to_map(v: &mut Value, p: &str, default: impl Fn(&str) -> Value) -> Result<()> {
    let Value::Sequence(items) = v else { return Ok(()) };
    let mut m = Mapping::new();
    for (i, item) in items.iter().enumerate() {
        let s = string(item, &index(p, i))?;
        let d = default(&s);
        m.insert(text(s), d);
    }
    *v = Value::Mapping(m);
    Ok(())
}

fn build(v: &mut Value, base: &Path, p: &str) -> Result<()> {
    if let Some(s) = scalar_text(v) {
        *v = single("context", s);
    }
    let m = match v {
        Value::Mapping(m) => m,
        other => return Err(wrong(p, "a path or a mapping", other)),
    };
    if let Some(Value::String(c)) = m.get_mut("context") {
        if !c.contains("://") && !c.starts_with("git@") {
            *c = mounts::absolute(c, base);
        }
    }
    for key in ["args", "labels"] {
        if let Some(a) = m.get_mut(key) {
            to_map(a, &join(p, key))?;
        }
    }
    Ok(())
}

/// A long-syntax port with `target` a number and `published` a string.
fn long_port(item: &Value, p: String) -> Result<Value> {
    let mut m = mapping(item, &p)?.clone();
    let target = m.get("target").ok_or_else(|| invalid(&p, "", "a long-syntax port needs target"))?;
    let t = scalar_text(target).unwrap_or_default();
    let range = ports::range(&t).filter(|(a, b)| a == b).ok_or_else(|| invalid(&join(&p, "target"), &t, "not a port (1-65535)"))?;
    m.insert(text("target"), Value::Number(range.0.into()));
    if let Some(pb) = m.get("published").cloned() {
        let s = scalar_text(&pb).ok_or_else(|| wrong(&join(&p, "published"), "a port or range", &pb))?;
        m.insert(text("published"), text(s));
    }
    m.entry(text("protocol")).or_insert_with(|| text("tcp"));
    m.entry(text("mode")).or_insert_with(|| text("ingress"));
    Ok(Value::Mapping(m))
}

/// A long-syntax mount with a bind source made absolute.
fn long_volume(item: &Value, base: &Path, p: &str) -> Result<Value> {
    let mut m = mapping(item, p)?.clone();
    let is_bind = m.get("type").and_then(Value::as_str) == Some("bind");
    if let (true, Some(Value::String(s))) = (is_bind, m.get_mut("source")) {
        *s = mounts::absolute(s, base);
    }
    Ok(Value::Mapping(m))
}
