"""Score avatar.build against generated bodies with known measurements.

Reads the studio's photos and truth.json (atelier-studio), runs every body
through the public API twice (front + side, and front only), and reports
per measurement: bias, MAE, p90 of the absolute error and how often the
truth lies inside the reported ± interval; plus per-stage latency medians.

    python3 benches/avatar/score.py --api http://127.0.0.1:8092 --photos DIR --out OUT.json
"""
import argparse
import json
import os
import statistics
import sys
import time

# The API client the vision evaluation uses.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vision"))
from eval import call as api_call  # noqa: E402

NAMES = ["height", "neck", "chest", "waist", "hips", "shoulder_width", "arm_length", "inseam"]


def call(api, key, method, path, body=None, headers=None):
    """`eval.call`, stopping the run on an HTTP error."""
    answer = api_call(api, key, method, path, body, headers)
    if "http_error" in answer:
        raise SystemExit(f"{method} {path}: {answer['http_error']} {answer['body']}")
    return answer


def upload(api, key, user, path):
    with open(path, "rb") as f:
        up = call(api, key, "POST", "/v1/uploads", f.read(),
                  {"X-User-Id": user, "Content-Type": "image/png"})
    return up["upload_id"]


def p90(values):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--key", default="dev-api-key")
    p.add_argument("--photos", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    bodies = json.load(open(f"{args.photos}/truth.json"))
    jobs = []
    for b in bodies:
        user = f"bench-{b['id']}"
        front = upload(args.api, args.key, user, f"{args.photos}/{b['id']}-front.png")
        side = upload(args.api, args.key, user, f"{args.photos}/{b['id']}-side.png")
        for variant, photos in [("front+side", {"front": front, "side": side}), ("front", {"front": front})]:
            body = json.dumps({"kind": "avatar.build", "user_id": user, "input": {
                "photos": photos, "height_cm": round(b["truth_cm"]["height"], 1), "sex": b["sex"]}}).encode()
            job = call(args.api, args.key, "POST", "/v1/jobs", body, {"Content-Type": "application/json"})
            jobs.append((b, variant, job["job_id"]))
    rows = []
    for b, variant, job_id in jobs:
        while True:
            view = call(args.api, args.key, "GET", f"/v1/jobs/{job_id}")
            if view["status"] in ("complete", "error", "dead"):
                break
            time.sleep(0.5)
        rows.append({"id": b["id"], "variant": variant, "distance_m": b["distance_m"],
                     "backdrop": b["backdrop"], "truth": b["truth_cm"], "status": view["status"],
                     "error": view.get("error"), "result": view.get("result")})
    summary = {}
    for variant in ["front+side", "front"]:
        done = [r for r in rows if r["variant"] == variant and r["status"] == "complete"]
        s = {"jobs": len([r for r in rows if r["variant"] == variant]), "complete": len(done),
             "failed": [(r["id"], r["error"]) for r in rows if r["variant"] == variant and r["status"] != "complete"]}
        for name in NAMES:
            errs = [r["result"]["measurements"][name]["value"] - r["truth"][name] for r in done]
            unc = [r["result"]["measurements"][name]["uncertainty"] for r in done]
            if not errs:
                continue
            s[name] = {
                "bias_cm": round(statistics.mean(errs), 2),
                "mae_cm": round(statistics.mean(abs(e) for e in errs), 2),
                "p90_cm": round(p90([abs(e) for e in errs]), 2),
                # 0.05: the values are shown to 0.1 cm.
                "coverage": round(sum(abs(e) <= u + 0.05 for e, u in zip(errs, unc)) / len(errs), 2),
                "mean_uncertainty_cm": round(statistics.mean(unc), 2),
            }
        stages = {}
        for r in done:
            for k, ms in r["result"]["timings_ms"].items():
                stages.setdefault(k, []).append(ms)
        s["stage_ms_median"] = {k: statistics.median(v) for k, v in stages.items()}
        summary[variant] = s
    json.dump({"summary": summary, "rows": rows}, open(args.out, "w"), indent=1)
    for variant, s in summary.items():
        print(f"\n{variant}: {s['complete']}/{s['jobs']} built; failed: {s['failed']}")
        print("| measurement | bias cm | MAE cm | p90 cm | inside ± | mean ± cm |")
        print("|---|---|---|---|---|---|")
        for name in NAMES:
            if name in s:
                m = s[name]
                print(f"| {name} | {m['bias_cm']} | {m['mae_cm']} | {m['p90_cm']} | {m['coverage']} | {m['mean_uncertainty_cm']} |")
        print("stage medians (ms):", s["stage_ms_median"])


if __name__ == "__main__":
    main()
