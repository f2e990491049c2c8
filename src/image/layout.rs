//! The JSON documents of an OCI image layout: `oci-layout`, `index.json`,
//! descriptors and manifests (OCI image spec `image-layout.md`,
//! `image-index.md`, `manifest.md`, `descriptor.md`).
//!
//! These are small serde structs rather than `oci_spec`'s builders so that
//! unknown fields survive a read-modify-write of `index.json` (`extra`) and
//! the bytes we hash are the bytes we write. The image config itself is
//! parsed with `oci_spec::image::ImageConfiguration`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

pub const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// A content descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor { media_type: media_type.to_string(), digest, size, annotations: BTreeMap::new(), extra: BTreeMap::new() }
    }

    /// The image name this index entry carries, if any.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(super::REF_NAME_ANNOTATION).map(String::as_str)
    }
}

/// `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Default for Index {
    fn default() -> Index {
        Index { schema_version: 2, media_type: Some(MEDIA_INDEX.to_string()), manifests: Vec::new(), extra: BTreeMap::new() }
    }
}

/// Naming rules on `index.json`. Every manifest in the index has either
/// one descriptor per name, or exactly one descriptor without a name (an
/// untagged, "<none>" image). A manifest with no descriptor at all is no
/// longer an image.
impl Index {
    /// The manifest a full normalized name points at.
    pub fn lookup(&self, name: &str) -> Option<&Descriptor> {
        self.manifests.iter().find(|d| d.ref_name() == Some(name))
    }

    /// Names pointing at a manifest, in index order.
    pub fn names_of(&self, manifest: &Digest) -> Vec<String> {
        self.manifests.iter().filter(|d| d.digest == *manifest).filter_map(|d| d.ref_name().map(str::to_string)).collect()
    }

    /// Point `name` at `manifest`. A manifest that loses its last name this
    /// way stays as an untagged image, as in docker.
    pub fn set_name(&mut self, name: &str, manifest: &Descriptor) {
        if self.lookup(name).is_some_and(|d| d.digest == manifest.digest) {
            return;
        }
        self.remove_name(name);
        self.manifests.retain(|d| !(d.digest == manifest.digest && d.ref_name().is_none()));
        let mut d = Descriptor::new(&manifest.media_type, manifest.digest.clone(), manifest.size);
        d.annotations.insert(super::REF_NAME_ANNOTATION.to_string(), name.to_string());
        self.manifests.push(d);
    }

    /// Add `manifest` as an untagged image unless it is already present.
    pub fn add_untagged(&mut self, manifest: &Descriptor) {
        if !self.manifests.iter().any(|d| d.digest == manifest.digest) {
            self.manifests.push(Descriptor::new(&manifest.media_type, manifest.digest.clone(), manifest.size));
        }
    }

    /// Remove a name; the manifest it pointed at, if it lost its last name
    /// (it then keeps an untagged descriptor; `remove_manifest` drops it).
    pub fn remove_name(&mut self, name: &str) -> Option<Descriptor> {
        let pos = self.manifests.iter().position(|d| d.ref_name() == Some(name))?;
        let old = self.manifests.remove(pos);
        if !self.manifests.iter().any(|d| d.digest == old.digest) {
            self.manifests.push(Descriptor::new(&old.media_type, old.digest.clone(), old.size));
            return Some(old);
        }
        None
    }

    /// Drop every descriptor of a manifest.
    pub fn remove_manifest(&mut self, manifest: &Digest) {
        self.manifests.retain(|d| d.digest != *manifest);
    }
}

/// An image manifest (OCI or docker schema 2; they share this shape).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest { schema_version: 2, media_type: Some(MEDIA_MANIFEST.to_string()), config, layers, annotations: BTreeMap::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keeps_unknown_fields() {
        let d = Digest::of_bytes(b"m");
        let text = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{MEDIA_MANIFEST}","digest":"{d}","size":3,"platform":{{"os":"linux"}},"annotations":{{"org.opencontainers.image.ref.name":"docker.io/library/a:latest"}}}}],"custom":1}}"#
        );
        let idx: Index = serde_json::from_str(&text).unwrap();
        assert_eq!(idx.manifests[0].ref_name(), Some("docker.io/library/a:latest"));
        let again = serde_json::to_value(&idx).unwrap();
        assert_eq!(again["custom"], 1);
        assert_eq!(again["manifests"][0]["platform"]["os"], "linux");
    }

    fn desc(x: &[u8]) -> Descriptor {
        Descriptor::new(MEDIA_MANIFEST, Digest::of_bytes(x), 1)
    }

    #[test]
    fn naming_rules() {
        let (a, b) = (desc(b"a"), desc(b"b"));
        let mut idx = Index::default();
        idx.add_untagged(&a);
        idx.add_untagged(&a);
        assert_eq!(idx.manifests.len(), 1);
        idx.set_name("n1", &a);
        assert_eq!(idx.manifests.len(), 1, "untagged entry replaced by the name");
        idx.set_name("n2", &a);
        idx.set_name("n2", &a);
        assert_eq!(idx.names_of(&a.digest), vec!["n1", "n2"]);
        // Moving n1 to b: a keeps n2.
        idx.set_name("n1", &b);
        assert_eq!(idx.names_of(&a.digest), vec!["n2"]);
        // Moving n2 to b: a becomes untagged.
        idx.set_name("n2", &b);
        assert!(idx.names_of(&a.digest).is_empty());
        assert!(idx.manifests.iter().any(|d| d.digest == a.digest && d.ref_name().is_none()));
        assert_eq!(idx.remove_name("n1"), None);
        assert_eq!(idx.remove_name("n2").map(|d| d.digest), Some(b.digest.clone()));
        assert_eq!(idx.remove_name("n2"), None);
        idx.remove_manifest(&b.digest);
        idx.remove_manifest(&a.digest);
        assert!(idx.manifests.is_empty());
    }
}
