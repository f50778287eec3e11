// The console in Debian's Chromium (playwright-core, no browser download),
// one scenario per run: `node check.mjs <scenario>`, settings in the
// environment (CONSOLE_URL, OPERATOR_KEY, VIEWER_KEY, API_KEY, JOB_ID, …).
// Every page is checked for console errors (CSP violations included) and
// scanned by axe-core; SHOTS=<dir> keeps a screenshot of each view.
// Prints one JSON line of findings; exits 1 with the reason on failure.
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const env = process.env;
const BASE = env.CONSOLE_URL;
const scenario = process.argv[2];
const axeSource = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const WAIT = Number(env.WAIT_MS || 120000);

function fail(message) {
  console.error(`FAIL ${scenario}: ${message}`);
  process.exit(1);
}
function check(cond, message) { if (!cond) fail(message); }

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const errors = [];
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
page.on("pageerror", (e) => errors.push(String(e)));
const findings = { scenario };

async function signIn(key) {
  await page.goto(BASE + "/console/sign-in");
  await page.getByLabel("Operator or viewer key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/console\/queues/);
}

async function scan(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `${name}: accessibility: ` + JSON.stringify(bad.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target) }))));
  findings.scanned = (findings.scanned || 0) + 1;
}

// A screenshot of the view (or of one element of it) for the README.
async function shot(name, selector) {
  if (!env.SHOTS) return;
  mkdirSync(env.SHOTS, { recursive: true });
  const options = { path: `${env.SHOTS}/${name}.jpg`, type: "jpeg", quality: 80 };
  if (selector) await page.locator(selector).first().screenshot(options);
  else await page.screenshot(options);
}

async function until(what, fn, ms = WAIT) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) {
      const text = await page.locator("main").innerText().catch(() => "");
      fail(`timed out waiting for ${what} on ${page.url()}:\n${text.slice(0, 2000)}`);
    }
    await page.waitForTimeout(200);
  }
}

async function api(method, path, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${env.API_KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

const scenarios = {
  // An operator signs in, submits jobs to a paused queue and watches its
  // depth and chart move without reloading; the views pass the scan.
  async queue_moves() {
    await page.goto(BASE + "/console/queues");
    check(page.url().endsWith("/console/sign-in"), "not sent to sign in: " + page.url());
    await scan("sign-in");
    await shot("sign-in");
    await signIn(env.OPERATOR_KEY);
    const cookie = (await context.cookies()).find((c) => c.name === "atelier_console");
    check(cookie && cookie.httpOnly && cookie.sameSite === "Strict", "session cookie flags: " + JSON.stringify(cookie));
    await scan("queues");
    await shot("queues");
    const streams = [];
    page.on("request", (r) => { if (r.url().includes("/console/live")) streams.push(r.url()); });
    await page.goto(BASE + `/console/queues/${env.QUEUE}`);
    await page.waitForSelector('[data-chart="depth"] canvas');
    const depthOf = async () => Number(await page.locator('#queue-stats [data-field="depth"]').textContent());
    const pointsOf = async () => Number(await page.getAttribute('[data-chart="depth"]', "data-points"));
    const before = await depthOf();
    const pointsBefore = await pointsOf();
    const n = Number(env.SUBMIT || 3);
    for (let i = 0; i < n; i++) {
      const r = await api("POST", "/v1/jobs", { kind: "test.staged", user_id: "console-user", input: { stages: [] } });
      check(r.status === 202 || r.status === 201 || r.status === 200, "submit: " + JSON.stringify(r));
    }
    const after = await until("the depth to move", async () => { const d = await depthOf(); return d >= before + n ? d : 0; });
    await until("the chart to gain points", async () => (await pointsOf()) > pointsBefore);
    findings.depth = [before, after];
    // One event stream for the page, closed while its tab is hidden and
    // opened again when it shows.
    const updates = async () => Number(await page.evaluate(() => document.body.dataset.liveUpdates || 0));
    const setHidden = (hidden) => page.evaluate((hidden) => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
      document.dispatchEvent(new Event("visibilitychange"));
    }, hidden);
    check(streams.length === 1, "streams opened: " + JSON.stringify(streams));
    await setHidden(true);
    await page.waitForTimeout(500);
    const frozen = await updates();
    await page.waitForTimeout(3000);
    check(await updates() === frozen, "a hidden page kept receiving updates");
    await setHidden(false);
    await until("updates after the page shows again", async () => (await updates()) > frozen);
    check(streams.length === 2, "streams after showing again: " + streams.length);
    await scan("queue");
    await shot("queue");
  },

  // A viewer sees but cannot act: no buttons, and forged posts are refused.
  async viewer_cannot_act() {
    await signIn(env.VIEWER_KEY);
    await page.goto(BASE + `/console/queues/${env.QUEUE}`);
    check(await page.getByRole("button", { name: /^(Pause|Resume)$/ }).count() === 0, "a viewer sees the pause button");
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const asViewer = await page.request.post(BASE + `/console/queues/${env.QUEUE}/pause`, { form: { _csrf: csrf }, maxRedirects: 0 });
    check(asViewer.status() === 403 && asViewer.headers()["x-error-code"] === "auth.forbidden", `viewer pause: ${asViewer.status()} ${asViewer.headers()["x-error-code"]}`);
    const forged = await page.request.post(BASE + `/console/queues/${env.QUEUE}/pause`, { form: { nothing: "x" }, maxRedirects: 0 });
    check(forged.status() === 403 && forged.headers()["x-error-code"] === "auth.csrf", `forged pause: ${forged.status()}`);
    findings.refused = [asViewer.status(), forged.status()];
  },

  // A dead job shows its error; Retry from the inspector runs it to complete.
  async dead_retry() {
    await signIn(env.OPERATOR_KEY);
    await page.goto(BASE + `/console/queues/${env.QUEUE}`);
    await page.waitForSelector(`#dead-list a[href="/console/jobs/${env.JOB_ID}"]`);
    await shot("dead-letters");
    await page.goto(BASE + `/console/jobs/${env.JOB_ID}`);
    check((await page.locator("#job-status").textContent()).includes("dead"), "the job is not shown dead");
    check((await page.locator("p.error").first().textContent()).includes("job.worker_lost"), "the error is not shown");
    await page.getByRole("button", { name: "Retry" }).click();
    await page.waitForURL(/done=/);
    await until("the job to complete", async () => (await page.locator("#job-status").textContent()).includes("complete"));
    findings.runs = await page.locator("#runs tbody tr").count();
    await scan("inspector");
    await shot("inspector");
  },

  // The timeline of a job whose first worker was killed: two runs.
  async two_attempts() {
    await signIn(env.OPERATOR_KEY);
    await page.goto(BASE + `/console/jobs/${env.JOB_ID}`);
    const rows = page.locator("#runs tbody tr");
    await until("two runs", async () => (await rows.count()) === 2);
    const first = await rows.nth(0).textContent();
    const second = await rows.nth(1).textContent();
    check(first.includes("lost"), "first run: " + first);
    check(second.includes("complete"), "second run: " + second);
    check(await page.locator("svg.timeline rect").count() === 2, "the timeline does not draw two runs");
    findings.runs = [first.trim(), second.trim()];
  },

  // Search by an input field, then cancel the whole search in bulk.
  async bulk_cancel() {
    await signIn(env.OPERATOR_KEY);
    await page.goto(BASE + "/console/jobs");
    await page.getByLabel("Kind").selectOption("test.staged");
    await page.locator('input[name="input_path"]').fill(env.FIELD_PATH);
    await page.locator('input[name="input_value"]').fill(env.FIELD_VALUE);
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForSelector("#jobs-table");
    const found = await page.locator("#jobs-table tbody tr").count();
    check(found === Number(env.EXPECT), `search found ${found}, expected ${env.EXPECT}`);
    await scan("jobs");
    await shot("jobs");
    await page.getByLabel("Act on").selectOption("search");
    await page.getByRole("button", { name: "Cancel…" }).click();
    await page.waitForSelector('button[name="confirm"]');
    check((await page.locator('p[role="alert"]').textContent()).includes(`${env.EXPECT} jobs`), "the confirmation does not name the count");
    await page.locator('button[name="confirm"]').click();
    await page.waitForURL(/done=/);
    const flash = await page.locator(".flash").textContent();
    check(flash.includes(`${env.EXPECT} job(s) done`), "flash: " + flash);
    findings.flash = flash;
    await page.goto(BASE + "/console/audit");
    check((await page.locator("#audit tbody tr").first().textContent()).includes("jobs.cancel"), "the audit log does not show the bulk cancel");
    await scan("audit");
    await shot("audit");
  },

  // A flow's graph, coloured by state.
  async flow_graph() {
    await signIn(env.OPERATOR_KEY);
    await page.goto(BASE + `/console/flows/${env.FLOW_ID}`);
    await until("every node complete", async () => {
      const states = await page.locator("svg.flow g.node").evaluateAll((gs) => gs.map((g) => g.dataset.status));
      return states.length > 0 && states.every((s) => s === "complete");
    });
    findings.nodes = await page.locator("svg.flow g.node").count();
    await scan("flow");
    await shot("flow");
    await page.goto(BASE + "/console/flows");
    await scan("flows");
  },
};

// Pixels of a canvas: how many are near `rgb` (within `tol` per channel),
// and how many differ from `bg`.
async function pixels(selector, rgb, bg, tol = 40) {
  return page.$eval(selector, (canvas, [rgb, bg, tol]) => {
    let data;
    const gl = canvas.getContext("webgl2") || canvas.getContext("webgl");
    if (gl && !canvas.getContext("2d")) {
      const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
      data = new Uint8Array(w * h * 4);
      gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, data);
    } else {
      data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    }
    let near = 0, differ = 0;
    const close = (i, c) => Math.abs(data[i] - c[0]) <= tol && Math.abs(data[i + 1] - c[1]) <= tol && Math.abs(data[i + 2] - c[2]) <= tol;
    for (let i = 0; i < data.length; i += 4) {
      if (rgb && close(i, rgb)) near++;
      if (bg && !close(i, bg)) differ++;
    }
    return { near, differ, total: data.length / 4 };
  }, [rgb, bg, tol]);
}

scenarios.playground = async () => {
  await signIn(env.OPERATOR_KEY);
  await page.goto(BASE + "/console/playground");
  await scan("playground");
  await page.getByLabel("API key").fill(env.API_KEY);
  await page.getByLabel("User id").fill(env.USER_ID || "playground");
  await page.getByLabel("Photo (front)").setInputFiles(env.FRONT);
  if (env.SIDE) await page.getByLabel("Side photo (avatar, optional)").setInputFiles(env.SIDE);
  if (env.HEIGHT) await page.getByLabel("Height in cm (avatar)").fill(env.HEIGHT);
  const kinds = (env.KINDS || "vision.pose").split(",");
  for (const box of await page.locator('input[name="kind"]').all()) {
    const want = kinds.includes(await box.getAttribute("value"));
    if ((await box.isChecked()) !== want) await box.click();
  }
  await page.getByRole("button", { name: "Run" }).click();
  await page.waitForSelector("section.play-job");
  await until("every job to end", async () => {
    const states = await page.locator("section.play-job").evaluateAll((s) => s.map((x) => x.dataset.status));
    if (states.some((s) => s === "error" || s === "dead")) fail("a job failed: " + (await page.locator("#play-results").textContent()));
    return states.length > 0 && states.every((s) => s === "complete");
  }, Number(env.PLAY_WAIT_MS || 300000));
  findings.jobs = await page.locator("section.play-job").count();
  if (kinds.includes("vision.pose")) {
    await page.waitForSelector('figure[data-draw="keypoints"][data-drawn="true"]');
    // The keypoints' colour (#ff1f8e) on the canvas over the photo.
    const drawn = await pixels('figure[data-draw="keypoints"] canvas', [255, 31, 142], null, 30);
    check(drawn.near > 200, "keypoints not drawn: " + JSON.stringify(drawn));
    findings.keypoint_pixels = drawn.near;
  }
  if (kinds.includes("avatar.build")) {
    await page.waitForSelector('figure[data-viewer][data-drawn="true"]', { timeout: 60000 });
    // The body differs from the viewer's background (#e5e7eb) on a good
    // part of the canvas: not blank.
    const body = await pixels("figure[data-viewer] canvas", null, [229, 231, 235], 12);
    check(body.differ > body.total * 0.03, "the avatar viewer is blank: " + JSON.stringify(body));
    findings.avatar_pixels = body;
    findings.triangles = Number(await page.getAttribute("figure[data-viewer]", "data-triangles"));
    const lods = page.locator("figure[data-viewer] button[data-lod]");
    if (await lods.count() > 1) {
      await lods.nth(1).click();
      await page.waitForSelector('figure[data-viewer][data-drawn="true"]');
      findings.lod_triangles = Number(await page.getAttribute("figure[data-viewer]", "data-triangles"));
    }
  }
  if (kinds.includes("render.turntable")) {
    const video = page.locator("section.play-job video");
    check(await video.count() > 0, "no turntable video");
    // The WebM plays (Chromium plays WebM whatever its build's codecs).
    const webm = page.locator('section.play-job video[src$=".webm"]');
    check(await webm.count() === 1, "no WebM turntable");
    await until("the turntable to play", async () => webm.evaluate((v) => v.readyState >= 2 && v.videoWidth > 0), 30000);
    findings.video = await webm.evaluate((v) => ({ width: v.videoWidth, height: v.videoHeight, duration: v.duration }));
  }
  await scan("playground results");
  await shot("playground", "#play-results");
};

check(scenarios[scenario], "no scenario " + scenario);
try {
  await scenarios[scenario]();
} catch (e) {
  fail(e.stack || String(e));
}
const real = errors.filter((e) => !e.includes("net::ERR_ABORTED"));
check(real.length === 0, "console errors: " + JSON.stringify(real));
console.log(JSON.stringify(findings));
await browser.close();
