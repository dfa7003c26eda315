// vidprov upload page: upload a clip to /v1/scan as a job, poll it, draw the verdict.
// No framework, no build step; untrusted text is only ever set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "vidprov.apikey";
let objectUrl = null;

function headers() {
  const key = $("apikey").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function show(id, on) { $(id).hidden = !on; }

function setStatus(text, fraction) {
  show("status", true);
  $("status-text").textContent = text;
  if (fraction === null) $("progress").removeAttribute("value");
  else $("progress").value = fraction;
}

function fail(message) {
  show("status", false);
  show("error", true);
  $("error").textContent = message;
}

function errorText(status, body) {
  if (body && body.message) return `${status}: ${body.message}`;
  return `request failed with status ${status}`;
}

function upload(file) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/scan?mode=job");
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) setStatus(`uploading ${file.name}`, e.loaded / e.total);
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 202 && body) resolve(body);
      else reject(new Error(errorText(xhr.status, body)));
    };
    xhr.onerror = () => reject(new Error("network error during upload"));
    xhr.send(form);
  });
}

async function poll(job) {
  for (;;) {
    const r = await fetch(`/v1/jobs/${job.id}`, { headers: headers() });
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error(errorText(r.status, body));
    if (body.status === "done") return body.result;
    if (body.status === "failed") throw new Error(errorText(body.http_status, body.error));
    setStatus(`scanning (${body.status})`, body.status === "running" ? body.progress : null);
    await new Promise((ok) => setTimeout(ok, 400));
  }
}

async function scan(file) {
  show("error", false);
  show("result", false);
  try {
    const job = await upload(file);
    setStatus("scanning", null);
    const verdict = await poll(job);
    show("status", false);
    render(verdict, file);
  } catch (err) {
    fail(err.message);
  }
}

function fmt(x, digits = 2) {
  return typeof x === "number" ? x.toFixed(digits) : "-";
}

function lane(name, segments, duration, testid) {
  const row = document.createElement("div");
  row.className = "lane";
  row.dataset.testid = testid;
  const label = document.createElement("span");
  label.className = "lane-name";
  label.textContent = name;
  const track = document.createElement("div");
  track.className = "track";
  for (const s of segments) {
    const el = document.createElement("div");
    el.className = `seg ${s.label || "ai"}`;
    el.style.left = `${(100 * s.start) / duration}%`;
    el.style.width = `${Math.max(0.4, (100 * (s.end - s.start)) / duration)}%`;
    const extra = s.payload ? ` payload ${s.payload}` : s.score !== undefined ? ` score ${fmt(s.score)}` : "";
    el.title = `${fmt(s.start)}-${fmt(s.end)} s: ${s.label || "marked"}${extra}`;
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
    else rows.push(["watermark", w.detected ? `detected, payload ${w.payload || "?"}, p = ${Number(w.p_value).toExponential(2)}` : "not detected"]);
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
    tr.insertCell().textContent = k;
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
  document.body.dataset.state = "done";
}

function init() {
  const key = $("apikey");
  key.value = localStorage.getItem(KEY_STORE) || "";
  key.addEventListener("change", () => localStorage.setItem(KEY_STORE, key.value.trim()));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) scan(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (e) => {
    if (e.target.files.length) scan(e.target.files[0]);
  });
  fetch("/healthz").then((r) => r.json()).then((h) => {
    if (h.auth === "open") $("keybox").hidden = true;
    const l = h.limits || {};
    $("limits").textContent = `Up to ${l.max_upload_mb} MB and ${l.max_duration_s} s; uploads are scanned, then deleted.`;
  }).catch(() => {});
  document.body.dataset.state = "ready";
}

document.addEventListener("DOMContentLoaded", init);
