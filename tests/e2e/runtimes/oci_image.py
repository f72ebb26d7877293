#!/usr/bin/python3
"""Writes a one-layer OCI image archive (an OCI image layout in a tar) for the runtime tests, so
containerd (`ctr images import`) and podman (`podman load`) get an image without any registry.

  oci_image.py --name weft.test/httpd:1 --out img.tar --entrypoint /bin/busybox httpd -f \\
               --file /bin/busybox=/bin/busybox --symlink /bin/sh=busybox --text /www/index.html=hi

Every path in the layer is owned by root, with mtime 0, so the same inputs give the same digest.
"""
import argparse
import hashlib
import io
import json
import os
import tarfile


def add_parents(tar, seen, path):
    parts = path.strip("/").split("/")[:-1]
    for i in range(len(parts)):
        d = "/".join(parts[: i + 1])
        if d not in seen:
            seen.add(d)
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(ti)


def layer(args):
    buf, seen = io.BytesIO(), set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for spec in args.file:
            dst, src = spec.split("=", 1)
            add_parents(tar, seen, dst)
            with open(src, "rb") as f:
                data = f.read()
            ti = tarfile.TarInfo(dst.strip("/"))
            ti.size, ti.mode = len(data), 0o755
            tar.addfile(ti, io.BytesIO(data))
        for spec in args.text:
            dst, text = spec.split("=", 1)
            add_parents(tar, seen, dst)
            data = text.encode() + b"\n"
            ti = tarfile.TarInfo(dst.strip("/"))
            ti.size, ti.mode = len(data), 0o644
            tar.addfile(ti, io.BytesIO(data))
        for spec in args.symlink:
            dst, target = spec.split("=", 1)
            add_parents(tar, seen, dst)
            ti = tarfile.TarInfo(dst.strip("/"))
            ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, target, 0o777
            tar.addfile(ti)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True, help="full reference, e.g. weft.test/httpd:1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--file", action="append", default=[], help="DST=SRC (mode 0755)")
    ap.add_argument("--text", action="append", default=[], help="DST=TEXT (mode 0644)")
    ap.add_argument("--symlink", action="append", default=[], help="DST=TARGET")
    ap.add_argument("--entrypoint", nargs=argparse.REMAINDER, required=True)
    args = ap.parse_args()

    blobs = {}

    def blob(data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def js(obj):
        return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()

    tar_layer = layer(args)
    layer_desc = blob(tar_layer, "application/vnd.oci.image.layer.v1.tar")
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": args.entrypoint, "WorkingDir": "/",
                   "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(tar_layer).hexdigest()]},
    }
    config_desc = blob(js(config), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": [layer_desc]}
    manifest_desc = blob(js(manifest), "application/vnd.oci.image.manifest.v1+json")
    manifest_desc["annotations"] = {"io.containerd.image.name": args.name,
                                    "org.opencontainers.image.ref.name": args.name}
    index = {"schemaVersion": 2, "manifests": [manifest_desc]}

    with tarfile.open(args.out, "w") as out:
        def put(name, data):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            out.addfile(ti, io.BytesIO(data))
        put("oci-layout", js({"imageLayoutVersion": "1.0.0"}))
        put("index.json", js(index))
        for digest, data in sorted(blobs.items()):
            put("blobs/sha256/" + digest.split(":", 1)[1], data)


if __name__ == "__main__":
    main()
