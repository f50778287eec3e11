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

  document.addEventListener("DOMContentLoaded", () => {
    enhance(document);
    charts();
    if (!document.hidden) connect();
  });
})();
