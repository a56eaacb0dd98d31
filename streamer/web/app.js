// reenact live: camera -> server (WebRTC) -> reenacted video back. Plain JS, no build step.
"use strict";

const $ = (id) => document.getElementById(id);

// Read by tests through the DevTools protocol; also handy in the console.
const state = {
  connected: false, framesShown: 0, framesDecoded: 0, serverStats: null, selectedPair: null,
  sourceId: null, pasteBack: true, errors: [], latencyMs: null,
};
window.reenactState = state;

let pc = null;
let channel = null;
let camera = null;
let statsTimer = null;
let config = { iceServers: [], maxUploadBytes: 8 * 1024 * 1024, pasteBack: true };

function token() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  return $("token").value || fromHash || "";
}

function headers(extra) {
  const h = Object.assign({}, extra);
  if (token()) h.Authorization = "Bearer " + token();
  return h;
}

function show(message, isError) {
  $("message").textContent = message || "";
  if (isError) state.errors.push(message);
}

function setStatus(text, cls) {
  $("status").textContent = text;
  $("status").className = "status " + (cls || "");
}

async function api(path, options) {
  const resp = await fetch(path, options);
  let body = {};
  try { body = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok) throw new Error(body.error || `${path}: HTTP ${resp.status}`);
  return body;
}

async function loadConfig() {
  config = await api("config", { headers: headers() });
  state.pasteBack = config.pasteBack;
  updatePasteButton();
}

function waitForIceGathering(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (peer.iceGatheringState === "complete") {
        peer.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
    };
    peer.addEventListener("icegatheringstatechange", check);
  });
}

async function openCamera() {
  const video = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };
  try {
    return await navigator.mediaDevices.getUserMedia({ video, audio: true });
  } catch (e) {
    return await navigator.mediaDevices.getUserMedia({ video, audio: false });  // no microphone
  }
}

async function start() {
  $("start").disabled = true;
  show("");
  try {
    await loadConfig();
    camera = await openCamera();
    $("local").srcObject = camera;
    pc = new RTCPeerConnection({ iceServers: config.iceServers });
    camera.getTracks().forEach((track) => pc.addTrack(track, camera));
    channel = pc.createDataChannel("control");
    channel.onmessage = onChannelMessage;
    pc.ontrack = (event) => {
      if (event.track.kind === "video") {
        $("remote").srcObject = new MediaStream([event.track]);
        countFrames($("remote"));
      }
    };
    pc.onconnectionstatechange = () => {
      setStatus(pc.connectionState, pc.connectionState === "connected" ? "live" : "");
      state.connected = pc.connectionState === "connected";
      if (pc.connectionState === "failed") show("connection failed", true);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    const body = { sdp: pc.localDescription.sdp, type: pc.localDescription.type };
    if (state.sourceId) body.source = state.sourceId;
    const answer = await api("offer", {
      method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
    });
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    statsTimer = setInterval(updateStats, 1000);
    $("stop").disabled = false;
    $("reanchor").disabled = false;
    $("pasteback").disabled = false;
  } catch (e) {
    show(e.message, true);
    setStatus("error", "error");
    stop();
  }
}

function stop() {
  if (statsTimer) clearInterval(statsTimer);
  statsTimer = null;
  if (pc) pc.close();
  pc = null;
  channel = null;
  if (camera) camera.getTracks().forEach((t) => t.stop());
  camera = null;
  $("local").srcObject = null;
  $("remote").srcObject = null;
  state.connected = false;
  $("start").disabled = false;
  ["stop", "reanchor", "pasteback"].forEach((id) => { $(id).disabled = true; });
  if ($("status").textContent !== "error") setStatus("idle");
}

function countFrames(video) {
  if (!video.requestVideoFrameCallback) return;
  const onFrame = () => {
    state.framesShown += 1;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

function onChannelMessage(event) {
  const msg = JSON.parse(event.data);
  if (msg.type === "stats") {
    state.serverStats = msg;
    state.pasteBack = msg.paste_back;
    updatePasteButton();
    $("stat-server-fps").textContent = msg.fps.toFixed(1);
    $("stat-proc").textContent = `${msg.latency_p50_ms.toFixed(0)} / ${msg.latency_p95_ms.toFixed(0)} ms`;
    $("stat-dropped").textContent = `${msg.dropped} of ${msg.received}`;
  } else if (msg.type === "error") {
    show(msg.error, true);
  }
}

function send(message) {
  if (channel && channel.readyState === "open") channel.send(JSON.stringify(message));
}

function updatePasteButton() {
  $("pasteback").textContent = state.pasteBack ? "Show crop" : "Paste back";
}

async function updateStats() {
  if (!pc) return;
  const report = await pc.getStats();
  let inbound = null;
  let pair = null;
  const byId = new Map();
  report.forEach((s) => {
    byId.set(s.id, s);
    if (s.type === "inbound-rtp" && s.kind === "video") inbound = s;
    if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s;
  });
  let rttMs = 0;
  if (pair) {
    const local = byId.get(pair.localCandidateId);
    const remote = byId.get(pair.remoteCandidateId);
    state.selectedPair = { local: local && (local.address || local.ip), remote: remote && (remote.address || remote.ip) };
    $("stat-pair").textContent = `${state.selectedPair.local} \u2194 ${state.selectedPair.remote}`;
    rttMs = (pair.currentRoundTripTime || 0) * 1000;
    $("stat-rtt").textContent = `${rttMs.toFixed(1)} ms`;
  }
  if (inbound) {
    state.framesDecoded = inbound.framesDecoded || 0;
    $("stat-fps").textContent = (inbound.framesPerSecond || 0).toFixed(1);
    $("stat-browser-dropped").textContent = String(inbound.framesDropped || 0);
    // End-to-end estimate: server processing + network round trip + jitter buffer + decode.
    const jitterMs = inbound.jitterBufferEmittedCount
      ? (1000 * inbound.jitterBufferDelay) / inbound.jitterBufferEmittedCount : 0;
    const decodeMs = inbound.framesDecoded ? (1000 * inbound.totalDecodeTime) / inbound.framesDecoded : 0;
    const serverMs = state.serverStats ? state.serverStats.latency_p50_ms : 0;
    state.latencyMs = serverMs + rttMs + jitterMs + decodeMs;
    $("stat-latency").textContent = `~${state.latencyMs.toFixed(0)} ms`;
  }
}

async function uploadPhoto() {
  const file = $("photo").files[0];
  if (!file) return;
  if (file.size > config.maxUploadBytes) {
    show(`${file.name} is over the ${(config.maxUploadBytes / 1e6).toFixed(1)} MB limit`, true);
    return;
  }
  show(`preparing ${file.name}...`);
  try {
    const info = await api("sources", {
      method: "POST", headers: headers({ "Content-Type": file.type || "application/octet-stream" }), body: file,
    });
    state.sourceId = info.id;
    $("source-name").textContent = `(${file.name})`;
    send({ type: "source", id: info.id });
    show(info.faces > 1 ? `${file.name}: ${info.faces} faces, using the largest` : "");
  } catch (e) {
    show(`${file.name}: ${e.message}`, true);
  }
}

$("start").onclick = start;
$("stop").onclick = stop;
$("reanchor").onclick = () => send({ type: "reanchor" });
$("pasteback").onclick = () => send({ type: "paste_back", value: !state.pasteBack });
$("photo").onchange = uploadPhoto;
loadConfig().catch((e) => show(e.message, true));
