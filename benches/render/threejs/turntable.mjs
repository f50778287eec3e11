// The three.js peer: serve the page, three and the models on loopback, drive
// headless Chromium (Debian's, CPU WebGL through SwiftShader) with
// puppeteer-core, read each frame back and pipe it into ffmpeg with the same
// H.264 settings as atelier. Prints one JSON line like atelier-render-bench.
// usage: node turntable.mjs CAMERA_JSON MODELS_DIR OUT_DIR
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [cameraPath, modelsDir, outDir] = process.argv.slice(2);
const cam = JSON.parse(fs.readFileSync(cameraPath, 'utf8'));
const here = path.dirname(new URL(import.meta.url).pathname);
const roots = { '/three/': path.join(here, 'node_modules/three/'), '/models/': modelsDir + '/' };
const types = { '.js': 'text/javascript', '.html': 'text/html', '.glb': 'model/gltf-binary' };
const server = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  let file = url === '/' ? path.join(here, 'page.html') : null;
  for (const [prefix, dir] of Object.entries(roots)) if (url.startsWith(prefix)) file = path.join(dir, url.slice(prefix.length));
  if (!file || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));

const start = performance.now();
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
});
const page = await browser.newPage();
page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.waitForFunction('window.ready === true');
const info = await page.evaluate((c) => window.setup(c), cam);
const setupMs = performance.now() - start;

const mp4 = path.join(outDir, `threejs-${cam.height}p.mp4`);
const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
  '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${cam.width}x${cam.height}`, '-framerate', '24', '-i', 'pipe:0',
  '-vf', 'vflip', '-c:v', 'libx264', '-preset', 'medium', '-crf', '23', '-pix_fmt', 'yuv420p',
  '-movflags', '+faststart', '-f', 'mp4', mp4], { stdio: ['pipe', 'ignore', 'inherit'] });
const done = new Promise((r) => ffmpeg.on('close', r));
const loopStart = performance.now();
const frameMs = [];
for (let i = 0; i < cam.frames; i++) {
  const t = performance.now();
  const b64 = await page.evaluate((n) => window.frame(n), i);
  const buf = Buffer.from(b64, 'base64');
  frameMs.push(performance.now() - t);
  if (i === 0) fs.writeFileSync(path.join(outDir, `threejs-front-${cam.height}p.rgba`), buf);
  if (!ffmpeg.stdin.write(buf)) await new Promise((r) => ffmpeg.stdin.once('drain', r));
}
ffmpeg.stdin.end();
const renderS = (performance.now() - loopStart) / 1e3;
const tailStart = performance.now();
await done;
const encodeTailMs = performance.now() - tailStart;
await browser.close();
server.close();
frameMs.sort((a, b) => a - b);
console.log(JSON.stringify({
  system: 'three.js', three: '0.187.0', webgl: info.renderer,
  width: cam.width, height: cam.height, frames: cam.frames,
  total_s: (performance.now() - start) / 1e3, setup_ms: setupMs, render_loop_s: renderS,
  encode_tail_ms: encodeTailMs, frame_ms_mean: frameMs.reduce((a, b) => a + b, 0) / frameMs.length,
  frame_ms_p50: frameMs[frameMs.length >> 1], frame_ms_max: frameMs[frameMs.length - 1],
  mp4_bytes: fs.statSync(mp4).size, mp4,
}));
