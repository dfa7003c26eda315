// vidprov upload page: upload a clip to /v1/scan as a job, poll it, draw the verdict.
// No framework, no build step; untrusted text is only ever set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "vidprov.apikey";
const RETRIES = [500, 1000, 2000, 4000, 8000]; // polling: waits (ms) after a network error
let objectUrl = null;
let current = 0; // the latest scan: an earlier one still running must not draw over it
let uploading = null; // that scan's upload, aborted when another file is chosen
let running = null; // that scan's job, cancelled on the server when another file is chosen

function headers() {
  const key = $("apikey").value.trim();
  if (/[^\x21-\x7e]/.test(key)) {
    throw new Error("the API key holds a character an HTTP header cannot carry (keys are " +
      "printable ASCII): check what was pasted");
  }
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function show(id, on) { $(id).hidden = !on; }

function setStatus(text, fraction) {
  show("status", true);
  $("status-text").textContent = text;
  if (fraction === null) $("progress").removeAttribute("value");
  else $("progress").value = fraction;
}

function fail(message, status) {
  document.body.dataset.state = "failed";
  show("status", false);
  show("error", true);
  $("error").textContent = message;
  if (status === 401 || status === 403) { // say where the key goes
    $("keybox").hidden = false;
    $("keybox").open = true;
    $("apikey").focus();
  }
}

class RequestError extends Error {
  constructor(status, body) {
    super(body && body.message ? `${status}: ${body.message}` : `request failed with status ${status}`);
    this.status = status;
  }
}

const Superseded = Symbol("superseded"); // thrown out of a scan another file replaced

function upload(file, run) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/scan?mode=job");
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && run === current) setStatus(`uploading ${file.name}`, e.loaded / e.total);
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 202 && body) resolve(body);
      else reject(new RequestError(xhr.status, body));
    };
    xhr.onerror = () => reject(new Error("network error during upload"));
    xhr.onabort = () => reject(Superseded);
    uploading = xhr;
    xhr.send(form);
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function cancel(job) { // the server stops a superseded scan instead of finishing it for nobody
  fetch(`/v1/jobs/${job.id}`, { method: "DELETE", headers: headers() }).catch(() => {});
}

async function jobState(job) {
  // one poll, tried again after a network error (a proxy's blip, a server restarting)
  const auth = headers();
  for (let i = 0; ; i++) {
    let r;
    try {
      r = await fetch(`/v1/jobs/${job.id}`, { headers: auth });
    } catch (err) {
      if (i >= RETRIES.length) {
        throw new Error(`lost contact with the server while scanning (job ${job.id}): ${err.message}`);
      }
      await sleep(RETRIES[i]);
      continue;
    }
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new RequestError(r.status, body);
    if (!body || typeof body.status !== "string") {
      throw new Error(`the server's answer about job ${job.id} is not the API's JSON (a proxy in between?)`);
    }
    return body;
  }
}

async function poll(job, run) {
  for (;;) {
    const body = await jobState(job);
    if (run !== current) throw Superseded;
    if (body.status === "done") return body.result;
    if (body.status === "failed") throw new RequestError(body.http_status, body.error);
    setStatus(`scanning (${body.status})`, body.status === "running" ? body.progress : null);
    await sleep(400);
  }
}

async function scan(file, others = 0) {
  const run = ++current;
  if (uploading) uploading.abort(); // the earlier file's upload, if still going
  if (running) cancel(running); // or its job, if the upload was done
  running = null;
  show("error", false);
  show("result", false);
  document.body.dataset.state = "busy";
  $("announce").textContent = "";
  try {
    const job = await upload(file, run);
    if (run !== current) return cancel(job); // replaced as its upload ended
    running = job;
    setStatus(others ? `scanning ${file.name} (only the first of ${others + 1} files)` : "scanning", null);
    const verdict = await poll(job, run);
    running = null;
    show("status", false);
    render(verdict, file);
  } catch (err) {
    if (err !== Superseded && run === current) {
      running = null;
      fail(err.message, err.status);
    }
  }
}

function fmt(x, digits = 2) {
  return typeof x === "number" ? x.toFixed(digits) : "-";
}

function lane(name, segments, duration, testid) { // each segment a button: it seeks the preview
  const row = document.createElement("div");
  row.className = "lane";
  row.dataset.testid = testid;
  const label = document.createElement("span");
  label.className = "lane-name";
  label.textContent = name;
  const track = document.createElement("div");
  track.className = "track";
  for (const s of segments) {
    const el = document.createElement("button");
    el.type = "button";
    el.className = `seg ${s.label || "ai"}`;
    el.style.left = `${(100 * s.start) / duration}%`;
    el.style.width = `${Math.max(0.4, (100 * (s.end - s.start)) / duration)}%`;
    const extra = s.payload ? ` payload ${s.payload}` : s.score !== undefined ? ` score ${fmt(s.score)}` : "";
    el.title = `${name} ${fmt(s.start)}-${fmt(s.end)} s: ${s.label || "marked"}${extra}`;
    el.setAttribute("aria-label", el.title);
    el.addEventListener("click", () => { $("preview").currentTime = s.start; });
    track.appendChild(el);
  }
  row.append(label, track);
  return row;
}

function curve(frames, duration, threshold) {
  const row = document.createElement("div");
  row.className = "lane curve";
  row.dataset.testid = "lane-frames";
  const label = document.createElement("span");
  label.className = "lane-name";
  label.textContent = "frame scores";
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 1000 100");
  svg.setAttribute("preserveAspectRatio", "none");
  const y = (v) => 100 - 100 * v;
  const th = document.createElementNS(ns, "line");
  th.setAttribute("x1", "0"); th.setAttribute("x2", "1000");
  th.setAttribute("y1", y(threshold)); th.setAttribute("y2", y(threshold));
  th.setAttribute("stroke", "#adb5bd"); th.setAttribute("stroke-dasharray", "6 6");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", frames.map((f) => `${(1000 * f.t) / duration},${y(f.score)}`).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#1971c2");
  line.setAttribute("stroke-width", "2"); line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(th, line);
  row.append(label, svg);
  return row;
}

function axis(duration) {
  const row = document.createElement("div");
  row.className = "lane";
  const pad = document.createElement("span");
  const ticks = document.createElement("div");
  ticks.className = "axis";
  const step = [0.5, 1, 2, 5, 10, 30, 60, 120, 300].find((s) => duration / s <= 10) || 600;
  for (let t = 0; t <= duration + 1e-9; t += step) {
    const tick = document.createElement("span");
    tick.style.left = `${(100 * t) / duration}%`;
    tick.textContent = `${+t.toFixed(1)}s`;
    ticks.appendChild(tick);
  }
  row.append(pad, ticks);
  return row;
}

function pValue(p) { // one that underflowed to 0 is smaller than a double can say
  return Number(p) > 0 ? `= ${Number(p).toExponential(2)}` : "< 1e-300";
}

function evidenceRows(v) {
  const e = v.evidence || {};
  const rows = [];
  const c = e.c2pa;
  if (c) {
    rows.push(["C2PA manifest", c.state]);
    if (c.signer) rows.push(["signer", `${c.signer}${c.organization ? ` (organization ${c.organization})` : ""}`]);
    if (c.digital_source_type) rows.push(["source type", c.digital_source_type]);
    if (c.signed_at) rows.push(["signed at", `${c.signed_at} (${c.signed_at_source || "?"})`]);
  }
  const w = e.watermark;
  if (w) {
    if (w.detected === null || w.detected === undefined) rows.push(["watermark", w.note || "not checked"]);
    else rows.push(["watermark", w.detected ? `detected, payload ${w.payload || "?"}, p ${pValue(w.p_value)}` : "not detected"]);
  }
  const r = e.recovered;
  if (r) rows.push(["recovered manifest", `${r.manifest_id} (content ${r.content_matches ? "matches" : "differs"}; signer ${r.trusted ? "trusted" : "not trusted"})`]);
  const k = e.classifier;
  if (k) rows.push(["classifier", `${k.model}: score ${fmt(k.score)} (threshold ${fmt(k.threshold)})`]);
  else rows.push(["classifier", "not run"]);
  return rows;
}

function render(v, file) {
  const duration = v.duration > 0 ? v.duration : 1;
  $("label").textContent = v.label;
  $("label").className = `label ${v.label}`;
  $("score").textContent = fmt(v.score);
  $("decided").textContent = v.decided_by;
  $("fname").textContent = v.file;
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = URL.createObjectURL(file);
  $("nopreview").hidden = true;
  $("preview").src = objectUrl;

  const tl = $("timeline");
  tl.replaceChildren();
  tl.appendChild(lane("verdict", v.segments, duration, "lane-verdict"));
  const e = v.evidence || {};
  const wm = (e.watermark && e.watermark.segments) || [];
  tl.appendChild(lane("watermark", wm.map((s) => ({ ...s, label: "ai" })), duration, "lane-watermark"));
  if (e.classifier) {
    tl.appendChild(lane("classifier", e.classifier.segments || [], duration, "lane-classifier"));
    if ((e.classifier.frames || []).length > 1) tl.appendChild(curve(e.classifier.frames, duration, e.classifier.threshold));
  }
  tl.appendChild(axis(duration));

  const body = $("evidence").tBodies[0];
  body.replaceChildren();
  for (const [k, val] of evidenceRows(v)) {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = k;
    tr.append(th);
    tr.insertCell().textContent = val;
  }
  const conflicts = $("conflicts");
  conflicts.replaceChildren();
  for (const c of v.conflicts || []) {
    const li = document.createElement("li");
    li.textContent = `conflict: ${c}`;
    conflicts.appendChild(li);
  }
  $("raw").textContent = JSON.stringify(v, null, 2);
  show("result", true);
  $("announce").textContent = `${v.file}: ${v.label}, score ${fmt(v.score)}, decided by ${v.decided_by}`;
  document.body.dataset.state = "done";
}

function init() {
  const key = $("apikey");
  key.value = localStorage.getItem(KEY_STORE) || "";
  key.addEventListener("change", () => localStorage.setItem(KEY_STORE, key.value.trim()));
  const drop = $("drop");
  // a file dropped beside the box must not make the browser open it and leave the page
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const files = e.dataTransfer.files;
    if (files.length) scan(files[0], files.length - 1);
  });
  // the keyboard's way to the file chooser, as a button: Enter on key down, Space on key up
  // (a browser grants a Space press the right to open a chooser only when the key comes up)
  drop.addEventListener("keydown", (e) => {
    if (e.target !== drop || (e.key !== "Enter" && e.key !== " ")) return;
    e.preventDefault();
    if (e.key === "Enter") $("file").click();
  });
  drop.addEventListener("keyup", (e) => {
    if (e.target === drop && e.key === " ") $("file").click();
  });
  // a format the browser cannot play (a GIF, HEVC in some browsers): say so, not a blank box
  $("preview").addEventListener("error", () => { if ($("preview").src) $("nopreview").hidden = false; });
  $("file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    e.target.value = ""; // choosing the same file again (after an error) is a new choice
    if (file) scan(file);
  });
  fetch("/healthz").then((r) => r.json()).then((h) => {
    if (h.auth === "open") $("keybox").hidden = true;
    const l = h.limits || {};
    $("limits").textContent = `Up to ${l.max_upload_mb} MB and ${l.max_duration_s} s; uploads are scanned, then deleted.`;
  }).catch(() => {});
  document.body.dataset.state = "ready";
}

document.addEventListener("DOMContentLoaded", init);
