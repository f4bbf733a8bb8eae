// inbetween playground: plain JavaScript, no dependencies.
// The API key lives in localStorage and is only ever sent as the Authorization header.
"use strict";

const $ = (id) => document.getElementById(id);
const MODEL = "google/veo-3.1-first-last-image-to-video";
const FIELDS = ["image_url", "last_image_url", "prompt", "aspect_ratio", "resolution",
  "duration", "seed", "negative_prompt"];
const state = { files: { first: null, last: null }, current: null, stream: null,
  cursor: null, uploads: {} };

// ---- API --------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status; this.name = err.name || "Error"; this.field = err.field || null;
  }
}

function key() { return $("api-key").value.trim(); }

async function api(method, path, { json, form, headers = {}, signal } = {}) {
  if (!key()) throw new ApiError(401, { error: { name: "Unauthorized",
    message: "Enter your API key first.", field: "key" } });
  const init = { method, signal, headers: { Authorization: `Bearer ${key()}`, ...headers } };
  if (json !== undefined) { init.body = JSON.stringify(json); init.headers["Content-Type"] = "application/json"; }
  if (form !== undefined) init.body = form;
  const res = await fetch(path, init);
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!res.ok) {
    const err = new ApiError(res.status, body);
    if (res.status === 401) err.field = "key";
    throw err;
  }
  return body;
}

// ---- errors next to their controls ------------------------------------------------------
function clearErrors() {
  document.querySelectorAll(".error").forEach((el) => { el.textContent = ""; });
  document.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

function showError(err) {
  const field = err.field && FIELDS.includes(err.field) ? err.field : err.field === "key" ? "key" : "general";
  const target = $(`err-${field}`) || $("err-general");
  target.textContent = err.message;
  const control = { image_url: "first-frame", last_image_url: "last-frame", key: "api-key" }[field] || field;
  if ($(control)) { $(control).setAttribute("aria-invalid", "true"); }
}

// ---- frames -----------------------------------------------------------------------------
function setFile(role, file) {
  state.files[role] = file;
  delete state.uploads[role];
  const img = $(`${role}-preview`);
  const info = $(`${role}-info`);
  if (!file) { img.hidden = true; img.removeAttribute("src"); info.textContent = ""; updateSnippets(); return; }
  const url = URL.createObjectURL(file);
  img.onload = () => {
    info.textContent = `${file.name}: ${img.naturalWidth}×${img.naturalHeight} px, ${formatBytes(file.size)}`;
  };
  img.src = url; img.alt = `${role === "first" ? "First" : "Last"} frame preview`; img.hidden = false;
  updateSnippets();
}

function formatBytes(n) {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}

function wireDrop(role) {
  const input = $(`${role}-frame`);
  const zone = $(`drop-${role}`);
  input.addEventListener("change", () => setFile(role, input.files[0] || null));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("over");
    if (e.dataTransfer.files[0]) setFile(role, e.dataTransfer.files[0]);
  });
}

function swap() {
  const { first, last } = state.files;
  const uploads = state.uploads;
  setFile("first", last); setFile("last", first);
  state.uploads = { first: uploads.last, last: uploads.first };
}

async function upload(role) {
  if (state.uploads[role]) return state.uploads[role];
  const file = state.files[role];
  const field = role === "first" ? "image_url" : "last_image_url";
  if (!file) throw new ApiError(400, { error: { name: "InvalidRequest", field,
    message: `Choose the ${role} frame (JPEG, PNG or WebP).` } });
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const res = await api("POST", "/v2/uploads", { form });
    state.uploads[role] = res.url;
    return res.url;
  } catch (err) {
    if (err.field === "file") err.field = field;
    throw err;
  }
}

// ---- the request and its snippets -------------------------------------------------------
function requestBody(firstUrl, lastUrl) {
  const body = { model: MODEL, prompt: $("prompt").value, image_url: firstUrl, last_image_url: lastUrl,
    aspect_ratio: $("aspect_ratio").value, resolution: $("resolution").value,
    duration: Number($("duration").value), generate_audio: $("generate_audio").checked };
  const seed = $("seed").value.trim();
  if (seed !== "") body.seed = Number(seed);
  const negative = $("negative_prompt").value.trim();
  if (negative) body.negative_prompt = negative;
  return body;
}

function updateSnippets() {
  const body = requestBody(state.uploads.first || "https://example.com/first.jpg",
    state.uploads.last || "https://example.com/last.jpg");
  const base = window.location.origin;
  const json = JSON.stringify(body, null, 2);
  $("snippet-curl").textContent =
    `curl -s ${base}/v2/video/generations \\\n  -H "Authorization: Bearer $INBETWEEN_API_KEY" \\\n` +
    `  -H "Content-Type: application/json" \\\n  -d '${json.replace(/'/g, "'\\''")}'\n\n` +
    `curl -s "${base}/v2/video/generations?generation_id=ID" \\\n  -H "Authorization: Bearer $INBETWEEN_API_KEY"`;
  const py = "{\n" + Object.entries(body).map(([k, v]) =>
    `    ${JSON.stringify(k)}: ${typeof v === "boolean" ? (v ? "True" : "False") : JSON.stringify(v)},`)
    .join("\n") + "\n}";
  $("snippet-python").textContent =
    `import os, time, httpx\n\nheaders = {"Authorization": f"Bearer {os.environ['INBETWEEN_API_KEY']}"}\n` +
    `body = ${py}\nr = httpx.post("${base}/v2/video/generations", json=body, headers=headers)\n` +
    `gid = r.json()["id"]\nwhile True:\n    g = httpx.get("${base}/v2/video/generations",\n` +
    `                  params={"generation_id": gid}, headers=headers).json()\n` +
    `    if g["status"] in ("completed", "error"):\n        break\n    time.sleep(5)\n` +
    `print(g["video"]["url"] if g["video"] else g["error"])`;
}

// ---- progress ---------------------------------------------------------------------------
const STAGES = { queued: "Queued", fetching: "Fetching the frames", analysing: "Matching the frames",
  rendering: "Rendering", encoding: "Encoding", audio: "Making the sound track", storing: "Storing" };

function setProgress(snapshot) {
  const value = Math.max(0, Math.min(100, snapshot.progress || 0));
  const bar = $("progress");
  bar.setAttribute("aria-valuenow", String(value));
  $("progress-fill").style.width = `${value}%`;
  let text;
  if (snapshot.status === "completed") text = "Done.";
  else if (snapshot.status === "error") text = "Failed.";
  else {
    text = `${STAGES[snapshot.stage] || snapshot.stage || "Working"} — ${value}%`;
    if (snapshot.queue_position) text += ` (position ${snapshot.queue_position} in the queue)`;
  }
  bar.setAttribute("aria-valuetext", text);
  $("stage").textContent = text;
}

function addLog(entry) {
  const li = document.createElement("li");
  li.className = entry.level;
  li.textContent = `${entry.time.slice(11, 19)} ${entry.message}`;
  $("log").appendChild(li);
  $("log").scrollTop = $("log").scrollHeight;
}

function running(yes) {
  $("generate").disabled = yes;
  $("cancel").hidden = !yes;
}

function showResult(g) {
  running(false);
  state.current = null;
  localStorage.removeItem("inbetween.current");
  setProgress({ status: g.status, progress: g.progress });
  if (g.status === "completed" && g.video) {
    const player = $("player");
    player.src = g.video.url;
    if (g.video.thumbnail_url) player.poster = g.video.thumbnail_url;
    player.hidden = false;
    $("download").href = g.video.url;
    $("download").setAttribute("download", `inbetween-${g.id}.mp4`);
    $("download").hidden = false;
  } else if (g.error) {
    $("err-general").textContent = `${g.error.name}: ${g.error.message}`;
  }
  loadHistory();
}

// ---- the event stream: fetch() + a stream reader (EventSource cannot send headers) -------
async function follow(id) {
  if (state.stream) state.stream.abort();
  const controller = new AbortController();
  state.stream = controller;
  state.current = id;
  localStorage.setItem("inbetween.current", id);
  running(true);
  $("log").replaceChildren();
  let lastId = null;
  for (let attempt = 0; attempt < 5 && state.stream === controller; attempt++) {
    try {
      const headers = { Authorization: `Bearer ${key()}`, Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const res = await fetch(`/v2/video/generations/events?generation_id=${encodeURIComponent(id)}`,
        { headers, signal: controller.signal });
      if (!res.ok) {
        let body = null;
        try { body = await res.json(); } catch (e) { body = null; }
        throw new ApiError(res.status, body);
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const ev = parseEvent(block);
          if (!ev) continue;
          if (ev.id) lastId = ev.id;
          if (handleEvent(ev)) { state.stream = null; return; }
        }
      }
    } catch (err) {
      if (controller.signal.aborted) return;
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) {
        showError(err); running(false); state.stream = null; return;
      }
    }
    await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
  }
  if (state.stream === controller) { state.stream = null; poll(id); }
}

function parseEvent(block) {
  const ev = { event: "message", data: "", id: null };
  let hasData = false;
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") ev.event = value;
    else if (name === "id") ev.id = value;
    else if (name === "data") { ev.data += (hasData ? "\n" : "") + value; hasData = true; }
  }
  return hasData ? ev : null;
}

function handleEvent(ev) {
  const data = JSON.parse(ev.data);
  if (ev.event === "status" || ev.event === "progress") setProgress(data);
  else if (ev.event === "log") addLog(data);
  else if (ev.event === "end") { showResult(data); return true; }
  return false;
}

async function poll(id) {
  // the fallback when the stream cannot be kept open: GET with backoff
  for (let delay = 1000; state.current === id; delay = Math.min(delay * 1.5, 10000)) {
    try {
      const g = await api("GET", `/v2/video/generations?generation_id=${encodeURIComponent(id)}`);
      setProgress({ status: g.status, stage: null, progress: g.progress,
        queue_position: g.meta && g.meta.queue_position });
      if (g.status === "completed" || g.status === "error") { showResult(g); return; }
    } catch (err) {
      if (err.status === 404 || err.status === 401) { showError(err); running(false); return; }
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

// ---- generate and cancel ----------------------------------------------------------------
async function generate(e) {
  e.preventDefault();
  clearErrors();
  $("player").hidden = true; $("download").hidden = true;
  if (!key()) {
    showError({ field: "key", message: "Enter your API key first (inbetween keys create --name me)." });
    $("api-key").focus();
    return;
  }
  if (!$("prompt").value.trim()) {
    showError({ field: "prompt", message: "Describe what happens between the two frames." });
    return;
  }
  running(true);
  setProgress({ status: "queued", stage: "queued", progress: 0 });
  $("stage").textContent = "Uploading the frames…";
  try {
    const [first, last] = await Promise.all([upload("first"), upload("last")]);
    updateSnippets();
    const created = await api("POST", "/v2/video/generations", { json: requestBody(first, last),
      headers: { "Idempotency-Key": crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) } });
    loadHistory();
    follow(created.id);
  } catch (err) {
    showError(err);
    running(false);
    $("stage").textContent = "Idle.";
  }
}

async function cancel() {
  const id = state.current;
  if (!id) return;
  if (state.stream) { state.stream.abort(); state.stream = null; }
  try { await api("DELETE", `/v2/video/generations?generation_id=${encodeURIComponent(id)}`); }
  catch (err) { if (err.status !== 404) showError(err); }
  state.current = null;
  localStorage.removeItem("inbetween.current");
  running(false);
  $("stage").textContent = "Cancelled.";
  loadHistory();
}

// ---- history ----------------------------------------------------------------------------
async function loadHistory(more = false) {
  if (!key()) return;
  let page;
  try {
    const after = more && state.cursor ? `&after=${encodeURIComponent(state.cursor)}` : "";
    page = await api("GET", `/v2/video/generations/list?limit=20${after}`);
  } catch (err) { if (err.field === "key") showError(err); return; }
  const list = $("history");
  if (!more) list.replaceChildren();
  for (const g of page.data) list.appendChild(historyItem(g));
  state.cursor = page.next_cursor;
  $("more").hidden = !page.next_cursor;
  return page;
}

function historyItem(g) {
  const li = document.createElement("li");
  li.dataset.id = g.id;
  const thumb = g.video && g.video.thumbnail_url ? document.createElement("img") : document.createElement("span");
  if (g.video && g.video.thumbnail_url) { thumb.src = g.video.thumbnail_url; thumb.alt = ""; thumb.loading = "lazy"; }
  else thumb.className = "noimg";
  const play = document.createElement("button");
  play.type = "button"; play.className = "play";
  const prompt = document.createElement("span");
  prompt.textContent = g.request.prompt.length > 120 ? `${g.request.prompt.slice(0, 117)}…` : g.request.prompt;
  const status = document.createElement("span");
  status.className = "status";
  status.textContent = `${g.status} · ${g.request.resolution} · ${g.request.duration} s · ${g.created_at.slice(0, 16).replace("T", " ")}`;
  play.append(prompt, status);
  play.setAttribute("aria-label", `${g.status === "completed" ? "Play" : "Show"}: ${g.request.prompt.slice(0, 60)} (${g.status})`);
  play.addEventListener("click", () => {
    clearErrors();
    if (g.status === "completed" || g.status === "error") showResult(g);
    else follow(g.id);
  });
  const del = document.createElement("button");
  del.type = "button"; del.className = "delete"; del.textContent = "Delete";
  del.setAttribute("aria-label", `Delete: ${g.request.prompt.slice(0, 60)}`);
  del.addEventListener("click", async () => {
    try {
      if (state.current === g.id) await cancel();
      else await api("DELETE", `/v2/video/generations?generation_id=${encodeURIComponent(g.id)}`);
      li.remove();
    } catch (err) { if (err.status === 404) li.remove(); else showError(err); }
  });
  li.append(thumb, play, del);
  return li;
}

// ---- start ------------------------------------------------------------------------------
async function reattach() {
  const page = await loadHistory();
  const saved = localStorage.getItem("inbetween.current");
  const open = page && page.data.find((g) => g.status === "queued" || g.status === "generating");
  const target = (page && page.data.find((g) => g.id === saved && !["completed", "error"].includes(g.status))) || open;
  if (target) follow(target.id);
}

function init() {
  const stored = localStorage.getItem("inbetween.key");
  if (stored) $("api-key").value = stored;
  $("api-key").addEventListener("input", () => localStorage.setItem("inbetween.key", key()));
  $("api-key").addEventListener("change", () => { clearErrors(); reattach(); });
  $("key-show").addEventListener("click", () => {
    const shown = $("api-key").type === "text";
    $("api-key").type = shown ? "password" : "text";
    $("key-show").textContent = shown ? "Show" : "Hide";
    $("key-show").setAttribute("aria-pressed", String(!shown));
  });
  wireDrop("first"); wireDrop("last");
  $("swap").addEventListener("click", swap);
  document.querySelectorAll(".example").forEach((b) => b.addEventListener("click", () => {
    $("prompt").value = b.textContent; updateSnippets();
  }));
  $("form").addEventListener("submit", generate);
  $("form").addEventListener("input", updateSnippets);
  $("cancel").addEventListener("click", cancel);
  $("refresh").addEventListener("click", () => loadHistory());
  $("more").addEventListener("click", () => loadHistory(true));
  updateSnippets();
  if (key()) reattach();
}

document.addEventListener("DOMContentLoaded", init);
