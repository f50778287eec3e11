// BullMQ doing what `atelier-bench` does, on the same Redis, printing the
// same JSON lines:
//   node bench.mjs throughput JOBS CONCURRENCY
//   node bench.mjs latency RATE SECONDS CONCURRENCY
import { Queue, Worker, QueueEvents } from "bullmq";
import IORedis from "ioredis";
import { randomUUID } from "node:crypto";

// BullMQ 6 under native ESM wants constructed clients; each role gets its own.
const client = () => new IORedis({ host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null });
const connection = client();
const [mode, a, b, c] = process.argv.slice(2);
const name = `bench-bullmq-${randomUUID()}`;
const queue = new Queue(name, { connection });

function percentile(sorted, p) {
  return sorted[Math.round((sorted.length - 1) * p)];
}

if (mode === "throughput") {
  const jobs = Number(a ?? 20000), concurrency = Number(b ?? 16);
  let t = performance.now();
  for (let i = 0; i < jobs; i += 1000) {
    const n = Math.min(1000, jobs - i);
    await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: "noop", data: {}, opts: { jobId: `j${i + k}` } })));
  }
  const enqueueSecs = (performance.now() - t) / 1000;
  let done = 0;
  t = performance.now();
  const finished = new Promise((resolve) => {
    const worker = new Worker(name, async () => {}, {
      connection: client(), concurrency, removeOnComplete: { count: 0 },
    });
    worker.on("completed", () => { if (++done === jobs) resolve(worker); });
  });
  const worker = await finished;
  const secs = (performance.now() - t) / 1000;
  console.log(JSON.stringify({ system: "bullmq", mode, jobs, concurrency,
    enqueue_per_s: Math.round(jobs / enqueueSecs), processed_per_s: Math.round(jobs / secs) }));
  await worker.close();
} else if (mode === "latency") {
  const rate = Number(a ?? 500), seconds = Number(b ?? 10), concurrency = Number(c ?? 16);
  const total = rate * seconds;
  const events = new QueueEvents(name, { connection: client() });
  await events.waitUntilReady();
  const worker = new Worker(name, async () => {}, { connection: client(), concurrency, removeOnComplete: { count: 0 } });
  const added = new Map();
  const latencies = [];
  const done = new Promise((resolve) => {
    events.on("completed", ({ jobId }) => {
      const at = added.get(jobId);
      if (at !== undefined) {
        latencies.push(performance.now() - at);
        added.delete(jobId);
        if (latencies.length === total) resolve();
      }
    });
  });
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `l${i}`;
    added.set(id, performance.now());
    queue.add("noop", {}, { jobId: id });
  }
  await done;
  latencies.sort((x, y) => x - y);
  console.log(JSON.stringify({ system: "bullmq", mode, rate, jobs: total, concurrency,
    p50_ms: Math.round(percentile(latencies, 0.5) * 100) / 100,
    p99_ms: Math.round(percentile(latencies, 0.99) * 100) / 100 }));
  await worker.close();
  await events.close();
} else if (mode === "hold") {
  // Child of `recovery`: take the job and never finish it.
  new Worker(a, () => new Promise(() => {}), { connection: client(), concurrency: 1 });
  await new Promise(() => {});
} else if (mode === "recovery") {
  const { spawn } = await import("node:child_process");
  await queue.add("victim", {}, { jobId: "victim" });
  const holder = spawn(process.execPath, [new URL(import.meta.url).pathname, "hold", name], { stdio: "ignore" });
  while ((await queue.getActiveCount()) === 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 2000));
  holder.kill("SIGKILL");
  const killed = performance.now();
  await new Promise((resolve) => {
    new Worker(name, async () => resolve(), { connection: client(), concurrency: 1 });
  });
  console.log(JSON.stringify({ system: "bullmq", mode, defaults: "lockDuration 30s, stalledInterval 30s",
    rerun_after_kill_s: Math.round((performance.now() - killed) / 100) / 10 }));
} else {
  console.error("usage: bench.mjs throughput JOBS CONCURRENCY | latency RATE SECONDS CONCURRENCY | recovery");
  process.exit(2);
}
await queue.obliterate({ force: true });
await queue.close();
process.exit(0);
