#!/usr/bin/env python3
"""oci-layout.py — turn a root filesystem tarball into an OCI image layout
with several layers, for burrow's registry tests and benchmarks.

    oci-layout.py SRC.tar OUTDIR --ref NAME [--layer PREFIX=COMPRESSION]...
                  [--base COMPRESSION] [--cmd ARG]... [--env K=V]...

The tree in SRC.tar is split into disjoint subtrees: each --layer PREFIX
(a directory such as usr/share) becomes its own layer, in the order given,
on top of a base layer holding everything else. Each layer also carries the
parent directories of its entries (same metadata as in SRC.tar), so that it
unpacks on its own; a hard link whose target lands in another layer becomes
a regular file. Applied in order, the layers reproduce SRC.tar's tree.

COMPRESSION is gzip, zstd (needs the zstd program) or none; the media types
are application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]. Entries are sorted
by path, owners are numeric (uname/gname empty), compression carries no
timestamps, and the config's dates are fixed, so the same SRC.tar gives the
same digests.

OUTDIR gets oci-layout, index.json (one manifest, annotated
org.opencontainers.image.ref.name=NAME) and blobs/sha256/. The config has
os linux, the host's architecture (as dpkg names it), Cmd, Env,
rootfs.diff_ids (sha256 of each uncompressed layer tar) and one history
entry per layer. The layout follows the OCI image spec v1.0 (image-layout.md,
manifest.md, config.md).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile

MEDIA = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
CREATED = "2024-01-01T00:00:00Z"


def host_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)


def norm(name):
    """./usr/bin/ -> usr/bin; ./ -> '' (the root itself)."""
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/") if name not in (".", "/") else ""


def owner(path, prefixes):
    """Index of the layer (1-based) whose prefix holds path; 0 for the base."""
    for i, p in enumerate(prefixes, 1):
        if path == p or path.startswith(p + "/"):
            return i
    return 0


def parents(path):
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest(), os.path.getsize(path)


class Blobs:
    def __init__(self, out):
        self.dir = os.path.join(out, "blobs", "sha256")
        os.makedirs(self.dir, exist_ok=True)

    def add_file(self, path, media):
        digest, size = sha256_file(path)
        shutil.move(path, os.path.join(self.dir, digest))
        return {"mediaType": media, "digest": "sha256:" + digest, "size": size}

    def add_json(self, obj, media):
        data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.dir, digest), "wb") as f:
            f.write(data)
        return {"mediaType": media, "digest": "sha256:" + digest, "size": len(data)}


def write_layer(src, members, by_name, path):
    """Write the members (already sorted, parents first) as an
    uncompressed tar at path."""
    written = set()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as out:
        for name in members:
            ti = by_name[name]
            new = tarfile.TarInfo(name if not ti.isdir() else name + "/")
            new.mode, new.uid, new.gid, new.mtime = ti.mode, ti.uid, ti.gid, ti.mtime
            new.uname = new.gname = ""
            new.type, new.linkname = ti.type, ti.linkname
            new.devmajor, new.devminor = ti.devmajor, ti.devminor
            new.pax_headers = {k: v for k, v in ti.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            data = None
            if ti.islnk():
                target = norm(ti.linkname)
                if target in written:
                    new.linkname = target
                else:
                    # The target is in another layer, or comes later in
                    # this one: store a copy.
                    new.type, new.linkname = tarfile.REGTYPE, ""
                    data = src.extractfile(ti)
                    new.size = by_name[target].size
            elif ti.isreg():
                new.size = ti.size
                data = src.extractfile(ti)
            out.addfile(new, data)
            written.add(name)


def compress(path, how):
    if how == "none":
        return path
    if how == "gzip":
        dst = path + ".gz"
        with open(path, "rb") as f, open(dst, "wb") as raw:
            # mtime=0 and no file name: the same tar gives the same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as g:
                shutil.copyfileobj(f, g, 1 << 20)
    elif how == "zstd":
        dst = path + ".zst"
        subprocess.run(["zstd", "-q", "-3", "--no-progress", "-o", dst, path], check=True)
    else:
        sys.exit(f"oci-layout: unknown compression {how!r} (gzip, zstd or none)")
    os.unlink(path)
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--ref", required=True)
    ap.add_argument("--layer", action="append", default=[], metavar="PREFIX=COMPRESSION")
    ap.add_argument("--base", default="gzip", metavar="COMPRESSION")
    ap.add_argument("--cmd", action="append", default=[])
    ap.add_argument("--env", action="append", default=[])
    a = ap.parse_args()

    layers = []  # (prefix, compression)
    for spec in a.layer:
        prefix, _, how = spec.partition("=")
        layers.append((norm(prefix), how or "gzip"))
    prefixes = [p for p, _ in layers]

    src = tarfile.open(a.src, "r:")
    by_name = {}
    for ti in src.getmembers():
        name = norm(ti.name)
        if name == "":
            continue  # the root directory itself
        by_name[name] = ti  # a later entry for the same path wins, as tar does

    groups = [set() for _ in range(len(layers) + 1)]
    for name in by_name:
        i = owner(name, prefixes)
        groups[i].add(name)
        for p in parents(name):
            if p in by_name:
                groups[i].add(p)
            else:
                sys.exit(f"oci-layout: {a.src} has {name} but not its parent directory {p}")
    # Parents before children: sort by path components.
    order = [sorted(g, key=lambda n: n.split("/")) for g in groups]

    os.makedirs(a.out, exist_ok=True)
    blobs = Blobs(a.out)
    work = tempfile.mkdtemp(prefix="oci-layout.", dir=a.out)
    descs, diff_ids, history = [], [], []
    try:
        for i, (members, how) in enumerate(zip(order, [a.base] + [h for _, h in layers])):
            tar = os.path.join(work, f"layer{i}.tar")
            write_layer(src, members, by_name, tar)
            diff_ids.append("sha256:" + sha256_file(tar)[0])
            what = "everything else" if i == 0 else "/" + prefixes[i - 1]
            descs.append(blobs.add_file(compress(tar, how), MEDIA[how]))
            history.append({"created": CREATED, "created_by": f"oci-layout.py: {what} ({len(members)} entries, {how})"})
    finally:
        shutil.rmtree(work, ignore_errors=True)

    config = {
        "created": CREATED,
        "architecture": host_arch(),
        "os": "linux",
        "config": {"Cmd": a.cmd or ["/bin/sh"], "Env": a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    cfg = blobs.add_json(config, "application/vnd.oci.image.config.v1+json")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cfg,
        "layers": descs,
    }
    man = blobs.add_json(manifest, "application/vnd.oci.image.manifest.v1+json")
    man["annotations"] = {"org.opencontainers.image.ref.name": a.ref}
    man["platform"] = {"architecture": config["architecture"], "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [man]}
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f, indent=2)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(f"oci-layout: wrote {a.out} ({a.ref}: {len(descs)} layers, manifest {man['digest']}, config {cfg['digest']})")


if __name__ == "__main__":
    main()
