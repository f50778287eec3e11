// The Atelier console's script: live parts over one event stream per page
// (closed while the tab is hidden), charts, results drawn over photos, the
// 3D viewer loaded only where a model is shown. Pages work without it.
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // Forms that arrive in a live part carry no token: the page's own is used.
  function fillTokens(root) {
    const own = $$('input[name="_csrf"]').map((i) => i.value).find((v) => v);
    if (!own) return;
    $$('input[name="_csrf"]', root).forEach((i) => { if (!i.value) i.value = own; });
  }

  // ---- live parts -------------------------------------------------------
  const handlers = {};
  let source = null;
  function connect() {
    const view = document.body.dataset.live;
    if (!view || source) return;
    source = new EventSource("/console/live?view=" + encodeURIComponent(view));
    source.addEventListener("patch", (e) => {
      const part = JSON.parse(e.data);
      if (part.html !== undefined) {
        const region = $('[data-region="' + part.id + '"]');
        if (region) {
          const focused = document.activeElement && region.contains(document.activeElement);
          region.innerHTML = part.html;
          fillTokens(region);
          enhance(region);
          if (focused) region.focus?.();
        }
      }
      if (part.data !== undefined && handlers[part.id]) handlers[part.id](part.data);
      document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates || 0) + 1);
    });
  }
  function disconnect() {
    if (source) { source.close(); source = null; }
  }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) disconnect(); else connect();
  });

  // ---- charts (uPlot, loaded only on a queue's page) ---------------------
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src; s.onload = resolve; s.onerror = reject;
      document.head.appendChild(s);
    });
  }
  function loadStyle(href) {
    const l = document.createElement("link");
    l.rel = "stylesheet"; l.href = href; document.head.appendChild(l);
  }
  function charts() {
    const history = $("#history");
    if (!history) return;
    const assets = JSON.parse($("#console-assets").textContent);
    loadStyle(assets["uplot.css"]);
    loadScript(assets["uplot.js"]).then(() => {
      const points = JSON.parse(history.textContent).points || [];
      const t = points.map((p) => Date.parse(p.at) / 1000);
      const series = {
        throughput: [t, points.map((p) => p.completed_per_min ?? null), points.map((p) => p.failed_per_min ?? null)],
        depth: [t, points.map((p) => p.depth), points.map((p) => p.in_flight), points.map((p) => p.waiting_on_dependencies), points.map((p) => p.dead)],
        latency: [t, points.map((p) => p.oldest_age_ms == null ? null : p.oldest_age_ms / 1000), points.map((p) => p.service_time_ms == null ? null : p.service_time_ms / 1000)],
      };
      const names = {
        throughput: [["completed/min", "#1b7f3b"], ["failed/min", "#b42318"]],
        depth: [["depth", "#1d4ed8"], ["in flight", "#7c3aed"], ["waiting", "#a16207"], ["dead", "#b42318"]],
        latency: [["oldest waiting (s)", "#1d4ed8"], ["service time (s)", "#7c3aed"]],
      };
      const plots = {};
      $$("[data-chart]").forEach((el) => {
        const kind = el.dataset.chart;
        const opts = {
          width: Math.max(280, el.clientWidth || 600), height: 200,
          series: [{}].concat(names[kind].map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: true }))),
          axes: [{}, { size: 50 }],
        };
        plots[kind] = new window.uPlot(opts, series[kind], el);
        el.dataset.points = String(series[kind][0].length);
      });
      let last = null;
      const push = (now) => {
        const at = now.at;
        const perMin = (a, b) => last ? Math.max(0, (a - b) / Math.max(1e-3, (at - last.at) / 60)) : null;
        const add = (kind, values) => {
          const s = series[kind];
          s[0].push(at); values.forEach((v, i) => s[i + 1].push(v));
          plots[kind].setData(s);
          $('[data-chart="' + kind + '"]').dataset.points = String(s[0].length);
        };
        add("throughput", [perMin(now.completed_total, last && last.completed_total), perMin(now.failed_total, last && last.failed_total)]);
        add("depth", [now.depth, now.in_flight, now.waiting, now.dead]);
        add("latency", [now.oldest_age_s, now.service_time_s]);
        last = now;
      };
      const first = $("#queue-now");
      if (first) push(JSON.parse(first.textContent));
      handlers["queue-now"] = push;
      window.addEventListener("resize", () => {
        $$("[data-chart]").forEach((el) => plots[el.dataset.chart].setSize({ width: Math.max(280, el.clientWidth), height: 200 }));
      });
    });
  }

  // ---- results drawn --------------------------------------------------------
  const BONES = [
    ["left_shoulder", "right_shoulder"], ["left_shoulder", "left_elbow"], ["left_elbow", "left_wrist"],
    ["right_shoulder", "right_elbow"], ["right_elbow", "right_wrist"], ["left_shoulder", "left_hip"],
    ["right_shoulder", "right_hip"], ["left_hip", "right_hip"], ["left_hip", "left_knee"],
    ["left_knee", "left_ankle"], ["right_hip", "right_knee"], ["right_knee", "right_ankle"],
    ["left_ankle", "left_heel"], ["left_heel", "left_foot_index"], ["right_ankle", "right_heel"],
    ["right_heel", "right_foot_index"], ["nose", "left_eye"], ["nose", "right_eye"],
    ["left_eye", "left_ear"], ["right_eye", "right_ear"],
  ];
  const KEYPOINT = "#ff1f8e";
  function drawKeypoints(figure) {
    const img = $("img", figure);
    const canvas = $("canvas", figure);
    const people = JSON.parse(figure.dataset.points || "[]");
    const paint = () => {
      const w = img.naturalWidth, h = img.naturalHeight;
      if (!w || !h) return;
      canvas.width = w; canvas.height = h;
      const sx = w / (Number(figure.dataset.width) || w), sy = h / (Number(figure.dataset.height) || h);
      const ctx = canvas.getContext("2d");
      ctx.clearRect(0, 0, w, h);
      const r = Math.max(3, Math.round(Math.min(w, h) / 120));
      people.forEach((points) => {
        const at = {};
        (points || []).forEach((p) => { at[p.name] = p; });
        ctx.strokeStyle = "#00e5ff"; ctx.lineWidth = Math.max(2, r / 2);
        BONES.forEach(([a, b]) => {
          if (at[a] && at[b] && at[a].visibility >= 0.5 && at[b].visibility >= 0.5) {
            ctx.beginPath(); ctx.moveTo(at[a].x * sx, at[a].y * sy); ctx.lineTo(at[b].x * sx, at[b].y * sy); ctx.stroke();
          }
        });
        (points || []).forEach((p) => {
          ctx.beginPath(); ctx.arc(p.x * sx, p.y * sy, r, 0, 2 * Math.PI);
          if (p.visibility >= 0.5) { ctx.fillStyle = KEYPOINT; ctx.fill(); }
          else { ctx.strokeStyle = KEYPOINT; ctx.lineWidth = 2; ctx.stroke(); }
        });
      });
      figure.dataset.drawn = "true";
    };
    if (img.complete) paint(); else img.addEventListener("load", paint, { once: true });
  }

  function viewers(root) {
    const figures = $$("[data-viewer]", root);
    if (!figures.length) return;
    const assets = JSON.parse($("#console-assets").textContent);
    import(assets["viewer.js"]).then((m) => figures.forEach((f) => m.show(f, assets))).catch((e) => {
      figures.forEach((f) => { f.dataset.error = String(e); });
      console.error("3D viewer:", e);
    });
  }

  function enhance(root) {
    $$('[data-draw="keypoints"]', root).forEach(drawKeypoints);
    viewers(root);
    $$("[data-select-all]", root).forEach((box) => {
      box.addEventListener("change", () => {
        $$('input[type="checkbox"][name="job_id"]').forEach((c) => { if (!c.disabled) c.checked = box.checked; });
      });
    });
  }

  // ---- playground: the public API as a client would use it ----------------
  function uuid4() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function playground(form) {
    const out = $("#play-results");
    const say = (text) => { $("#play-status").textContent = text; };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = form.elements.key.value.trim();
      const user = form.elements.user_id.value.trim();
      const call = async (method, path, body, headers) => {
        const res = await fetch(path, { method, body, headers: Object.assign({ authorization: "Bearer " + key }, headers || {}) });
        const json = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(`${path}: ${res.status} ${json.error ? json.error.code + ": " + json.error.message : ""}`);
        return json;
      };
      const upload = async (file) => (await call("POST", "/v1/uploads", file, { "content-type": file.type || "application/octet-stream", "x-user-id": user })).upload_id;
      try {
        const kinds = $$('input[name="kind"]:checked', form).map((c) => c.value);
        if (!kinds.length) throw new Error("pick at least one job");
        say("Uploading…");
        const front = await upload(form.elements.front.files[0]);
        const sideFile = form.elements.side.files[0];
        const side = sideFile ? await upload(sideFile) : null;
        const nodes = [];
        kinds.filter((k) => k.startsWith("vision.") || k === "photo.ingest").forEach((kind) => {
          nodes.push({ name: kind.replace(".", "_"), kind, input: { upload_id: front } });
        });
        if (kinds.includes("avatar.build") || kinds.includes("render.turntable")) {
          const photos = { front };
          if (side) photos.side = side;
          nodes.push({ name: "avatar", kind: "avatar.build", input: { photos, height_cm: Number(form.elements.height_cm.value) } });
        }
        if (kinds.includes("render.turntable")) {
          nodes.push({ name: "turntable", kind: "render.turntable", depends_on: ["avatar"], input: {
            design: { design_id: uuid4(), name: "Playground", background: "#f4f1ec",
                      items: [{ source: { key: { $from: "avatar", pointer: "/models/0/key" } } }] },
            frames: 24, quality: "draft", formats: ["webm", "mp4"] } });
        }
        const token = (await call("POST", "/v1/tokens", JSON.stringify({ user_id: user }), { "content-type": "application/json" })).token;
        const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/events?token=" + encodeURIComponent(token));
        await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = () => reject(new Error("the event socket did not open")); });
        say("Submitting…");
        const flow = await call("POST", "/v1/flows", JSON.stringify({ user_id: user, nodes }), { "content-type": "application/json" });
        out.innerHTML = "";
        const rows = {};
        const kindOf = Object.fromEntries(nodes.map((n) => [n.name, n.kind]));
        flow.nodes.forEach((n) => {
          n.kind = n.kind || kindOf[n.name];
          const section = document.createElement("section");
          section.className = "play-job";
          section.dataset.jobId = n.job_id;
          section.dataset.status = "queued";
          const h = document.createElement("h2");
          h.textContent = n.kind + " ";
          const state = document.createElement("span");
          state.className = "status s-queued";
          state.textContent = "queued";
          h.appendChild(state);
          const bar = document.createElement("progress");
          bar.max = 100; bar.value = 0; bar.setAttribute("aria-label", n.kind + " progress");
          const body = document.createElement("div");
          section.append(h, bar, body);
          out.appendChild(section);
          rows[n.job_id] = { section, state, bar, body };
        });
        say("Running: flow " + flow.flow_id);
        const set = (row, status) => { row.state.textContent = status; row.state.className = "status s-" + status; row.section.dataset.status = status; };
        socket.onmessage = async (message) => {
          const e = JSON.parse(message.data);
          const row = rows[e.job_id];
          if (!row) return;
          if (e.type === "job.progress") {
            set(row, "processing");
            if (typeof e.data.progress === "number") row.bar.value = e.data.progress;
          } else if (e.type === "job.completed") {
            row.bar.value = 100;
            const res = await fetch("/console/jobs/" + e.job_id + "/result");
            row.body.innerHTML = await res.text();
            enhance(row.body);
            set(row, "complete");
          } else if (e.type === "job.failed") {
            set(row, e.data.status || "error");
            const p = document.createElement("p");
            p.className = "error";
            p.textContent = e.data.error ? e.data.error.code + ": " + e.data.error.message : "failed";
            row.body.appendChild(p);
          }
          if (Object.values(rows).every((r) => ["complete", "error", "dead", "skipped"].includes(r.section.dataset.status))) {
            say("Done: flow " + flow.flow_id);
            socket.close();
          }
        };
      } catch (e) {
        say(String(e.message || e));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const play = $("#playground");
    if (play) playground(play);
    enhance(document);
    charts();
    if (!document.hidden) connect();
  });
})();
