"""Score the vision jobs on the labelled set in tests/data/eval through the
public API of a running intake and worker (so the same script measures any
version of the service). Standard library only.

    python3 benches/vision/eval.py --api http://127.0.0.1:8090 --key dev-api-key \
        --objects .eval/objects --out .eval/results.json

`benches/vision/eval.sh` starts the services and runs this. Prints a JSON
summary (also written to --out with every photo's raw answers).
"""

import argparse
import concurrent.futures
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.request
import zlib

KINDS = ["vision.pose", "vision.segment", "vision.skin_tone", "vision.tag"]


def call(api, key, method, path, body=None, headers=None):
    req = urllib.request.Request(api + path, data=body, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return {"http_error": e.code, "body": e.read().decode(errors="replace")}


def run_job(api, key, user, kind, upload_id):
    body = json.dumps({"kind": kind, "user_id": user, "input": {"upload_id": upload_id}}).encode()
    job = call(api, key, "POST", "/v1/jobs", body, {"Content-Type": "application/json"})
    if "job_id" not in job:
        return {"status": "rejected", "error": job}
    deadline = time.time() + 300
    while time.time() < deadline:
        view = call(api, key, "GET", f"/v1/jobs/{job['job_id']}")
        if view.get("status") in ("complete", "error", "dead"):
            return view
        time.sleep(0.2)
    return {"status": "timeout"}


def analyse(api, key, user, photo):
    with open(photo, "rb") as f:
        up = call(api, key, "POST", "/v1/uploads", f.read(),
                  {"X-User-Id": user, "Content-Type": "application/octet-stream"})
    if "upload_id" not in up:
        return {"upload": up}
    return {kind: run_job(api, key, user, kind, up["upload_id"]) for kind in KINDS}


def read_png_grey(path):
    """An 8-bit PNG (grey, grey+alpha, RGB or RGBA; not interlaced) as
    (width, height, first-channel bytes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag, chunk = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if tag == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif tag == b"IDAT":
            idat += chunk
        pos += 12 + n
    w, h, depth, colour, _, _, interlace = ihdr
    assert depth == 8 and interlace == 0, f"{path}: unsupported PNG"
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line[::bpp]
        prev = line
    return w, h, bytes(out)


def iou(a, b):
    inter = sum(1 for x, y in zip(a, b) if x >= 128 and y >= 128)
    union = sum(1 for x, y in zip(a, b) if x >= 128 or y >= 128)
    return inter / union if union else 1.0


def persons_of(answer):
    """How many people a job's answer counts: its `person_count`, else the
    length of its `persons` list; 0 when the job ended `vision.no_person`;
    None when it ended otherwise (no answer to compare)."""
    if answer.get("status") != "complete":
        code = (answer.get("error") or {}).get("code")
        return 0 if code == "vision.no_person" else None
    result = answer.get("result", {})
    if "person_count" in result:
        return result["person_count"]
    if "region" in result:  # vision.tag before it reported a count
        return int(result["region"] == "person")
    return len(result["persons"]) if "persons" in result else 1


def score(labels, answers, objects, here):
    tp = fp = fn = tn = 0
    count_ok = count_n = 0
    agree_n = agree_ok = 0
    face_found = face_n = face_false = 0
    garment_ok = garment_n = 0
    ious, rows = {}, []
    for name, label in labels.items():
        a = answers[name]
        expected = label["persons"]
        # Each kind's count; a kind that ended otherwise (a photo with
        # people but no face for vision.skin_tone) has none to compare.
        counts = {kind: persons_of(a.get(kind, {})) for kind in KINDS}
        predicted = counts["vision.pose"] or 0
        present = predicted > 0
        # [0, n] with n > 0 accepts either answer (a drawing of a person,
        # figures too small to call): left out of precision and recall.
        if not (expected[0] == 0 and expected[1] > 0):
            truly = expected[0] > 0
            tp += present and truly
            fp += present and not truly
            fn += truly and not present
            tn += not present and not truly
        count_n += 1
        count_ok += expected[0] <= predicted <= expected[1]
        known = [c for c in counts.values() if c is not None]
        agree_n += 1
        agree_ok += len(set(known)) <= 1
        skin = a.get("vision.skin_tone", {}).get("status") == "complete"
        if label["face"]:
            face_n += 1
            face_found += skin
        elif label["face"] is not None and skin:
            face_false += 1
        if label["garment"]:
            garment_n += 1
            tag = a.get("vision.tag", {}).get("result", {})
            top3 = [c["category"] for c in tag.get("categories", [])[:3]]
            garment_ok += label["garment"] in top3
        seg = a.get("vision.segment", {})
        if label["mask"] and seg.get("status") == "complete":
            rw, rh, ref = read_png_grey(os.path.join(here, label["mask"]))
            mw, mh, ours = read_png_grey(os.path.join(objects, seg["result"]["mask"]["key"]))
            ious[name] = iou(ours, ref) if (mw, mh) == (rw, rh) else 0.0
        elif label["mask"]:
            ious[name] = 0.0
        rows.append({"photo": name, "split": label.get("split"), "expected": expected, "predicted": predicted,
                     "counts": {k.split(".")[-1]: v for k, v in counts.items()},
                     "pose": a.get("vision.pose", {}).get("status"),
                     "pose_error": (a.get("vision.pose", {}).get("error") or {}).get("code"),
                     "face": skin, "iou": ious.get(name)})
    div = lambda a, b: round(a / b, 3) if b else None
    cost = {}
    for kind in KINDS:
        cpu = sorted(answers[n][kind]["cost"]["cpu_seconds"] for n in labels
                     if answers[n].get(kind, {}).get("status") == "complete" and "cost" in answers[n][kind])
        if cpu:
            cost[kind] = {"jobs": len(cpu), "cpu_ms_median": round(1000 * cpu[len(cpu) // 2], 1),
                          "cpu_ms_mean": round(1000 * sum(cpu) / len(cpu), 1),
                          "cpu_ms_max": round(1000 * cpu[-1], 1)}
    return {
        "photos": len(labels),
        "person_precision": div(tp, tp + fp),
        "person_recall": div(tp, tp + fn),
        "false_person": fp, "missed_person": fn,
        "count_accuracy": div(count_ok, count_n),
        "kinds_agree": div(agree_ok, agree_n),
        "face_found_rate": div(face_found, face_n),
        "face_on_no_face_photos": face_false,
        "mask_iou_mean": div(sum(ious.values()), len(ious)),
        "mask_iou_min": round(min(ious.values()), 3) if ious else None,
        "mask_iou": {k: round(v, 3) for k, v in ious.items()},
        "garment_top3": div(garment_ok, garment_n),
        "cost": cost,
        "rows": rows,
    }


def photo_path(here, name, label):
    """A committed photo, or a fetched one (never committed: make_eval.py
    --fetched puts it in ATELIER_EVAL_PHOTOS)."""
    if label.get("fetched"):
        cache = os.environ.get("ATELIER_EVAL_PHOTOS", os.path.expanduser("~/.cache/atelier/eval-photos"))
        return os.path.join(cache, name)
    return os.path.join(here, "photos", name)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--key", default="dev-api-key")
    p.add_argument("--set", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "eval"))
    p.add_argument("--objects", required=True, help="the local object storage root")
    p.add_argument("--out", required=True)
    p.add_argument("--parallel", type=int, default=4)
    args = p.parse_args()
    labels = json.load(open(os.path.join(args.set, "labels.json")))["photos"]
    missing = [n for n, l in labels.items() if not os.path.exists(photo_path(args.set, n, l))]
    if missing:
        sys.exit(f"missing photos (run make_eval.py --fetched): {', '.join(missing)}")
    user = f"eval-{int(time.time())}"
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        futures = {name: pool.submit(analyse, args.api, args.key, user, photo_path(args.set, name, label))
                   for name, label in labels.items()}
        answers = {name: f.result() for name, f in futures.items()}
    # Every split on its own (`held` is the one quoted: nothing was chosen
    # on it), then the whole set.
    splits = sorted({l.get("split", "all") for l in labels.values()})
    summary = {split: score({n: l for n, l in labels.items() if l.get("split", "all") == split},
                            answers, args.objects, args.set) for split in splits}
    if len(splits) > 1:
        summary["all"] = score(labels, answers, args.objects, args.set)
    with open(args.out, "w") as f:
        json.dump({"summary": summary, "answers": answers}, f, indent=1)
    for split, part in summary.items():
        rows = part.pop("rows")
        if split != "all":
            for r in rows:
                print(json.dumps(r), file=sys.stderr)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
