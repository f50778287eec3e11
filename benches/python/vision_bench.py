"""The same models through Python onnxruntime, with the same thread count,
timed the same way as atelier-vision-bench: the bare model on a ready tensor,
and the job path (decode with Pillow, letterbox with Pillow's bilinear
resize, normalise with numpy, run, decode outputs). Prints JSON lines.

    python benches/python/vision_bench.py PHOTO ITERATIONS THREADS MODELS_DIR
"""
import json
import os
import statistics
import sys
import threading
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

photo_path, iterations, threads, models_dir = (
    sys.argv[1],
    int(sys.argv[2]),
    int(sys.argv[3]),
    sys.argv[4],
)
REPO_MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "models", "onnx")


def session(name, where=REPO_MODELS):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        os.path.join(where, name), options, providers=["CPUExecutionProvider"]
    )


def median_ms(fn):
    fn()
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def letterbox(img, size, a, b, region=None):
    if region is not None:
        img = img.crop(region)
    w, h = img.size
    scale = size / max(w, h)
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(img.resize((rw, rh), Image.BILINEAR), dtype=np.float32)
    out = np.full((size, size, 3), b, dtype=np.float32)
    px, py = (size - rw) // 2, (size - rh) // 2
    out[py : py + rh, px : px + rw] = a * resized / 255.0 + b
    return out.transpose(2, 0, 1)[None], scale, px, py


def decode():
    return Image.open(photo_path).convert("RGB")


def report(model, bare, full):
    print(json.dumps({"impl": "python-onnxruntime", "model": model, "bare_ms": bare,
                      "job_path_ms": full, "overhead_pct": (full - bare) / bare * 100,
                      "overhead_after_decode_pct": (full - DECODE - bare) / bare * 100}))


img = decode()
DECODE = median_ms(lambda: np.asarray(decode()))
print(json.dumps({"impl": "python-onnxruntime", "decode_ms": DECODE}))

pose = session("mediapipe_pose_landmark_full.onnx")
t = letterbox(img, 256, 1.0, 0.0)[0]
bare = median_ms(lambda: pose.run(None, {"input_1": t}))


def pose_path():
    im = decode()
    t, scale, px, py = letterbox(im, 256, 1.0, 0.0)
    out = pose.run(None, {"input_1": t})
    lm = out[0].reshape(39, 5)[:33]
    xs = (lm[:, 0] - px) / scale
    ys = (lm[:, 1] - py) / scale
    logits = out[2].reshape(256, 256)
    # The mask at photo size: bilinear on the logits, then the sigmoid.
    w, h = im.size
    content = logits[py : py + round(h * scale), px : px + round(w * scale)]
    up = np.asarray(Image.fromarray(content).resize((w, h), Image.BILINEAR))
    return xs, ys, 1 / (1 + np.exp(-np.clip(up, -50, 50)))


report("pose_full (+ mask at photo size)", bare, median_ms(pose_path))

clf = session("efficientnet_lite0_imagenet.onnx")
t = letterbox(img, 224, 2.0, -1.0)[0]
bare = median_ms(lambda: clf.run(None, {"input": t}))


def clf_path():
    t = letterbox(decode(), 224, 2.0, -1.0)[0]
    logits = clf.run(["logits"], {"input": t})[0][0]
    e = np.exp(logits - logits.max())
    return np.argsort(-(e / e.sum()))[:5]


report("efficientnet_lite0", bare, median_ms(clf_path))

detect = session("mediapipe_face_detection_short_range.onnx")
mesh = session("mediapipe_face_landmark_468.onnx")


def anchors():
    out = []
    for grid, per in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                out += [((x + 0.5) / grid, (y + 0.5) / grid)] * per
    return np.array(out, dtype=np.float32)


ANCHORS = anchors()


def face_box(im, t, scale, px, py):
    reg, cls = detect.run(["regressors", "classificators"], {"input": t})
    best = int(np.argmax(cls[0, :, 0]))
    r = reg[0, best]
    cx = ((ANCHORS[best, 0] * 128 + r[0]) - px) / scale
    cy = ((ANCHORS[best, 1] * 128 + r[1]) - py) / scale
    side = 1.5 * max(r[2], r[3]) / scale
    return (int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))


def face_path():
    im = decode()
    t, scale, px, py = letterbox(im, 128, 2.0, -1.0)
    box = face_box(im, t, scale, px, py)
    t2 = letterbox(im, 192, 1.0, 0.0, region=box)[0]
    pts = mesh.run(["conv2d_20"], {"input_1": t2})[0].reshape(468, 3)
    return pts


# Bare: both models on the photo's real tensors (the mesh's time depends on
# its input).
t, scale, px, py = letterbox(img, 128, 2.0, -1.0)
m = letterbox(img, 192, 1.0, 0.0, region=face_box(img, t, scale, px, py))[0]
bare = median_ms(lambda: (detect.run(None, {"input": t}), mesh.run(None, {"input_1": m})))
report("face_detect + face_mesh", bare, median_ms(face_path))

# Batched classifier throughput: 8 threads feeding one session with batch 1,
# and one thread running batches of 4 and 8 (what our batcher builds).
t1 = letterbox(img, 224, 2.0, -1.0)[0]
for batch in (1, 4, 8):
    x = np.repeat(t1, batch, axis=0)
    clf.run(None, {"input": x})
    n = 64 // batch
    start = time.perf_counter()
    if batch == 1:
        def work():
            for _ in range(8):
                clf.run(None, {"input": t1})
        ts = [threading.Thread(target=work) for _ in range(8)]
        [th.start() for th in ts]
        [th.join() for th in ts]
    else:
        for _ in range(n):
            clf.run(None, {"input": x})
    secs = time.perf_counter() - start
    print(json.dumps({"impl": "python-onnxruntime", "model": "efficientnet_lite0 batched",
                      "batch": batch, "images_per_s": 64 / secs}))

# Exact search over 100k image embeddings with numpy (float32 matmul).
rng = np.random.default_rng(1)
items = rng.standard_normal((100_000, 1280), dtype=np.float32)
items /= np.linalg.norm(items, axis=1, keepdims=True)
samples = []
for _ in range(50):
    q = rng.standard_normal(1280, dtype=np.float32)
    q /= np.linalg.norm(q)
    t = time.perf_counter()
    scores = items @ q
    top = np.argpartition(-scores, 10)[:10]
    top = top[np.argsort(-scores[top])]
    samples.append(time.perf_counter() - t)
samples.sort()
print(json.dumps({"impl": "python-numpy", "search_items": 100_000, "dim": 1280,
                  "memory_mb": items.nbytes / 1e6,
                  "query_p50_ms": samples[len(samples) // 2] * 1000,
                  "query_p99_ms": samples[int(round((len(samples) - 1) * 0.99))] * 1000}))
