//! Platforms (`linux/arm64/v8`) and choosing one manifest from an image
//! index or docker manifest list. Pure.

use super::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// This machine: `linux/<arch>`.
    pub fn host() -> Platform {
        Platform { os: "linux".into(), architecture: crate::image::import::oci_arch().into(), variant: None }
    }

    /// `OS/ARCH[/VARIANT]` (also `ARCH` alone, meaning linux).
    pub fn parse(s: &str) -> Result<Platform> {
        let bad = || Error::BadPlatform { value: s.to_string() };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty() || p.contains(char::is_whitespace)) {
            return Err(bad());
        }
        let p = match parts.as_slice() {
            [arch] => Platform { os: "linux".into(), architecture: normalize_arch(arch), variant: None },
            [os, arch] => Platform { os: os.to_ascii_lowercase(), architecture: normalize_arch(arch), variant: None },
            [os, arch, v] => {
                Platform { os: os.to_ascii_lowercase(), architecture: normalize_arch(arch), variant: Some(v.to_ascii_lowercase()) }
            }
            _ => return Err(bad()),
        };
        Ok(p)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn normalize_arch(a: &str) -> String {
    match a.to_ascii_lowercase().as_str() {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        "i386" | "i686" => "386".into(),
        other => other.into(),
    }
}

/// One entry of an index, as far as choosing goes.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct IndexEntry {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: crate::image::Digest,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<EntryPlatform>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct EntryPlatform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// The entry for `want`: os and architecture must match; a wanted
/// variant must match too, otherwise an entry without variant (or the
/// usual one, arm64's v8) is preferred over the first of the rest.
pub fn choose<'a>(entries: &'a [IndexEntry], want: &Platform) -> Option<&'a IndexEntry> {
    let same =
        |e: &&IndexEntry| e.platform.as_ref().is_some_and(|p| p.os == want.os && normalize_arch(&p.architecture) == want.architecture);
    let candidates: Vec<&IndexEntry> = entries.iter().filter(same).collect();
    let variant = |e: &IndexEntry| e.platform.as_ref().and_then(|p| p.variant.clone());
    match &want.variant {
        Some(v) => candidates.into_iter().find(|e| variant(e).as_deref() == Some(v.as_str())),
        None => candidates.iter().find(|e| variant(e).is_none() || variant(e).as_deref() == Some("v8")).or(candidates.first()).copied(),
    }
}

/// `linux/amd64, linux/arm64/v8` for an error message.
pub fn describe(entries: &[IndexEntry]) -> String {
    let v: Vec<String> = entries
        .iter()
        .filter_map(|e| e.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<IndexEntry> {
        serde_json::from_str(
            r#"[
            {"mediaType":"m","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v6"}},
            {"mediaType":"m","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
            {"mediaType":"m","digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":1,"platform":{"os":"linux","architecture":"amd64"}},
            {"mediaType":"m","digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"mediaType":"m","digest":"sha256:5555555555555555555555555555555555555555555555555555555555555555","size":1,"platform":{"os":"unknown","architecture":"unknown"}}
        ]"#,
        )
        .unwrap()
    }

    #[test]
    fn chooses_by_os_arch_and_variant() {
        let e = entries();
        let pick = |s: &str| choose(&e, &Platform::parse(s).unwrap()).map(|x| x.digest.hex()[..1].to_string());
        assert_eq!(pick("linux/amd64").as_deref(), Some("3"));
        assert_eq!(pick("x86_64").as_deref(), Some("3"));
        assert_eq!(pick("linux/arm64").as_deref(), Some("4"));
        assert_eq!(pick("linux/arm/v7").as_deref(), Some("2"));
        assert_eq!(pick("linux/arm").as_deref(), Some("1"));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(describe(&e), "linux/arm/v6, linux/arm/v7, linux/amd64, linux/arm64/v8");
    }

    #[test]
    fn parses_platforms() {
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().to_string(), "linux/arm64/v8");
        assert!(Platform::parse("linux//x").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }
}
