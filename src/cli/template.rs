//! `--format`: the part of Go's text/template that docker users type.
//!
//! `{{.Field}}`, nested `{{.State.ExitCode}}`, `{{json .}}` and
//! `{{json .Field}}`, `{{.Field}}` inside other text, `\t` and `\n`
//! escapes, and a leading `table` that prints a header row of the field
//! names first. Strings print without quotes, other values as JSON, a
//! missing field as `<no value>` (as Go does). Anything else inside
//! `{{ }}` is refused, never printed as if it worked.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("unsupported --format {template:?}: {reason} (burrow understands {{{{.Field}}}}, {{{{.A.B}}}}, {{{{json .}}}}, {{{{json .Field}}}} and a leading \"table\")")]
pub struct Error {
    template: String,
    reason: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field { path: Vec<String>, json: bool },
}

/// A parsed `--format`.
#[derive(Debug, Clone)]
pub struct Template {
    table: bool,
    pieces: Vec<Piece>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, Error> {
        let bad = |reason: &str| Error { template: text.into(), reason: reason.into() };
        let (table, body) = match text.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, text),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut pieces = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let end = rest[start..].find("}}").ok_or_else(|| bad("unclosed {{"))? + start;
            let action = rest[start + 2..end].trim();
            let (json, target) = match action.strip_prefix("json ") {
                Some(t) => (true, t.trim()),
                None => (false, action),
            };
            let path = match target {
                "." => Vec::new(),
                t if t.starts_with('.') => t[1..].split('.').map(str::to_string).collect(),
                _ => return Err(bad(&format!("{{{{{action}}}}} is not a field"))),
            };
            if path.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
                return Err(bad(&format!("{{{{{action}}}}} is not a field")));
            }
            pieces.push(Piece::Field { path, json });
            rest = &rest[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { table, pieces })
    }

    /// The header row for `table` (the upper-cased field names), if any.
    pub fn header(&self) -> Option<String> {
        self.table.then(|| {
            self.pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.clone(),
                    Piece::Field { path, .. } => path.last().map(|l| header_name(l)).unwrap_or_default(),
                })
                .collect()
        })
    }

    pub fn render(&self, v: &Value) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { path, json } => {
                    let mut cur = Some(v);
                    for k in path {
                        cur = cur.and_then(|c| c.get(k));
                    }
                    match (cur, json) {
                        (None, _) => out.push_str("<no value>"),
                        (Some(x), true) => out.push_str(&x.to_string()),
                        (Some(Value::String(s)), false) => out.push_str(s),
                        (Some(Value::Null), false) => out.push_str("<nil>"),
                        (Some(x), false) => out.push_str(&x.to_string()),
                    }
                }
            }
        }
        out
    }
}

/// docker's column titles for the common fields.
fn header_name(field: &str) -> String {
    match field {
        "ID" => "CONTAINER ID".into(),
        "RunningFor" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        other => other.to_ascii_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_json_and_table() {
        let v = serde_json::json!({"Names": "web", "State": {"ExitCode": 3, "Running": false}, "Ports": ["80/tcp"]});
        let t = Template::parse("{{.Names}}: {{.State.ExitCode}} {{json .Ports}}").unwrap();
        assert_eq!(t.render(&v), "web: 3 [\"80/tcp\"]");
        assert!(t.header().is_none());
        let t = Template::parse("table {{.ID}}\\t{{.Names}}").unwrap();
        assert_eq!(t.header().unwrap(), "CONTAINER ID\tNAMES");
        assert_eq!(Template::parse("{{.Nope}}").unwrap().render(&v), "<no value>");
        assert_eq!(Template::parse("{{json .}}").unwrap().render(&serde_json::json!({"a":1})), "{\"a\":1}");
        assert_eq!(Template::parse("{{.State.Running}}").unwrap().render(&v), "false");
        for bad in ["{{range .}}", "{{.Names", "{{.A..B}}", "{{printf \"%s\" .Names}}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
