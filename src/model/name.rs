//! The rule for names users give to the things burrow keeps.

/// docker's rule for container and network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web-1.a_b"));
        assert!(valid_name("a"));
        for bad in ["", "-web", ".x", "a/b", "a b", "ü"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
