//! Which keys exist where, and which of them burrow does.
//!
//! Each mapping of the compose specification has a table: the keys burrow
//! implements, and the keys the specification defines that burrow does
//! not (refused by name: "services.web.gpus is not supported by burrow").
//! A key in neither is unknown ("unknown key services.web.portz"), as the
//! specification's JSON schema would refuse it. Extension keys (`x-...`)
//! are allowed in every mapping and ignored, as the specification says.
//! The tables follow compose-spec's `schema/compose-spec.json`; moving a
//! key from `unsupported` to `supported` is the one change needed when
//! burrow learns it.

use serde_norway::Mapping;

use super::value::{join, key_text, ShapeError};

/// One mapping's keys.
pub struct Keys {
    pub supported: &'static [&'static str],
    pub unsupported: &'static [&'static str],
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SchemaError {
    #[error("unknown key {path}: check its spelling against the compose specification")]
    Unknown { path: String },
    #[error("{path} is not supported by burrow{hint}")]
    Unsupported { path: String, hint: &'static str },
    #[error(transparent)]
    Shape(#[from] ShapeError),
    #[error(transparent)]
    Words(#[from] super::words::WordsError),
}

/// Check a mapping's keys against its table.
pub fn check(m: &Mapping, path: &str, keys: &Keys) -> Result<(), SchemaError> {
    for k in m.keys() {
        let key = key_text(k, path)?;
        if key.starts_with("x-") || keys.supported.contains(&key.as_str()) {
            continue;
        }
        let p = join(path, &key);
        if keys.unsupported.contains(&key.as_str()) {
            return Err(SchemaError::Unsupported { path: p, hint: hint(&key) });
        }
        return Err(SchemaError::Unknown { path: p });
    }
    Ok(())
}

fn hint(key: &str) -> &'static str {
    match key {
        "container_name" => ": burrow names containers PROJECT-SERVICE-N",
        "include" => ": merge the files with -f instead",
        _ => "",
    }
}

pub const TOP: Keys =
    Keys { supported: &["version", "name", "services", "networks", "volumes", "secrets", "configs"], unsupported: &["include", "models"] };

pub const SERVICE: Keys = Keys {
    supported: &[
        "image",
        "build",
        "command",
        "entrypoint",
        "environment",
        "env_file",
        "ports",
        "expose",
        "volumes",
        "networks",
        "network_mode",
        "depends_on",
        "healthcheck",
        "restart",
        "deploy",
        "user",
        "working_dir",
        "hostname",
        "labels",
        "init",
        "read_only",
        "tmpfs",
        "extra_hosts",
        "dns",
        "cap_add",
        "cap_drop",
        "stop_signal",
        "stop_grace_period",
        "ulimits",
        "profiles",
        "secrets",
        "configs",
        "extends",
    ],
    unsupported: &[
        "annotations",
        "attach",
        "blkio_config",
        "cpu_count",
        "cpu_percent",
        "cpu_shares",
        "cpu_period",
        "cpu_quota",
        "cpu_rt_runtime",
        "cpu_rt_period",
        "cpus",
        "cpuset",
        "cgroup",
        "cgroup_parent",
        "container_name",
        "credential_spec",
        "develop",
        "device_cgroup_rules",
        "devices",
        "dns_opt",
        "dns_search",
        "domainname",
        "driver_opts",
        "external_links",
        "gpus",
        "group_add",
        "ipc",
        "isolation",
        "label_file",
        "links",
        "logging",
        "mac_address",
        "mem_limit",
        "mem_reservation",
        "mem_swappiness",
        "memswap_limit",
        "models",
        "net",
        "oom_kill_disable",
        "oom_score_adj",
        "pid",
        "pids_limit",
        "platform",
        "post_start",
        "pre_stop",
        "privileged",
        "provider",
        "pull_policy",
        "pull_refresh_after",
        "runtime",
        "scale",
        "security_opt",
        "shm_size",
        "stdin_open",
        "storage_opt",
        "sysctls",
        "tty",
        "use_api_socket",
        "userns_mode",
        "uts",
        "volumes_from",
    ],
};

pub const BUILD: Keys = Keys {
    supported: &["context", "dockerfile", "args", "target", "labels"],
    unsupported: &[
        "additional_contexts",
        "cache_from",
        "cache_to",
        "dockerfile_inline",
        "entitlements",
        "extra_hosts",
        "isolation",
        "network",
        "no_cache",
        "platforms",
        "privileged",
        "provenance",
        "pull",
        "sbom",
        "secrets",
        "shm_size",
        "ssh",
        "tags",
        "ulimits",
    ],
};

pub const DEPLOY: Keys = Keys {
    supported: &["replicas", "resources"],
    unsupported: &["endpoint_mode", "labels", "mode", "placement", "restart_policy", "rollback_config", "update_config"],
};

pub const RESOURCES: Keys = Keys { supported: &["limits"], unsupported: &["reservations"] };

pub const LIMITS: Keys = Keys { supported: &["cpus", "memory", "pids"], unsupported: &[] };

pub const HEALTHCHECK: Keys =
    Keys { supported: &["test", "interval", "timeout", "start_period", "start_interval", "retries", "disable"], unsupported: &[] };

pub const PORT: Keys = Keys { supported: &["target", "published", "host_ip", "protocol", "mode"], unsupported: &["name", "app_protocol"] };

pub const MOUNT: Keys =
    Keys { supported: &["type", "source", "target", "read_only", "bind", "volume", "tmpfs"], unsupported: &["consistency", "image"] };

pub const MOUNT_BIND: Keys = Keys { supported: &["propagation", "create_host_path", "selinux"], unsupported: &["recursive"] };

pub const MOUNT_VOLUME: Keys = Keys { supported: &["nocopy"], unsupported: &["subpath", "labels"] };

pub const MOUNT_TMPFS: Keys = Keys { supported: &["size", "mode"], unsupported: &[] };

pub const SERVICE_NETWORK: Keys = Keys {
    supported: &["aliases", "ipv4_address"],
    unsupported: &["driver_opts", "gw_priority", "interface_name", "ipv6_address", "link_local_ips", "mac_address", "priority"],
};

pub const DEPENDS_ON: Keys = Keys { supported: &["condition", "restart", "required"], unsupported: &[] };

pub const FILE_REF: Keys = Keys { supported: &["source", "target", "uid", "gid", "mode"], unsupported: &[] };

pub const ENV_FILE: Keys = Keys { supported: &["path", "required"], unsupported: &["format"] };

pub const EXTENDS: Keys = Keys { supported: &["service", "file"], unsupported: &[] };

pub const ULIMIT: Keys = Keys { supported: &["soft", "hard"], unsupported: &[] };

pub const NETWORK: Keys = Keys {
    supported: &["name", "external", "driver", "internal", "labels", "enable_ipv6", "ipam"],
    unsupported: &["attachable", "driver_opts", "enable_ipv4"],
};

pub const IPAM: Keys = Keys { supported: &["driver", "config"], unsupported: &["options"] };

pub const IPAM_POOL: Keys = Keys { supported: &["subnet", "gateway", "ip_range"], unsupported: &["aux_addresses"] };

pub const VOLUME: Keys = Keys { supported: &["name", "external", "driver", "labels"], unsupported: &["driver_opts"] };

pub const SECRET: Keys =
    Keys { supported: &["name", "file", "environment", "external"], unsupported: &["driver", "driver_opts", "template_driver", "labels"] };

pub const CONFIG: Keys =
    Keys { supported: &["name", "file", "content", "environment", "external"], unsupported: &["template_driver", "labels"] };
