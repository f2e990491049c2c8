//! `burrow info`.

use burrow::paths::Paths;

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Output format: text (default) or json
    #[arg(short, long, default_value = "text")]
    format: String,
}

pub fn info(paths: &Paths, args: &InfoArgs) -> anyhow::Result<()> {
    let r = burrow::info::probe(paths);
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&r)?),
        "text" => {
            let yes = |ok: bool| if ok { "yes" } else { "NO" };
            println!("burrow version {}", r.version);
            let open = |private: bool| if private { "" } else { " (OPEN to other users)" };
            println!("storage root:   {}{}", r.storage_root.display(), open(r.storage_private));
            println!("runtime dir:    {}{}", r.runtime_dir.display(), open(r.runtime_dir_private));
            println!("id mapping:     {} ({} ids)", r.id_mapping.mode, r.id_mapping.ids);
            println!("  uid_map:      {}", r.id_mapping.uid_map);
            println!("  gid_map:      {}", r.id_mapping.gid_map);
            if let Some(why) = &r.id_mapping.reason {
                println!("  why:          {why}");
            }
            println!("FUSE:           {} ({})", yes(r.fuse.ok), r.fuse.detail);
            println!("TUN:            {} ({})", yes(r.tun.ok), r.tun.detail);
            println!("ping:           {} ({})", yes(r.ping.ok), r.ping.detail);
            println!("cgroups:        {}", r.cgroups.version);
            for (c, dir) in &r.cgroups.delegated {
                println!("  delegated:    {c} at {}", dir.display());
            }
            println!("  enforceable:  {}", r.cgroups.enforceable_limits.join(", "));
            for why in &r.cgroups.not_enforceable {
                println!("  not enforced: {why}");
            }
            if !r.cgroups.not_enforceable.is_empty() {
                println!("                (run refuses those flags unless --limits=best-effort)");
            }
            if r.fixes.is_empty() {
                println!("everything burrow needs is in place");
            } else {
                println!("to fix:");
                for f in &r.fixes {
                    println!("  - {f}");
                }
            }
        }
        other => anyhow::bail!("unsupported --format {other:?}: use text or json"),
    }
    Ok(())
}
