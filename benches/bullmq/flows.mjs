// Flows side by side (issue 19): this project's POST /v1/flows and BullMQ's
// FlowProducer on the same Redis, no-op jobs, one JSON line per run:
//   node flows.mjs atelier API_URL API_KEY chain|fan N
//   node flows.mjs bullmq chain|fan N
// chain: N jobs, each after the one before; fan: 1 → N → 1 (a root, N
// jobs after it, one after all of them). Timed from the submission to the
// last job's completion; `create_ms` is the submission call alone.
import { FlowProducer, Queue, Worker, QueueEvents } from "bullmq";
import IORedis from "ioredis";
import { randomUUID } from "node:crypto";

const [system, ...rest] = process.argv.slice(2);

async function atelier(api, key, shape, n) {
  const user = `bench-${randomUUID().slice(0, 8)}`;
  const noop = { stages: [] };
  let nodes;
  if (shape === "chain") {
    nodes = Array.from({ length: n }, (_, i) => ({
      name: `n${i}`, kind: "test.staged", input: noop, depends_on: i ? [`n${i - 1}`] : [],
    }));
  } else {
    const mids = Array.from({ length: n }, (_, i) => ({
      name: `m${i}`, kind: "test.staged", input: noop, depends_on: ["root"],
    }));
    nodes = [{ name: "root", kind: "test.staged", input: noop }, ...mids,
      { name: "sink", kind: "test.staged", input: noop, depends_on: mids.map((m) => m.name) }];
  }
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const t0 = performance.now();
  const res = await fetch(`${api}/v1/flows`, {
    method: "POST", headers, body: JSON.stringify({ user_id: user, nodes }),
  });
  const createMs = performance.now() - t0;
  const accepted = await res.json();
  if (res.status !== 202) throw new Error(JSON.stringify(accepted));
  // The flow's summary (one row, not its 1,000 nodes) until it ends.
  for (;;) {
    const list = await (await fetch(`${api}/v1/flows?user_id=${user}&limit=1`, { headers })).json();
    const status = list.flows[0]?.status;
    if (status && status !== "running") {
      const secs = (performance.now() - t0) / 1000;
      console.log(JSON.stringify({ system: "atelier", shape, jobs: nodes.length, status,
        create_ms: Math.round(createMs * 10) / 10, total_s: Math.round(secs * 1000) / 1000,
        flow_id: accepted.flow_id }));
      return;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function bullmq(shape, n) {
  const client = () => new IORedis({ host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null });
  const queueName = `bench-flows-${randomUUID()}`;
  const producer = new FlowProducer({ connection: client() });
  const queue = new Queue(queueName, { connection: client() });
  const events = new QueueEvents(queueName, { connection: client() });
  await events.waitUntilReady();
  let createMs = 0;
  let last;
  const t0 = performance.now();
  const worker = new Worker(queueName, async (job) => {
    if (job.name === "root" && shape === "fan") {
      // BullMQ's jobs have one parent: the fan-in after a fan-out is a
      // new flow the root adds when it runs.
      const t = performance.now();
      await producer.add({
        name: "sink", queueName, data: {},
        children: Array.from({ length: n }, (_, i) => ({ name: `m${i}`, queueName, data: {} })),
      });
      createMs = performance.now() - t;
    }
  }, { connection: client(), concurrency: 16 });
  const done = new Promise((resolve) => {
    worker.on("completed", (job) => { if (job.name === last) resolve(); });
  });
  if (shape === "chain") {
    // The deepest child runs first: n0 at the bottom, n(N-1) on top.
    let tree = { name: "n0", queueName, data: {} };
    for (let i = 1; i < n; i++) tree = { name: `n${i}`, queueName, data: {}, children: [tree] };
    last = `n${n - 1}`;
    const t = performance.now();
    await producer.add(tree);
    createMs = performance.now() - t;
  } else {
    last = "sink";
    await queue.add("root", {});
  }
  await done;
  const secs = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ system: "bullmq", shape, jobs: shape === "chain" ? n : n + 2,
    status: "complete", create_ms: Math.round(createMs * 10) / 10, total_s: Math.round(secs * 1000) / 1000 }));
  await worker.close();
  await events.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  await producer.close();
}

if (system === "atelier") {
  const [api, key, shape, n] = rest;
  await atelier(api, key, shape, Number(n ?? 1000));
} else {
  const [shape, n] = rest;
  await bullmq(shape, Number(n ?? 1000));
}
process.exit(0);
