// Model Train Service web page: plain JavaScript, no build step, no external files.
"use strict";

const MAX_FILE_BYTES = 25 * 1000 * 1000; // the page caps at 25 MB: below the server's 25 MiB
const CHUNK_BYTES = 1024 * 1024;
const RETRIES = 4;
const $ = (id) => document.getElementById(id);
let info = null;
let stopWatching = () => {};

// --- HTTP ------------------------------------------------------------------------------------
function headers(extra = {}) {
  const key = localStorage.getItem("modeltrain.apiKey");
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (response.status === 401) {
    showAuth();
    throw new Error("this service wants an API key");
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
  return body;
}

async function withRetries(send) {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await send();
      if (response.status < 500 || attempt >= RETRIES - 1) return response;
    } catch (error) { // network error: try again, as the upload protocol allows
      if (attempt >= RETRIES - 1) throw error;
    }
    await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
  }
}

// --- views -----------------------------------------------------------------------------------
function show(view) {
  for (const section of document.querySelectorAll("main > section")) section.hidden = true;
  $(`view-${view}`).hidden = false;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view);
}

function showAuth() {
  $("auth").hidden = false;
}

$("auth-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem("modeltrain.apiKey", $("api-key").value);
  $("auth").hidden = true;
  route();
});

function table(element, columns, rows) {
  element.replaceChildren();
  const head = element.createTHead().insertRow();
  for (const c of columns) head.appendChild(Object.assign(document.createElement("th"), { textContent: c.label }));
  const body = element.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const c of columns) {
      const td = tr.insertCell();
      const value = c.value(row);
      if (value instanceof Node) td.appendChild(value); else td.textContent = value ?? "";
    }
  }
}

const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v ?? ""));
const link = (text, href) => Object.assign(document.createElement("a"), { textContent: text, href });

// --- train -----------------------------------------------------------------------------------
let chosen = null;

function pick(file) {
  $("train-error").textContent = "";
  if (!file) return;
  if (!/\.(csv|tsv|txt)$/i.test(file.name) && !/csv|text/.test(file.type)) {
    $("train-error").textContent = `${file.name} is not a CSV file.`;
    return;
  }
  if (file.size > MAX_FILE_BYTES) {
    $("train-error").textContent = `${file.name} is ${(file.size / 1e6).toFixed(1)} MB; the limit is 25 MB.`;
    return;
  }
  chosen = file;
  $("drop-text").textContent = `${file.name} (${(file.size / 1e6).toFixed(2)} MB)`;
  file.slice(0, 64 * 1024).text().then((head) => {
    const line = head.replace(/^\uFEFF/, "").split(/\r?\n/)[0];
    const delimiter = [",", ";", "\t", "|"].sort((a, b) => line.split(b).length - line.split(a).length)[0];
    const columns = line.split(delimiter).map((c) => c.trim().replace(/^"|"$/g, ""));
    $("target").replaceChildren(...columns.map((c) => new Option(c, c)));
    $("target").value = columns[columns.length - 1];
    checkBoxes("exclude", columns);
    for (const select of document.querySelectorAll(".column-option")) {
      select.replaceChildren(new Option("none", ""), ...columns.map((c) => new Option(c, c)));
    }
    $("train-form").hidden = false;
  });
}

$("file").addEventListener("change", () => pick($("file").files[0]));
for (const type of ["dragenter", "dragover"]) $("drop").addEventListener(type, (e) => { e.preventDefault(); $("drop").classList.add("over"); });
for (const type of ["dragleave", "drop"]) $("drop").addEventListener(type, () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => { e.preventDefault(); pick(e.dataTransfer.files[0]); });

// SHA-256 of the whole file (hex), so that the service can say it already trained on it; null
// where Web Crypto is not offered (pages served over plain HTTP from another host).
async function fileSha256(file) {
  if (!(window.crypto && crypto.subtle)) return null;
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function showDuplicate(body) {
  $("upload").hidden = true;
  $("train-note").replaceChildren("Already trained: ", link(body.modelId, `#/job/${body.duplicateOf}`),
    " (same file and options). Tick “train again” to train anyway.");
}

// Send a file in ordered chunks, each retried as the upload protocol allows; `first` holds the
// fields of chunk 0 (empty ones are left out). Stops early when chunk 0 says it is a duplicate.
async function sendChunks(url, file, first, onProgress) {
  const total = Math.max(1, Math.ceil(file.size / CHUNK_BYTES));
  let body = null;
  for (let index = 0; index < total; index++) {
    const form = new FormData();
    form.append("filename", file.name);
    form.append("chunkIndex", String(index));
    form.append("totalChunks", String(total));
    if (body) form.append("trackingId", body.trackingId);
    else for (const [k, v] of Object.entries(first)) if (v !== null && v !== undefined && v !== "") form.append(k, v);
    form.append("chunk", file.slice(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES), file.name);
    const response = await withRetries(() => fetch(url, { method: "POST", body: form, headers: headers() }));
    if (response.status === 401) { showAuth(); throw new Error("this service wants an API key"); }
    body = await response.json();
    if (!response.ok) throw new Error(body.error);
    if (body.duplicateOf) return body;
    onProgress(body.receivedBytes);
  }
  return body;
}

// A checkbox per name (a model family, a column to leave out).
function checkBoxes(id, names, ticked = [], show = (name) => name) {
  $(id).replaceChildren(...names.map((name) => {
    const box = Object.assign(document.createElement("input"), { type: "checkbox", value: name, checked: ticked.includes(name) });
    const label = Object.assign(document.createElement("label"), { className: "inline" });
    label.append(box, ` ${show(name)} `);
    return label;
  }));
}

// The metrics a job may be judged by (from /api/info), for the task chosen: with task auto, both
// tasks' (a metric decides the task); the first option is the task's default.
function metricOptions(id, task, chosen = "", first = "default: roc_auc or r2") {
  const byTask = (info && info.metrics) || {};
  const tasks = task === "auto" ? Object.keys(byTask) : [task];
  const groups = tasks.filter((t) => byTask[t]).map((t) => {
    const group = Object.assign(document.createElement("optgroup"), { label: t });
    group.append(...byTask[t].map((m) => new Option(`${m.name}${m.higherIsBetter ? "" : " (lower is better)"}`, m.name)));
    return group;
  });
  $(id).replaceChildren(new Option(first, ""), ...groups);
  $(id).value = chosen;
  if ($(id).value !== chosen) $(id).value = "";
}
$("task").addEventListener("change", () => metricOptions("metric", $("task").value, $("metric").value));

// How the job was judged, in a sentence: the metric, the held-out rows, the decision threshold.
function judged(result) {
  const v = result.validation || {};
  const direction = result.higherIsBetter === false ? "lower is better" : "higher is better";
  const rows = v.scheme === "time" ? `the latest ${v.heldOutRows} rows by ${v.column} (${v.heldOutFrom} to ${v.heldOutTo})`
    : v.scheme === "group" ? `${v.heldOutRows} rows of ${v.heldOutGroups} of the ${v.groups} groups of ${v.column}, never seen in training`
      : `${v.heldOutRows ?? "the"} held-out rows, drawn at random`;
  const threshold = result.decisionThreshold == null ? ""
    : ` Labels are ${result.positiveClass} where its probability is at least ${fmt(result.decisionThreshold)} (tuned for ${result.primaryMetric}).`;
  return `Judged by ${result.primaryMetric} (${direction}) on ${rows}.${threshold}`;
}

// The model families a job may search (from /api/info), as checkboxes; none ticked: all.
function familyBoxes(id, ticked = []) {
  $(id).dataset.ticked = JSON.stringify(ticked); // drawn again once /api/info has answered
  checkBoxes(id, (info && info.families) || [], ticked, (name) => name.replaceAll("_", " "));
}
const ticked = (id) => [...$(id).querySelectorAll("input:checked")].map((box) => box.value);

$("train-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!chosen) return;
  $("train-button").disabled = true;
  $("upload").hidden = false;
  $("train-error").textContent = "";
  $("train-note").textContent = "";
  try {
    const sha256 = $("force").checked ? null : await fileSha256(chosen);
    const first = { target: $("target").value, task: $("task").value, modelName: $("model-name").value,
      timeBudget: $("time-budget").value, families: ticked("families").join(",") || null,
      excludeColumns: ticked("exclude").join(",") || null, metric: $("metric").value || null,
      positiveClass: $("positive-class").value.trim() || null, weightColumn: $("weight-column").value || null,
      timeColumn: $("time-column").value || null, groupColumn: $("group-column").value || null,
      fileSha256: sha256, force: $("force").checked ? "true" : null };
    const body = await sendChunks("/api/model-train/start", chosen, first, (sent) => {
      $("upload-bar").value = (100 * sent) / chosen.size;
      $("upload-text").textContent = `Uploading… ${(sent / 1e6).toFixed(1)} of ${(chosen.size / 1e6).toFixed(1)} MB`;
    });
    if (body.duplicateOf) { showDuplicate(body); return; }
    const trackingId = body.trackingId;
    location.hash = `#/job/${trackingId}`;
  } catch (error) {
    $("train-error").textContent = error.message;
  } finally {
    $("train-button").disabled = false;
  }
});

// Horizontal bars of [name, value] pairs: positive values to the right (green), negative to the
// left (red), scaled to the largest magnitude.
function bars(element, pairs) {
  element.replaceChildren();
  const largest = Math.max(1e-12, ...pairs.map(([, v]) => Math.abs(v)));
  for (const [name, value] of pairs) {
    const width = `${(100 * Math.abs(value)) / largest}%`;
    const neg = Object.assign(document.createElement("div"), { className: "neg" });
    const pos = Object.assign(document.createElement("div"), { className: "pos" });
    (value < 0 ? neg : pos).style.width = width;
    (value < 0 ? pos : neg).style.width = "0";
    element.append(Object.assign(document.createElement("span"), { textContent: name }), neg, pos,
      Object.assign(document.createElement("span"), { className: "num", textContent: fmt(value) }));
  }
}

// --- one job ---------------------------------------------------------------------------------
function renderJob(job) {
  $("job-id").textContent = job.trackingId;
  $("job-status").textContent = job.status;
  $("job-status").className = `badge ${job.status}`;
  const running = job.status === "running";
  $("job-stage").textContent = job.stage
    + (job.bestScore != null ? ` · best so far ${fmt(job.bestScore)}` : "")
    + (running && job.eta != null ? ` · about ${Math.ceil(job.eta)} s of search left` : "");
  $("job-file").textContent = job.filename;
  const origin = job.retrainOf ? ["retrain of ", job.retrainOf] : job.duplicateOf ? ["same file and options as ", job.duplicateOf] : null;
  $("job-origin").replaceChildren(...(origin ? [origin[0], link(origin[1].slice(0, 8), `#/job/${origin[1]}`)] : []));
  $("job-bar").value = job.progress;
  $("job-progress").textContent = `${job.progress}%`;
  $("job-error").textContent = job.error || "";
  const result = job.result;
  $("job-result").hidden = !result;
  if (!result) return;
  $("job-model").textContent = job.modelId;
  $("job-predict").href = `#/predict/${encodeURIComponent(job.modelId)}`;
  if (info && info.mlflowUrl && result.experimentId) {
    $("job-run").href = `${info.mlflowUrl}/#/experiments/${result.experimentId}/runs/${result.runId}`;
  }
  $("job-judged").textContent = judged(result);
  const metrics = Object.entries(result.metrics).map(([name, value]) => ({ name, value }));
  table($("job-metrics"), [{ label: "metric", value: (r) => r.name + (r.name === result.primaryMetric ? " (primary)" : "") },
    { label: "value", value: (r) => fmt(r.value) }], metrics);
  showLeaderboard(result);
  const dropped = Object.entries(result.droppedColumns || {});
  $("job-dropped-box").hidden = dropped.length === 0;
  table($("job-dropped"), [{ label: "column", value: (r) => r[0] }, { label: "why", value: (r) => r[1] }], dropped);
  const drivers = Object.entries(result.explanations || {}).slice(0, 15);
  $("job-why").hidden = drivers.length === 0;
  bars($("job-why-bars"), drivers);
  if ($("retrain-form").dataset.job !== job.trackingId) { // once per job: keep what was typed
    $("retrain-form").dataset.job = job.trackingId;
    const columns = [result.target, ...(result.features || []), ...Object.keys(result.droppedColumns || {})];
    $("retrain-columns").replaceChildren(...[...new Set(columns)].map((c) => new Option(c)));
    $("retrain-target").value = result.target;
    $("retrain-budget").value = (job.options && job.options.timeBudget) || "";
    familyBoxes("retrain-families", (job.options && job.options.families) || []);
    $("retrain-metric").dataset.first = `as before (${result.primaryMetric})`; // a new target may be of the other task
    metricOptions("retrain-metric", "auto", "", $("retrain-metric").dataset.first);
    $("retrain-error").textContent = "";
  }
  const warnings = (result.guardrails || {}).warnings || [];
  $("job-checks").hidden = warnings.length === 0;
  $("job-warnings").replaceChildren(...warnings.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
  showPlots(job);
}

// The leaderboard as a person reads it: the chosen model (or the ensemble and its members) first,
// each family's best with it, and every candidate folded away with the parameters that differ.
const ROW_FIELDS = new Set(["trial", "estimator", "fitSeconds", "role", "familyBest", "weight", "members", "error"]);

function showLeaderboard(result) {
  const metric = result.primaryMetric;
  const rows = result.leaderboard || [];
  const name = (r) => (r.trial == null ? r.estimator : `${r.estimator} #${r.trial}`);
  const chosen = rows.find((r) => r.role === "chosen");
  const members = rows.filter((r) => r.role === "member");
  $("job-chosen").textContent = !chosen ? result.estimator
    : members.length ? `an ensemble of ${members.map((r) => `${name(r)} (weight ${r.weight})`).join(", ")}, ${metric} ${fmt(chosen[metric])} on validation`
      : `${name(chosen)}, ${metric} ${fmt(chosen[metric])} on validation`;
  const trials = rows.filter((r) => r.trial != null); // the parameters that tell them apart
  const varying = [...new Set(trials.flatMap((r) => Object.keys(r)))].filter((k) => k !== metric && !ROW_FIELDS.has(k)
    && new Set(trials.map((r) => JSON.stringify(r[k] ?? null))).size > 1);
  const mark = (r) => (r.role === "chosen" ? "✔ chosen" : r.role === "member" ? `✔ member ×${r.weight}` : "");
  const base = [{ label: "", value: mark }, { label: "candidate", value: name },
    { label: metric, value: (r) => fmt(r[metric]) }];
  const picked = [chosen, ...members].filter(Boolean);
  const bests = rows.filter((r) => r.familyBest || r.role);
  table($("job-leaderboard"), [...base, { label: "fit seconds", value: (r) => fmt(r.fitSeconds) }],
    [...picked, ...bests.filter((r) => !picked.includes(r))]);
  for (const tr of $("job-leaderboard").querySelectorAll("tbody tr")) {
    tr.classList.toggle("picked", tr.firstChild.textContent !== "");
  }
  $("job-candidates-summary").textContent = `All ${rows.length} candidates kept (MLflow has a run for each)`;
  table($("job-candidates-table"), [...base, ...varying.map((k) => ({ label: k, value: (r) => (r[k] == null ? "" : fmt(r[k])) })),
    { label: "error", value: (r) => r.error || "" }], rows);
}

async function showPlots(job) {
  const box = $("job-plots");
  if (box.dataset.job === job.trackingId) return; // once per job
  box.dataset.job = job.trackingId;
  box.replaceChildren();
  for (const name of job.result.plots || []) {
    try { // fetched with the API key, if any; <img src> could not send it
      const response = await fetch(`/api/model-train/${job.trackingId}/plots/${name}`, { headers: headers() });
      if (!response.ok) continue;
      const img = Object.assign(document.createElement("img"), { alt: name, title: name.replaceAll("_", " ") });
      img.src = URL.createObjectURL(await response.blob());
      box.appendChild(img);
    } catch (error) { /* a missing plot is no reason to fail the page */ }
  }
}

function watchJob(id) {
  let closed = false;
  let source = null;
  let timer = null;
  const poll = async () => {
    if (closed) return;
    try {
      const job = await api(`/api/model-train/status/${id}`);
      renderJob(job);
      if (job.status === "completed" || job.status === "failed") return;
    } catch (error) { $("job-error").textContent = error.message; }
    timer = setTimeout(poll, 1000);
  };
  if (!localStorage.getItem("modeltrain.apiKey") && window.EventSource) {
    source = new EventSource(`/api/model-train/events/${id}`);
    source.addEventListener("status", (event) => {
      const job = JSON.parse(event.data);
      renderJob(job);
      if (job.status === "completed" || job.status === "failed") source.close();
    });
    source.onerror = () => { source.close(); poll(); }; // polling as the fallback
  } else poll();
  return () => { closed = true; if (source) source.close(); clearTimeout(timer); };
}

$("retrain-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("retrain-error").textContent = "";
  const body = {};
  if ($("retrain-target").value) body.target = $("retrain-target").value;
  if ($("retrain-budget").value) body.timeBudget = Number($("retrain-budget").value);
  body.families = ticked("retrain-families"); // [] searches every family again
  if ($("retrain-metric").value) body.metric = $("retrain-metric").value;
  try {
    const answer = await api(`/api/model-train/${$("retrain-form").dataset.job}/retrain`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    location.hash = `#/job/${answer.trackingId}`;
  } catch (error) { $("retrain-error").textContent = error.message; }
});

$("copy-model").addEventListener("click", async () => {
  await navigator.clipboard.writeText($("job-model").textContent).catch(() => {});
  $("copy-model").textContent = "Copied";
  setTimeout(() => ($("copy-model").textContent = "Copy"), 1500);
});

// --- all jobs, models ------------------------------------------------------------------------
function watchJobs() {
  let timer = null;
  const refresh = async () => {
    try {
      const jobs = await api("/api/model-train/status?limit=100");
      table($("jobs-table"), [
        { label: "job", value: (j) => link(j.trackingId.slice(0, 8), `#/job/${j.trackingId}`) },
        { label: "file", value: (j) => j.filename },
        { label: "status", value: (j) => j.status },
        { label: "progress", value: (j) => `${j.progress}%` },
        { label: "created", value: (j) => new Date(j.createdAt).toLocaleString() },
        { label: "model", value: (j) => j.modelId || "" },
      ], jobs);
    } catch (error) { /* shown by the auth form or next refresh */ }
    timer = setTimeout(refresh, 2000);
  };
  refresh();
  return () => clearTimeout(timer);
}

async function loadModels() {
  const models = await api("/api/models");
  const versions = models.flatMap((m) => m.versions.map((v) => ({
    ...v, name: m.name,
    aliases: Object.entries(m.aliases || {}).filter(([, to]) => String(to) === String(v.version)).map(([a]) => a),
  })));
  const button = (text, action) => {
    const b = Object.assign(document.createElement("button"), { type: "button", textContent: text });
    b.addEventListener("click", () => action().then(loadModels).catch((e) => ($("models-error").textContent = e.message)));
    return b;
  };
  const actions = (v) => {
    const box = document.createElement("span");
    if (!v.aliases.includes("champion")) box.appendChild(button("Make champion", () => setAlias(v, "champion")));
    box.appendChild(button("Delete", () => deleteVersion(v)));
    return box;
  };
  $("models-error").textContent = "";
  table($("models-table"), [
    { label: "model", value: (v) => link(v.modelId, `#/predict/${encodeURIComponent(v.modelId)}`) },
    { label: "aliases", value: (v) => v.aliases.map((a) => `@${a}`).join(" ") },
    { label: "status", value: (v) => v.status },
    { label: "metrics", value: (v) => Object.entries(v.metrics).map(([k, x]) => `${k} ${fmt(x)}`).join(", ") },
    { label: "job", value: (v) => (v.trackingId ? link(v.trackingId.slice(0, 8), `#/job/${v.trackingId}`) : "") },
    { label: "drift", value: driftBadge },
    { label: "", value: actions },
  ], versions);
  $("model-ids").replaceChildren(...versions.map((v) => new Option(v.modelId)));
}

const modelPath = (v) => `/api/models/${encodeURIComponent(v.name)}`;

// A version's drift as a badge (filled in when its report arrives); click it for the table.
function driftBadge(v) {
  const badge = Object.assign(document.createElement("button"), { type: "button", className: "badge", textContent: "…" });
  api(`${modelPath(v)}/versions/${v.version}/drift`).then((report) => {
    const drifted = report.drifted;
    badge.textContent = drifted === null ? `${report.rows} rows` : drifted.length ? `drift: ${drifted.join(", ")}` : "no drift";
    badge.classList.add(drifted && drifted.length ? "failed" : drifted ? "completed" : "pending");
    badge.addEventListener("click", () => showDrift(v, report));
  }).catch(() => { badge.textContent = "—"; badge.title = "no profile: trained before drift was kept"; });
  return badge;
}

function showDrift(v, report) {
  $("drift").hidden = false;
  $("drift").dataset.path = `${modelPath(v)}/versions/${v.version}/drift`;
  $("drift-title").textContent = `Drift of ${report.modelId}: ${report.rows} rows since ${report.since || "—"}`
    + (report.reason ? ` (${report.reason})` : "");
  table($("drift-table"), [
    { label: "column", value: (c) => c.column },
    { label: "kind", value: (c) => c.kind },
    { label: "PSI", value: (c) => fmt(c.psi) },
    { label: "missing", value: (c) => fmt(c.missingShare) },
    { label: "outside training", value: (c) => fmt(c.outsideTrainingShare) },
    { label: "drifted", value: (c) => (c.drifted === null ? "—" : c.drifted ? "yes" : "no") },
  ], report.columns);
}

$("drift-reset").addEventListener("click", async () => {
  try {
    const report = await api($("drift").dataset.path, { method: "DELETE" });
    $("drift-title").textContent = `Drift of ${report.modelId}: a new window began at ${report.since}`;
    loadModels();
  } catch (error) { $("models-error").textContent = error.message; }
});

async function setAlias(v, alias) {
  await api(`${modelPath(v)}/aliases/${alias}`, {
    method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ version: String(v.version) }),
  });
}

async function deleteVersion(v) {
  if (!confirm(`Delete ${v.modelId}? It can no longer be used for predictions.`)) return;
  const force = v.aliases.length > 0;
  if (force && !confirm(`${v.aliases.map((a) => "@" + a).join(", ")} point(s) at it; remove them too?`)) return;
  await api(`${modelPath(v)}/versions/${v.version}?force=${force}`, { method: "DELETE" });
}

// --- predict ---------------------------------------------------------------------------------
$("predict-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("predict-error").textContent = "";
  const modelId = $("predict-model").value.trim();
  const probabilities = $("predict-proba").checked;
  const explain = $("predict-explain").checked;
  $("predict-why").hidden = true;
  try {
    let rows;
    let result;
    const file = $("predict-file").files[0];
    if (file) {
      const csv = await file.text();
      rows = csv.split(/\r?\n/).filter(Boolean).slice(1).map((line) => ({ row: line }));
      result = await api(`/api/model-inference/predict?modelId=${encodeURIComponent(modelId)}&probabilities=${probabilities}&explain=${explain}`,
        { method: "POST", body: csv, headers: { "Content-Type": "text/csv" } });
    } else {
      rows = JSON.parse($("predict-rows").value || "[]");
      result = await api("/api/model-inference/predict", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ modelId, inputs: rows, probabilities, explain }),
      });
    }
    const columns = [{ label: "#", value: (r) => r.i + 1 }, { label: "prediction", value: (r) => fmt(r.p) }];
    for (const [k, label] of (result.classes || []).entries()) columns.push({ label: `P(${label})`, value: (r) => fmt(result.probabilities[r.i][k]) });
    const inputKeys = Object.keys(rows[0] || {}).slice(0, 6);
    for (const key of inputKeys) columns.push({ label: key, value: (r) => fmt(rows[r.i]?.[key]) });
    table($("predict-table"), columns, result.predictions.map((p, i) => ({ p, i })));
    if (result.explanations) {
      const rowsShown = [...$("predict-table").tBodies[0].rows];
      const why = (i) => {
        const e = result.explanations[i];
        rowsShown.forEach((tr, j) => tr.classList.toggle("picked", j === i));
        const what = e.class !== undefined ? `P(${e.class}) = ${fmt(e.value)}` : `prediction ${fmt(e.value)}`;
        $("predict-why-title").textContent = `Why row ${i + 1}: ${what}, base ${fmt(e.base)}`;
        const pairs = Object.entries(e.contributions).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 15);
        bars($("predict-why-bars"), pairs);
        $("predict-why").hidden = false;
      };
      rowsShown.forEach((tr, i) => tr.addEventListener("click", () => why(i)));
      why(0);
    }
  } catch (error) {
    $("predict-error").textContent = error instanceof SyntaxError ? `The rows are not valid JSON: ${error.message}` : error.message;
  }
});

// A whole CSV as a batch job: uploaded in chunks, predicted by a worker, the result CSV offered
// for download once it completes (fetched with the key, so that keyed services work too).
$("batch-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("batch-file").files[0];
  const modelId = $("predict-model").value.trim();
  $("predict-error").textContent = "";
  $("batch-download").hidden = true;
  if (!file || !modelId) { $("predict-error").textContent = "Choose a model and a CSV file."; return; }
  if (file.size > MAX_FILE_BYTES) { $("predict-error").textContent = `${file.name} is larger than 25 MB.`; return; }
  $("batch-button").disabled = true;
  $("batch").hidden = false;
  try {
    const first = { modelId, probabilities: $("predict-proba").checked ? "true" : null };
    const started = await sendChunks("/api/model-inference/batch", file, first, (sent) => {
      $("batch-bar").value = (100 * sent) / file.size;
      $("batch-text").textContent = `Uploading… ${(sent / 1e6).toFixed(1)} of ${(file.size / 1e6).toFixed(1)} MB`;
    });
    let job;
    for (;;) {
      job = await api(`/api/model-inference/batch/${started.trackingId}`);
      $("batch-bar").value = job.progress;
      $("batch-text").textContent = `Batch job ${job.trackingId.slice(0, 8)}: ${job.stage} ${job.progress}%`;
      if (job.status === "completed" || job.status === "failed") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (job.status === "failed") throw new Error(`The batch job failed: ${job.error}`);
    const response = await fetch(job.result.resultUrl, { headers: headers() });
    if (!response.ok) throw new Error((await response.json()).error);
    const link = $("batch-download");
    link.href = URL.createObjectURL(await response.blob());
    link.download = `${file.name.replace(/\.[^.]*$/, "")}-predictions.csv`;
    link.textContent = `Download ${job.result.rows} predictions (CSV)`;
    link.hidden = false;
    $("batch-text").textContent = `Batch job ${job.trackingId.slice(0, 8)}: ${job.result.rows} rows predicted by ${job.modelId} in ${job.result.seconds.toFixed(1)} s`;
  } catch (error) {
    $("predict-error").textContent = error.message;
  } finally {
    $("batch-button").disabled = false;
  }
});

// --- routing ---------------------------------------------------------------------------------
async function route() {
  stopWatching();
  stopWatching = () => {};
  const [, view, arg] = (location.hash || "#/train").split("/");
  if (view === "job" && arg) { show("job"); stopWatching = watchJob(arg); }
  else if (view === "jobs") { show("jobs"); stopWatching = watchJobs(); }
  else if (view === "models") { show("models"); loadModels().catch(() => {}); }
  else if (view === "predict") {
    show("predict");
    if (arg) $("predict-model").value = decodeURIComponent(arg);
    loadModels().catch(() => {});
  } else show("train");
}

window.addEventListener("hashchange", route);
api("/api/info").then((body) => {
  info = body;
  familyBoxes("families", ticked("families"));
  familyBoxes("retrain-families", JSON.parse($("retrain-families").dataset.ticked || "[]"));
  metricOptions("metric", $("task").value, $("metric").value);
  const first = $("retrain-metric").dataset.first;
  if (first) metricOptions("retrain-metric", "auto", $("retrain-metric").value, first);
  if (info.mlflowUrl) $("mlflow-link").replaceChildren(link("MLflow UI", info.mlflowUrl));
}).catch(() => {});
route();
