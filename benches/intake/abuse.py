"""The intake under load it must survive: its RSS while 50 clients upload
25 MiB each at once, and whether 1,000 connections that send a body slowly
are cut off while the intake keeps serving. Started by run.sh; standard
library only."""
import argparse, http.client, json, os, socket, threading, time, uuid


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.02)


def request(host, port, method, path, key=None, body=None, headers=None, timeout=120):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    h = dict(headers or {})
    if key:
        h["Authorization"] = f"Bearer {key}"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def uploads(host, port, key, pid, n, size):
    body = os.urandom(size)
    statuses, started = [], time.time()
    lock = threading.Lock()
    sampler = Sampler(pid)
    before = rss_mib(pid)
    sampler.start()

    def one(i):
        s, _ = request(host, port, "POST", "/v1/uploads", key, body,
                       {"X-User-Id": f"load-{i}", "Content-Type": "application/octet-stream"})
        with lock:
            statuses.append(s)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - started
    time.sleep(1.0)
    sampler.running = False
    sampler.join()
    return {"uploads": n, "bytes_each": size, "statuses": {str(s): statuses.count(s) for s in set(statuses)},
            "rss_before_mib": round(before, 1), "rss_peak_mib": round(sampler.peak, 1),
            "rss_after_mib": round(rss_mib(pid), 1), "wall_s": round(wall, 1)}


def slow_bodies(host, port, key, pid, n, watch_s):
    socks = []
    head = (f"POST /v1/uploads HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"X-User-Id: slow\r\nContent-Length: 1000000\r\n\r\n").encode()
    for _ in range(n):
        s = socket.create_connection((host, port))
        s.sendall(head + b"0123456789")
        s.setblocking(False)
        socks.append(s)
    opened = time.time()
    sampler = Sampler(pid)
    sampler.start()
    served, closed_at = [], {}
    while time.time() - opened < watch_s and len(closed_at) < n:
        t0 = time.time()
        st, _ = request(host, port, "GET", f"/v1/jobs/{uuid.uuid4()}", key, timeout=10)
        served.append((round(time.time() - opened, 1), st, round((time.time() - t0) * 1000, 1)))
        for i, s in enumerate(socks):
            if i in closed_at:
                continue
            try:
                data = s.recv(65536)
                if data == b"":
                    closed_at[i] = time.time() - opened
                else:
                    # An answer (408 or 503): the server closes next.
                    try:
                        while s.recv(65536):
                            pass
                    except BlockingIOError:
                        pass
                    closed_at[i] = time.time() - opened
            except BlockingIOError:
                pass
            except OSError:
                closed_at[i] = time.time() - opened
        time.sleep(0.5)
    sampler.running = False
    for s in socks:
        s.close()
    times = sorted(closed_at.values())
    return {"connections": n, "cut_off": len(closed_at),
            "all_cut_by_s": round(times[-1], 1) if len(times) == n else None,
            "median_cut_s": round(times[len(times) // 2], 1) if times else None,
            "requests_meanwhile": len(served),
            "statuses_meanwhile": {str(s): sum(1 for x in served if x[1] == s) for s in {x[1] for x in served}},
            "max_latency_ms_meanwhile": max((x[2] for x in served), default=None),
            "rss_peak_mib": round(sampler.peak, 1)}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--key", default="dev-api-key")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    res = {"uploads": uploads("127.0.0.1", a.port, a.key, a.pid, 50, 25 * 1024 * 1024),
           "slow": slow_bodies("127.0.0.1", a.port, a.key, a.pid, 1000, 60)}
    print(json.dumps(res, indent=1))
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
