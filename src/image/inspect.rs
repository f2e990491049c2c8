//! docker's `image inspect` JSON for an image in the store.
//!
//! Field names and shapes follow the Docker Engine API `ImageInspect`
//! object; the `Config` part is the OCI config's `config` object (which
//! uses docker's field names) with docker's empty defaults filled in.
//! `RepoDigests` stays empty until images come from registries.

use serde_json::{json, Map, Value};

use super::reference::familiar;
use super::store::Image;

pub(crate) fn render(image: &Image) -> Value {
    let c = &image.config_json;
    let mut config = c.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
    let defaults: [(&str, Value); 10] = [
        ("Hostname", json!("")),
        ("Domainname", json!("")),
        ("User", json!("")),
        ("Env", Value::Null),
        ("Cmd", Value::Null),
        ("Image", json!("")),
        ("Volumes", Value::Null),
        ("WorkingDir", json!("")),
        ("Entrypoint", Value::Null),
        ("Labels", Value::Null),
    ];
    for (k, v) in defaults {
        config.entry(k.to_string()).or_insert(v);
    }
    let layers: Vec<String> = image.layers.iter().map(|l| l.diff_id.to_string()).collect();
    let mut out = Map::new();
    out.insert("Id".into(), json!(image.id.to_string()));
    out.insert("RepoTags".into(), json!(image.names.iter().map(|n| familiar(n)).collect::<Vec<_>>()));
    out.insert("RepoDigests".into(), json!([]));
    out.insert("Parent".into(), json!(""));
    out.insert("Comment".into(), json!(history_comment(c)));
    out.insert("Created".into(), c.get("created").cloned().unwrap_or(json!("")));
    out.insert("DockerVersion".into(), json!(""));
    out.insert("Author".into(), c.get("author").cloned().unwrap_or(json!("")));
    out.insert("Config".into(), Value::Object(config));
    out.insert("Architecture".into(), c.get("architecture").cloned().unwrap_or(json!("")));
    if let Some(v) = c.get("variant") {
        out.insert("Variant".into(), v.clone());
    }
    out.insert("Os".into(), c.get("os").cloned().unwrap_or(json!("")));
    out.insert("Size".into(), json!(image.size));
    out.insert("RootFS".into(), json!({ "Type": "layers", "Layers": layers }));
    out.insert("Metadata".into(), json!({ "LastTagTime": "0001-01-01T00:00:00Z" }));
    out.insert("ManifestDigest".into(), json!(image.manifest_digest.to_string()));
    Value::Object(out)
}

/// docker shows the last history entry's comment (`import` images carry one).
fn history_comment(c: &Value) -> String {
    c.get("history")
        .and_then(Value::as_array)
        .and_then(|h| h.last())
        .and_then(|e| e.get("comment"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}
