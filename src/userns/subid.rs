//! Parsing of `/etc/subuid` and `/etc/subgid` (subuid(5)).
//!
//! Each line is `OWNER:START:COUNT`, where OWNER is a login name or a
//! numeric uid. A user may own several ranges; burrow uses them all, in file
//! order, so a user with two ranges gets both.

/// One subordinate id range owned by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubidRange {
    pub start: u32,
    pub count: u32,
}

/// Ranges of `text` owned by `name` or by numeric `id`. Malformed lines are
/// skipped, as shadow-utils does.
pub fn parse_subid(text: &str, name: Option<&str>, id: u32) -> Vec<SubidRange> {
    let id_str = id.to_string();
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let mut parts = line.split(':');
            let (owner, start, count) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            if owner != id_str && Some(owner) != name {
                return None;
            }
            let start: u32 = start.trim().parse().ok()?;
            let count: u32 = count.trim().parse().ok()?;
            (count > 0).then_some(SubidRange { start, count })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ranges_by_name_and_uid() {
        let text = "alice:100000:65536\nbob:165536:65536\n1000:300000:10\n# c\nbad\nalice:x:1\n";
        assert_eq!(
            parse_subid(text, Some("alice"), 1000),
            vec![SubidRange { start: 100000, count: 65536 }, SubidRange { start: 300000, count: 10 }]
        );
        assert_eq!(parse_subid(text, Some("carol"), 1001), vec![]);
    }

    #[test]
    fn zero_count_is_ignored() {
        assert_eq!(parse_subid("a:1:0\n", Some("a"), 5), vec![]);
    }
}
