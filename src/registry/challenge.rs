//! `WWW-Authenticate` challenges (RFC 7235) as registries send them.
//!
//! A registry that wants credentials answers 401 with either
//! `Basic realm="..."` (send the user's password on every request) or
//! `Bearer realm="https://auth/token",service="reg",scope="repository:x:pull"`
//! (fetch a token from the realm, then send it as `Authorization: Bearer`;
//! docker's token protocol). This module only parses; `client` acts on the
//! result. Parameters are `name=token` or `name="quoted string"` with `\`
//! escapes, separated by commas; several challenges in one header are
//! separated the same way, and the first Bearer or Basic one wins.

use std::collections::BTreeMap;

/// What the registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

/// Parse one `WWW-Authenticate` value; `None` when it names no scheme
/// burrow speaks (or is malformed).
pub fn parse(header: &str) -> Option<Challenge> {
    let mut rest = header.trim();
    while !rest.is_empty() {
        let (scheme, after) = split_token(rest);
        let (params, after) = parse_params(after);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => return Some(Challenge::Basic),
            "bearer" => {
                let realm = params.get("realm")?.clone();
                return Some(Challenge::Bearer { realm, service: params.get("service").cloned(), scope: params.get("scope").cloned() });
            }
            _ => rest = after.trim_start_matches([',', ' ']),
        }
        if scheme.is_empty() {
            return None;
        }
    }
    None
}

fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find([' ', ',', '=']).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// `a=b, c="d"` up to the start of the next challenge (a token followed
/// by a space rather than `=`).
fn parse_params(mut s: &str) -> (BTreeMap<String, String>, &str) {
    let mut out = BTreeMap::new();
    loop {
        s = s.trim_start_matches([' ', ',']);
        let (name, after) = split_token(s);
        if name.is_empty() || !after.starts_with('=') {
            return (out, s);
        }
        let after = &after[1..];
        let (value, rest) = if let Some(q) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            v.push(e);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &q[end.min(q.len())..])
        } else {
            let end = after.find([',', ' ']).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.insert(name.to_ascii_lowercase(), value);
        s = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_all_parameters() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#;
        assert_eq!(
            parse(h),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
    }

    #[test]
    fn basic_and_case_and_spacing() {
        assert_eq!(parse(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(parse("basic"), Some(Challenge::Basic));
        // RFC 7235 allows no spaces around `=`: such a realm is not found.
        assert_eq!(parse(r#"BEARER  realm = "r" , service=svc"#), None);
        assert_eq!(
            parse(r#"Bearer realm="r",service=svc"#),
            Some(Challenge::Bearer { realm: "r".into(), service: Some("svc".into()), scope: None })
        );
    }

    #[test]
    fn escapes_and_several_challenges() {
        assert_eq!(
            parse(r#"Negotiate abc, Bearer realm="a\"b""#),
            Some(Challenge::Bearer { realm: "a\"b".into(), service: None, scope: None })
        );
        assert_eq!(parse(r#"Digest realm="x", nonce="y""#), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("Bearer service=x"), None, "a bearer challenge without realm is useless");
    }
}
