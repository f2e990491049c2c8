//! `history`: an image's layers and the steps that made them, newest
//! first, in docker's columns (IMAGE CREATED CREATED BY SIZE COMMENT).
//!
//! Rows come from the config's `history`; each entry without
//! `empty_layer` owns the next layer (bottom first), whose blob size is
//! its SIZE, and an `empty_layer` entry has size 0. As in docker, only the
//! newest row names the image; the others show `<missing>`, since burrow
//! keeps no intermediate images. An image without history gets one row
//! per layer.

use burrow::image::{Image, Store};
use burrow::paths::Paths;
use serde_json::{json, Value};

use super::images::{ago, human_size, print_table};

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, value_name = "BOOL", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    human: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Output format: table (default) or json (one object per line)
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Image (name or id)
    image: String,
}

/// One history row.
struct Row {
    id: String,
    created: Option<chrono::DateTime<chrono::Utc>>,
    created_by: String,
    size: u64,
    comment: String,
}

fn rows(image: &Image, no_trunc: bool) -> Vec<Row> {
    let entries = image.config_json.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut layers = image.layers.iter();
    let mut out: Vec<Row> = if entries.is_empty() {
        image
            .layers
            .iter()
            .map(|l| Row { id: String::new(), created: None, created_by: String::new(), size: l.blob.size, comment: String::new() })
            .collect()
    } else {
        entries
            .iter()
            .map(|h| {
                let text = |k: &str| h.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let empty = h.get("empty_layer").and_then(Value::as_bool).unwrap_or(false);
                let size = if empty { 0 } else { layers.next().map(|l| l.blob.size).unwrap_or(0) };
                let created = chrono::DateTime::parse_from_rfc3339(&text("created")).ok().map(|t| t.with_timezone(&chrono::Utc));
                Row { id: String::new(), created, created_by: text("created_by"), size, comment: text("comment") }
            })
            .collect()
    };
    out.reverse();
    for (i, r) in out.iter_mut().enumerate() {
        r.id = match (i, no_trunc) {
            (0, true) => image.id.to_string(),
            (0, false) => image.id.short().to_string(),
            _ => "<missing>".to_string(),
        };
    }
    out
}

/// docker's `stringutils.Ellipsis`: at most `max` characters, the last an ellipsis.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

pub fn history(paths: &Paths, args: &HistoryArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
    let image = store.resolve(&args.image)?;
    let rows = rows(&image, args.no_trunc);
    if args.quiet {
        for r in &rows {
            println!("{}", r.id);
        }
        return Ok(());
    }
    let created = |r: &Row| match (r.created, args.human) {
        (None, _) => "N/A".to_string(),
        (Some(t), true) => ago(t),
        (Some(t), false) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let size = |r: &Row| if args.human { human_size(r.size) } else { r.size.to_string() };
    let created_by = |r: &Row| {
        let s = r.created_by.replace('\t', " ");
        if args.no_trunc {
            s
        } else {
            ellipsis(&s, 45)
        }
    };
    match args.format.as_deref() {
        None | Some("table") => {}
        Some("json") => {
            for r in &rows {
                let v = json!({
                    "Comment": r.comment,
                    "CreatedAt": r.created.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default(),
                    "CreatedBy": created_by(r),
                    "CreatedSince": created(r),
                    "ID": r.id,
                    "Size": size(r),
                });
                println!("{v}");
            }
            return Ok(());
        }
        Some(other) => anyhow::bail!("unsupported --format {other:?}: use table or json"),
    }
    let mut table = vec![["IMAGE".to_string(), "CREATED".into(), "CREATED BY".into(), "SIZE".into(), "COMMENT".into()]];
    for r in &rows {
        table.push([r.id.clone(), created(r), created_by(r), size(r), r.comment.clone()]);
    }
    print_table(&table);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis_like_docker() {
        assert_eq!(ellipsis("short", 45), "short");
        let long = "/bin/sh -c #(nop)  CMD [\"sh\"] and much more text here";
        let e = ellipsis(long, 45);
        assert_eq!(e.chars().count(), 45);
        assert!(e.ends_with('…'));
    }
}
