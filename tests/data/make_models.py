"""Regenerate the glTF test models in tests/data/models/ and the malformed
ones in tests/data/bad/. Standard library only; the outputs are committed, so
the tests never need Python. Run from the repository root:

    python3 tests/data/make_models.py

The models are made here (procedural garments), so they carry no third-party
licence: they are this project's, Apache-2.0 like the code. With Debian's
`gltfpack` installed it also writes their EXT_meshopt_compression versions.
"""
import base64
import json
import math
import os
import struct
import zlib

MODELS = "tests/data/models"
BAD = "tests/data/bad"
os.makedirs(MODELS, exist_ok=True)
os.makedirs(BAD, exist_ok=True)

FLOAT, UINT, USHORT, SHORT = 5126, 5125, 5123, 5122


def png(width, height, pixel):
    """An RGB PNG; pixel(x, y) -> (r, g, b)."""
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height)
    )

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


class Builder:
    """Accumulates one binary buffer and the glTF JSON that indexes it."""

    def __init__(self):
        self.bin = bytearray()
        self.gltf = {
            "asset": {"version": "2.0", "generator": "atelier tests/data/make_models.py"},
            "scene": 0,
            "scenes": [{"nodes": []}],
            "nodes": [],
            "meshes": [],
            "materials": [],
            "accessors": [],
            "bufferViews": [],
            "buffers": [],
        }

    def view(self, data, target=None):
        while len(self.bin) % 4:
            self.bin.append(0)
        v = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target:
            v["target"] = target
        self.bin.extend(data)
        self.gltf["bufferViews"].append(v)
        return len(self.gltf["bufferViews"]) - 1

    def accessor(self, values, fmt, component, kind, count, target=None, minmax=None, normalized=False):
        data = b"".join(struct.pack("<" + fmt, *v) if isinstance(v, tuple) else struct.pack("<" + fmt, v) for v in values)
        a = {
            "bufferView": self.view(data, target),
            "componentType": component,
            "count": count,
            "type": kind,
        }
        if normalized:
            a["normalized"] = True
        if minmax:
            a["min"], a["max"] = minmax
        self.gltf["accessors"].append(a)
        return len(self.gltf["accessors"]) - 1

    def mesh(self, positions, normals, uvs, indices, material, quantized=False):
        lo = [min(p[i] for p in positions) for i in range(3)]
        hi = [max(p[i] for p in positions) for i in range(3)]
        attrs = {}
        if quantized:
            # KHR_mesh_quantization: int16 normalised positions in [-1, 1]
            # scaled back by the node, int8 normalised normals.
            ext = max(max(abs(v) for v in lo), max(abs(v) for v in hi))
            q = [tuple(round(c / ext * 32767) for c in p) + (0,) for p in positions]
            attrs["POSITION"] = self.accessor(
                q, "4h", SHORT, "VEC3", len(q), 34962,
                ([min(p[i] for p in q) for i in range(3)], [max(p[i] for p in q) for i in range(3)]),
                normalized=True,
            )
            self.gltf["accessors"][attrs["POSITION"]]["byteOffset"] = 0
            self.gltf["bufferViews"][-1]["byteStride"] = 8
            nq = [tuple(round(c * 127) for c in n) + (0,) for n in normals]
            attrs["NORMAL"] = self.accessor(nq, "4b", 5120, "VEC3", len(nq), 34962, normalized=True)
            self.gltf["bufferViews"][-1]["byteStride"] = 4
            scale = ext
        else:
            attrs["POSITION"] = self.accessor(positions, "3f", FLOAT, "VEC3", len(positions), 34962, (lo, hi))
            attrs["NORMAL"] = self.accessor(normals, "3f", FLOAT, "VEC3", len(normals), 34962)
            scale = None
        attrs["TEXCOORD_0"] = self.accessor(uvs, "2f", FLOAT, "VEC2", len(uvs), 34962)
        idx = self.accessor(indices, "I", UINT, "SCALAR", len(indices), 34963)
        self.gltf["meshes"].append(
            {"primitives": [{"attributes": attrs, "indices": idx, "material": material}]}
        )
        node = {"mesh": len(self.gltf["meshes"]) - 1}
        if scale:
            node["scale"] = [scale] * 3
        self.gltf["nodes"].append(node)
        self.gltf["scenes"][0]["nodes"].append(len(self.gltf["nodes"]) - 1)

    def image(self, data):
        self.gltf.setdefault("images", []).append(
            {"bufferView": self.view(data), "mimeType": "image/png"}
        )
        self.gltf.setdefault("textures", []).append({"source": len(self.gltf["images"]) - 1})
        return len(self.gltf["textures"]) - 1

    def glb(self):
        g = dict(self.gltf)
        g["buffers"] = [{"byteLength": len(self.bin)}] if self.bin else []
        for key in ["materials", "accessors", "bufferViews", "meshes", "buffers", "nodes"]:
            if not g[key]:
                del g[key]
        if not g["scenes"][0]["nodes"]:
            g["scenes"] = [{}]
        js = json.dumps(g, separators=(",", ":")).encode()
        js += b" " * (-len(js) % 4)
        binary = bytes(self.bin) + b"\x00" * (-len(self.bin) % 4)
        bin_chunk = struct.pack("<I4s", len(binary), b"BIN\x00") + binary if binary else b""
        total = 12 + 8 + len(js) + len(bin_chunk)
        return struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(js), b"JSON") + js + bin_chunk


def lathe(profile, segments):
    """Revolve (radius, height) points around +Y; returns positions, normals,
    uvs, indices. u runs around, v along the profile."""
    positions, normals, uvs, indices = [], [], [], []
    rings = len(profile)
    for i, (r, y) in enumerate(profile):
        # Profile tangent for the normal.
        r0, y0 = profile[max(i - 1, 0)]
        r1, y1 = profile[min(i + 1, rings - 1)]
        tr, ty = r1 - r0, y1 - y0
        nr, ny = ty, -tr
        ln = math.hypot(nr, ny) or 1.0
        nr, ny = nr / ln, ny / ln
        for s in range(segments + 1):
            a = s / segments * 2 * math.pi
            positions.append((r * math.sin(a), y, r * math.cos(a)))
            normals.append((nr * math.sin(a), ny, nr * math.cos(a)))
            uvs.append((s / segments * 4, i / (rings - 1)))
    for i in range(rings - 1):
        for s in range(segments):
            a = i * (segments + 1) + s
            b = a + segments + 1
            indices += [a, a + 1, b, a + 1, b + 1, b]
    return positions, normals, uvs, indices


def dress():
    """A sleeveless dress on a 1.7 m figure's proportions: bodice, waist,
    flared skirt, with a striped fabric texture."""
    b = Builder()
    profile = [
        (0.001, 1.42), (0.06, 1.42), (0.14, 1.38), (0.17, 1.30), (0.165, 1.22),
        (0.14, 1.10), (0.13, 1.04), (0.17, 0.95), (0.22, 0.80), (0.28, 0.62),
        (0.33, 0.48), (0.34, 0.46),
    ]
    # The lathe above runs top to bottom: its normals point inward; reverse.
    profile = profile[::-1]
    positions, normals, uvs, indices = lathe(profile, 48)
    stripes = png(64, 64, lambda x, y: (196, 40, 52) if (x // 8) % 2 == 0 else (236, 214, 190))
    tex = b.image(stripes)
    b.gltf["materials"].append(
        {
            "name": "striped cotton",
            "pbrMetallicRoughness": {
                "baseColorTexture": {"index": tex},
                "metallicFactor": 0.0,
                "roughnessFactor": 0.85,
            },
            "doubleSided": True,
        }
    )
    b.mesh(positions, normals, uvs, indices, 0)
    return b


def hat():
    """A wide-brimmed hat (crown and brim), stored with KHR_mesh_quantization,
    gold metallic band material."""
    b = Builder()
    profile = [(0.34, 0.0), (0.33, 0.01), (0.12, 0.012), (0.11, 0.10), (0.09, 0.15), (0.001, 0.16)]
    profile = profile  # outer surface runs bottom to top: normals outward
    positions, normals, uvs, indices = lathe(profile, 48)
    b.gltf["materials"].append(
        {
            "name": "straw",
            "pbrMetallicRoughness": {
                "baseColorFactor": [0.72, 0.55, 0.3, 1.0],
                "metallicFactor": 0.0,
                "roughnessFactor": 0.9,
            },
            "doubleSided": True,
        }
    )
    b.mesh(positions, normals, uvs, indices, 0, quantized=True)
    b.gltf["extensionsUsed"] = ["KHR_mesh_quantization"]
    b.gltf["extensionsRequired"] = ["KHR_mesh_quantization"]
    return b


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


dress_glb = dress().glb()
write(f"{MODELS}/dress.glb", dress_glb)
write(f"{MODELS}/hat.glb", hat().glb())

# The dress as a .gltf with an external .bin: the buffer is a separate file.
d = dress()
g = dict(d.gltf)
g["buffers"] = [{"byteLength": len(d.bin), "uri": "dress.bin"}]
write(f"{MODELS}/dress.gltf", json.dumps(g, indent=1).encode())
write(f"{MODELS}/dress.bin", bytes(d.bin))

# --- malformed models -------------------------------------------------------

# Not glTF at all: a PNG.
write(f"{BAD}/not-gltf.glb", png(4, 4, lambda x, y: (0, 0, 0)))

# A GLB cut off in its binary chunk.
write(f"{BAD}/truncated.glb", dress_glb[: len(dress_glb) // 2])

# A .gltf whose buffer points outside the upload (a file on the worker) and
# one that points at the network.
escape = dict(g)
escape["buffers"] = [{"byteLength": 1024, "uri": "../../../../etc/passwd"}]
write(f"{BAD}/outside-buffer.gltf", json.dumps(escape).encode())
network = dict(g)
network["buffers"] = [{"byteLength": 1024, "uri": "http://169.254.169.254/latest/meta-data"}]
write(f"{BAD}/network-buffer.gltf", json.dumps(network).encode())

# Claims 10 million triangles: an index accessor of 30 M elements on a tiny buffer.
m = dress()
m.gltf["accessors"][-1]["count"] = 30_000_000
write(f"{BAD}/ten-million-triangles.glb", m.glb())

# A 16384 x 16384 texture: header and the start of its pixel data (the size
# check comes before any decoding).
def png_header_only(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width * 3 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


huge = dress()
huge.gltf["images"][0]["bufferView"] = huge.view(png_header_only(16384, 16384))
write(f"{BAD}/texture-16k.glb", huge.glb())

# A decompression bomb as a texture (tests/data/bad/bomb.png: 50000 x 50000
# claimed in 74 bytes).
bomb = dress()
bomb.gltf["images"][0]["bufferView"] = bomb.view(open(f"{BAD}/bomb.png", "rb").read())
write(f"{BAD}/texture-bomb.glb", bomb.glb())

# A texture that is not an image.
notimg = dress()
notimg.gltf["images"][0]["bufferView"] = notimg.view(b"this is not an image at all" * 8)
write(f"{BAD}/texture-not-image.glb", notimg.glb())

# NaN positions.
nan = Builder()
pos, nor, uv, ind = lathe([(0.2, 0.0), (0.2, 1.0)], 8)
pos[3] = (float("nan"), 0.5, 0.0)
nan.gltf["materials"].append({})
nan.mesh(pos, nor, uv, ind, 0)
write(f"{BAD}/nan-positions.glb", nan.glb())

# A primitive whose indices name an accessor that does not exist.
missing = dress()
missing.gltf["meshes"][0]["primitives"][0]["indices"] = 99
write(f"{BAD}/missing-indices.glb", missing.glb())

# A valid glTF whose scene has a node but nothing to draw.
empty = Builder()
empty.gltf["nodes"].append({"name": "nothing here"})
empty.gltf["scenes"][0]["nodes"].append(0)
write(f"{BAD}/empty-scene.glb", empty.glb())

# The same models compressed by gltfpack (Debian's `gltfpack`, 0.18):
# EXT_meshopt_compression, quantised attributes, KHR_texture_transform.
import shutil
import subprocess

if shutil.which("gltfpack"):
    for name in ["dress", "hat"]:
        subprocess.run(
            ["gltfpack", "-i", f"{MODELS}/{name}.glb", "-o", f"{MODELS}/{name}-meshopt.glb", "-cc"],
            check=True,
        )
else:
    print("gltfpack not found: the *-meshopt.glb files were not regenerated")

print("wrote", sorted(os.listdir(MODELS)), "and the bad models in", BAD)
