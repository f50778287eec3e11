"""Measure the models that could replace or join the service's on the
`tune` split of tests/data/eval (the `held` split is never used to choose),
outside the service, in ONNX Runtime (2 threads):

- person counts from MoveNet MultiPose at several input sides and score
  thresholds (precision, recall and count accuracy as eval.py scores them),
  with its cost per photo;
- person masks from the selfie segmenter (and the Meet one, for reference:
  not shippable) on a square crop around each person the service found
  (boxes from an eval.py results file), at several margins, against the
  reference masks, beside the service's own masks from the same file.

    /tmp/tfenv/bin/python scripts/convert/person-detectors.py /tmp/conv
    bash benches/vision/eval.sh target/release .eval/results.json
    /tmp/tfenv/bin/python benches/vision/candidates.py --models /tmp/conv \
        --results .eval/results.json --objects .eval/objects

Needs numpy, pillow and onnxruntime (the converter's venv has them).
"""

import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

from eval import photo_path  # the same photo resolution as the scorer

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "eval")


def photo(name, label):
    return photo_path(HERE, name, label)


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def movenet(labels, model, sides, thresholds):
    s = session(model)
    name = s.get_inputs()[0].name
    for side in sides:
        scores, cost = {}, []
        for n, label in labels.items():
            im = Image.open(photo(n, label)).convert("RGB")
            k = side / max(im.size)
            w, h = (max(32, round(v * k / 32) * 32) for v in im.size)
            x = np.asarray(im.resize((w, h)), np.int32)[None]
            t = time.perf_counter()
            out = s.run(None, {name: x})[0][0]
            cost.append(time.perf_counter() - t)
            scores[n] = out[:, 55]
        for threshold in thresholds:
            tp = fp = fn = ok = 0
            for n, label in labels.items():
                found, (lo, hi) = int((scores[n] >= threshold).sum()), label["persons"]
                ok += lo <= found <= hi
                if not (lo == 0 and hi > 0):
                    tp += found > 0 and lo > 0
                    fp += found > 0 and lo == 0
                    fn += found == 0 and lo > 0
            print(json.dumps({"model": "movenet_multipose", "side": side, "threshold": threshold,
                              "person_precision": round(tp / max(tp + fp, 1), 3),
                              "person_recall": round(tp / max(tp + fn, 1), 3),
                              "count_accuracy": round(ok / len(labels), 3),
                              "ms_median": round(1000 * sorted(cost)[len(cost) // 2], 1)}))


def iou(a, b):
    a, b = a >= 128, b >= 128
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def segment(kind, s, im, box, margin):
    """The segmenter's probabilities over a crop centred on `box`, pasted
    back at the photo's size (0–255)."""
    x, y, w, h = box
    if kind == "selfie":
        bw = bh = max(w, h) * margin
        size = (256, 256)
    else:  # Meet's input is landscape, 256 × 144
        bh = h * margin
        bw = max(w * margin, bh * 256 / 144)
        size = (256, 144)
    x0, y0 = x + w / 2 - bw / 2, y + h / 2 - bh / 2
    crop = im.transform(size, Image.EXTENT, (x0, y0, x0 + bw, y0 + bh), Image.BILINEAR)
    t = np.asarray(crop, np.float32)[None] / 255.0
    if s.get_inputs()[0].shape[1] == 3:  # NCHW
        t = t.transpose(0, 3, 1, 2).copy()
    out = s.run(None, {s.get_inputs()[0].name: t})[0][0]
    if kind == "selfie":
        p = out[..., 0]
    else:
        o = out.transpose(2, 0, 1)
        e = np.exp(o - o.max(0))
        p = (e / e.sum(0))[1]
    patch = Image.fromarray((p * 255).astype(np.uint8)).resize((round(bw), round(bh)), Image.BILINEAR)
    full = Image.new("L", im.size, 0)
    full.paste(patch, (round(x0), round(y0)))
    return np.asarray(full)


def masks(labels, models, results, objects, margins):
    answers = json.load(open(results))["answers"]
    with_mask = {n: l for n, l in labels.items() if l.get("mask")}
    refs = {n: np.asarray(Image.open(os.path.join(HERE, l["mask"])).convert("L")) for n, l in with_mask.items()}
    ours = {}
    for n in with_mask:
        seg = answers[n].get("vision.segment", {})
        ours[n] = iou(np.asarray(Image.open(os.path.join(objects, seg["result"]["mask"]["key"])).convert("L")),
                      refs[n]) if seg.get("status") == "complete" else 0.0
    report("service", None, ours, None)
    for kind, path in models.items():
        s = session(path)
        for margin in margins:
            scores, cost = {}, []
            for n, label in with_mask.items():
                pose = answers[n].get("vision.pose", {})
                if pose.get("status") != "complete":
                    scores[n] = 0.0
                    continue
                im = Image.open(photo(n, label)).convert("RGB")
                m = np.zeros(refs[n].shape, np.uint8)
                t = time.perf_counter()
                for p in pose["result"]["persons"]:
                    b = p["box"]
                    m = np.maximum(m, segment(kind, s, im, (b["x"], b["y"], b["width"], b["height"]), margin))
                cost.append(time.perf_counter() - t)
                scores[n] = iou(m, refs[n])
            report(kind, margin, scores, cost)


def report(kind, margin, scores, cost):
    v = list(scores.values())
    print(json.dumps({"mask": kind, "margin": margin, "photos": len(v), "iou_mean": round(float(np.mean(v)), 3),
                      "iou_min": round(min(v), 3), "ms_median": cost and round(1000 * sorted(cost)[len(cost) // 2], 1),
                      "worst": sorted(((round(s, 3), n) for n, s in scores.items()))[:3]}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", required=True, help="the converter's output folder")
    p.add_argument("--results", required=True, help="an eval.py results file (the service's boxes and masks)")
    p.add_argument("--objects", required=True, help="that run's local object storage root")
    p.add_argument("--split", default="tune")
    args = p.parse_args()
    labels = {n: l for n, l in json.load(open(os.path.join(HERE, "labels.json")))["photos"].items()
              if l.get("split") == args.split}
    movenet(labels, os.path.join(args.models, "candidates", "movenet_multipose.onnx"), [256, 384, 512],
            [0.15, 0.2, 0.25, 0.3])
    masks(labels, {"selfie": os.path.join(args.models, "candidates", "selfie_segmentation.onnx"),
                   "meet": os.path.join(args.models, "candidates", "meet_segmentation.onnx")},
          args.results, args.objects, [1.0, 1.1, 1.2, 1.4])


if __name__ == "__main__":
    main()
