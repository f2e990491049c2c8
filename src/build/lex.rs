//! Text → logical lines: parser directives, comments, continuations and
//! heredocs, as the Dockerfile reference describes them.
//!
//! Parser directives (`# escape=`, `# syntax=`, `# check=`) are only looked
//! for at the very top: the first comment that is not a directive, the first
//! empty line or the first instruction ends them. A comment is a line whose
//! first non-blank character is `#`; `#` elsewhere is an argument. A line
//! ending with the escape character continues on the next one; empty and
//! comment lines inside a continuation are dropped. After a RUN, COPY or ADD
//! (also behind ONBUILD) line, each `<<WORD` / `<<-WORD` on it takes the
//! following lines up to a line reading `WORD` as its body. This pass knows
//! nothing of instruction arguments beyond finding heredoc markers.

use super::{Heredoc, Located, Span};

/// A logical line: an instruction with its continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub span: Span,
    pub text: String,
    /// Where each joined physical line starts: byte offset in `text` and
    /// source position, so later passes can point into continuations.
    pub segments: Vec<(usize, Span)>,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug)]
pub(crate) struct Lexed {
    pub escape: char,
    pub syntax: Option<String>,
    pub lines: Vec<Line>,
}

/// Reads the directives at the top; returns them and the index of the first
/// line after them.
fn directives(lines: &[&str]) -> Result<(char, Option<String>, usize), Located> {
    let mut escape = None;
    let mut syntax = None;
    let mut check = false;
    let mut i = 0;
    while i < lines.len() {
        let Some(rest) = lines[i].trim_start().strip_prefix('#') else { break };
        let Some((key, value)) = rest.split_once('=') else { break };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        if key.contains(char::is_whitespace) {
            break;
        }
        let span = Span { line: i + 1, column: 1 };
        let seen = match key.as_str() {
            "escape" => {
                let c = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err(Located::new(span, format!("invalid escape directive {value:?}: use \\ or `"))),
                };
                escape.replace(c).is_some()
            }
            "syntax" => syntax.replace(value.to_string()).is_some(),
            "check" => std::mem::replace(&mut check, true),
            _ => break,
        };
        if seen {
            return Err(Located::new(span, format!("parser directive {key:?} given twice")));
        }
        i += 1;
    }
    Ok((escape.unwrap_or('\\'), syntax, i))
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The line without its trailing escape character if it continues: the
/// escape is its last character but blanks, and is not itself escaped (a
/// line ending in `\\` ends there), as BuildKit's parser decides.
fn continues(line: &str, escape: char) -> Option<&str> {
    let head = line.trim_end_matches([' ', '\t']).strip_suffix(escape)?;
    if head.ends_with(escape) {
        None
    } else {
        Some(head)
    }
}

/// Splits the text into logical lines.
pub(crate) fn lex(text: &str) -> Result<Lexed, Located> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let physical: Vec<&str> = text.lines().collect();
    let (escape, syntax, mut i) = directives(&physical)?;
    let mut out = Vec::new();
    while i < physical.len() {
        let first = physical[i];
        if is_blank_or_comment(first) {
            i += 1;
            continue;
        }
        let indent = first.chars().take_while(|c| c.is_whitespace()).count();
        let span = Span { line: i + 1, column: indent + 1 };
        let mut text = String::new();
        let mut segments = vec![(0, span)];
        let mut current = first.trim_start();
        i += 1;
        loop {
            match continues(current, escape) {
                Some(head) => {
                    text.push_str(head);
                    while i < physical.len() && is_blank_or_comment(physical[i]) {
                        i += 1;
                    }
                    if i == physical.len() {
                        break;
                    }
                    current = physical[i];
                    segments.push((text.len(), Span { line: i + 1, column: 1 }));
                    i += 1;
                }
                None => {
                    text.push_str(current);
                    break;
                }
            }
        }
        let text = text.trim().to_string();
        let mut heredocs = Vec::new();
        if takes_heredocs(&text) {
            for marker in markers(&text) {
                let mut body = String::new();
                let mut closed = false;
                while i < physical.len() {
                    let raw = physical[i];
                    i += 1;
                    let l = if marker.strip_tabs { raw.trim_start_matches('\t') } else { raw };
                    if l == marker.name {
                        closed = true;
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                if !closed {
                    return Err(Located::new(
                        span,
                        format!("heredoc <<{} is never terminated: add a line reading {}", marker.name, marker.name),
                    ));
                }
                heredocs.push(Heredoc { name: marker.name, body, expand: marker.expand, strip_tabs: marker.strip_tabs });
            }
        }
        out.push(Line { span, text, segments, heredocs });
    }
    Ok(Lexed { escape, syntax, lines: out })
}

/// Whether the line's instruction (possibly behind ONBUILD) takes heredocs.
fn takes_heredocs(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let mut first = words.next().unwrap_or("").to_ascii_uppercase();
    if first == "ONBUILD" {
        first = words.next().unwrap_or("").to_ascii_uppercase();
    }
    matches!(first.as_str(), "RUN" | "COPY" | "ADD")
}

struct Marker {
    name: String,
    expand: bool,
    strip_tabs: bool,
}

/// The heredoc markers on a line, in order, outside quotes.
fn markers(text: &str) -> Vec<Marker> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            i += 1;
            continue;
        }
        let prev_lt = i > 0 && chars[i - 1] == '<';
        if c == '<' && !prev_lt && chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') {
            let mut j = i + 2;
            let strip_tabs = chars.get(j) == Some(&'-');
            if strip_tabs {
                j += 1;
            }
            let q = chars.get(j).copied().filter(|c| *c == '"' || *c == '\'');
            if q.is_some() {
                j += 1;
            }
            let start = j;
            while j < chars.len() && !chars[j].is_whitespace() && !"\"'<>|;&()".contains(chars[j]) {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            let closed = match q {
                Some(q) => chars.get(j) == Some(&q),
                None => true,
            };
            if !name.is_empty() && closed {
                if q.is_some() {
                    j += 1;
                }
                out.push(Marker { name, expand: q.is_none(), strip_tabs });
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_then_comments() {
        let l = lex("# syntax=docker/dockerfile:1\n# escape=`\n\n# escape=\\\nFROM a `\n  # inside\n\n  AS b\n").unwrap();
        assert_eq!(l.escape, '`');
        assert_eq!(l.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(l.lines.len(), 1);
        assert_eq!(l.lines[0].text, "FROM a   AS b");
        assert_eq!(l.lines[0].span, Span { line: 5, column: 1 });
    }

    #[test]
    fn an_escaped_escape_ends_the_line() {
        let l = lex("FROM a\nENV C x\\\\\nENV D y\nRUN a \\\n  b\nRUN last \\").unwrap();
        let texts: Vec<&str> = l.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["FROM a", "ENV C x\\\\", "ENV D y", "RUN a   b", "RUN last"]);
        let tick = lex("# escape=`\nFROM a\nRUN x``\nRUN y `\n z").unwrap();
        let texts: Vec<&str> = tick.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["FROM a", "RUN x``", "RUN y  z"]);
    }

    #[test]
    fn heredocs_in_order() {
        let l = lex("RUN <<A cat - <<-'B'\none\nA\n\t\ttwo $x\n\tB\nCMD x\n").unwrap();
        let h = &l.lines[0].heredocs;
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].name.as_str(), h[0].body.as_str(), h[0].expand), ("A", "one\n", true));
        assert_eq!((h[1].body.as_str(), h[1].expand, h[1].strip_tabs), ("two $x\n", false, true));
        assert_eq!(l.lines[1].span.line, 6);
    }

    #[test]
    fn bom_and_crlf() {
        let l = lex("\u{feff}# escape=`\r\nFROM a `\r\n  AS b\r\n").unwrap();
        assert_eq!(l.escape, '`');
        assert_eq!(l.lines[0].text, "FROM a   AS b");
    }

    #[test]
    fn here_string_is_not_heredoc() {
        assert!(markers("RUN cat <<<word").is_empty());
        assert!(markers("RUN echo '<<EOF'").is_empty());
    }
}
