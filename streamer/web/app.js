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
let connectTimer = null;
let config = { iceServers: [], maxUploadBytes: 8 * 1024 * 1024, pasteBack: true };

// Seconds from the answer to a connected call before the page calls it an ICE failure (a LAN connects in < 1 s),
// and before it calls it one when no candidate pair ever got an answer to its connectivity checks (a peer on
// the LAN answers in milliseconds; the browser itself would wait about 30 s before giving up).
const CONNECT_TIMEOUT_S = 15;
const NO_RESPONSE_TIMEOUT_S = 6;
let answeredAt = 0;

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

// Failures as the person sees them: what happened and what to do, in plain words.
const HELP = {
  token: "The server refused the token. Type the token the server was started with (reenact serve --token) " +
    "in the Token box, or open the address it printed, ending in #token=..., then press Start camera again.",
  busy: (max) => `The server is busy: it already serves ${max || "its maximum number of"} call(s) ` +
    "(reenact serve --max-streams). Try again when another call ends, or restart the server with a higher " +
    "--max-streams.",
  insecure: "This browser gives the camera only to secure pages: open the https:// address " +
    "(start the server with --self-signed, or --cert FILE --key FILE), or open the page on the server's own " +
    "machine at http://127.0.0.1:PORT/.",
  noCamera: "Camera permission was denied: allow the camera for this site (the camera icon in the address bar, " +
    "or the browser's site settings), then press Start camera again.",
  cameraMissing: "No camera was found: connect a webcam (or close the app that holds it), then press Start " +
    "camera again.",
  cameraBusy: "The camera could not be opened: another application is probably using it. Close it and press " +
    "Start camera again.",
};

function iceFailureHelp() {
  const remote = candidateSummary(pc && pc.remoteDescription && pc.remoteDescription.sdp);
  const local = candidateSummary(pc && pc.localDescription && pc.localDescription.sdp);
  let text = "The video connection failed (ICE): this browser and the server found no network path between them. ";
  if (config.iceLoopbackOnly) {
    text += "The server runs with --ice-loopback-only, which browsers cannot use: restart it without that switch. ";
  } else {
    text += `The server offered ${remote || "no address"}; this browser offered ${local || "no address"}. ` +
      "Make sure both are on the same network and UDP between them is not blocked by a firewall or VPN, " +
      "or give the server a TURN relay (reenact serve --ice-server turn:...). ";
    if (local && local.includes(".local")) {
      text += "This browser hides its own address behind an mDNS name (.local): if the server cannot resolve it " +
        "and the browser cannot reach the server's address, no path is left. ";
    }
  }
  return text + "Then press Start camera again.";
}

function candidateSummary(sdp) {
  if (!sdp) return "";
  const hosts = new Set();
  sdp.split(/\r?\n/).forEach((line) => {
    if (line.startsWith("a=candidate:")) {
      const parts = line.split(" ");
      if (parts.length > 7) hosts.add(`${parts[4]} (${parts[7]})`);
    }
  });
  return Array.from(hosts).join(", ");
}

// An HTTP failure of the API as a message to show.
class ApiError extends Error {
  constructor(status, message) {
    super(status === 401 ? HELP.token : status === 503 ? `${HELP.busy(config.maxStreams)} (${message})` : message);
    this.status = status;
  }
}

function setStatus(text, cls) {
  $("status").textContent = text;
  $("status").className = "status " + (cls || "");
}

async function api(path, options) {
  const resp = await fetch(path, options);
  let body = {};
  try { body = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok) throw new ApiError(resp.status, body.error || `${path}: HTTP ${resp.status}`);
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
  if (!window.isSecureContext || !navigator.mediaDevices) throw new Error(HELP.insecure);
  const video = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };
  try {
    try {
      return await navigator.mediaDevices.getUserMedia({ video, audio: true });
    } catch (e) {
      return await navigator.mediaDevices.getUserMedia({ video, audio: false });  // no (or a refused) microphone
    }
  } catch (e) {
    const help = { NotAllowedError: HELP.noCamera, SecurityError: HELP.noCamera, NotFoundError: HELP.cameraMissing,
      OverconstrainedError: HELP.cameraMissing, NotReadableError: HELP.cameraBusy, AbortError: HELP.cameraBusy }[e.name];
    throw new Error(help ? `${help} (${e.name})` : `The camera could not be opened: ${e.message}`);
  }
}

function failCall(message) {
  if (!pc) return;  // already stopped: one message per call
  show(message, true);
  setStatus("failed", "error");
  stop();
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
    // Page parts that keep server-side state (edits.js) listen for this to send it to a new call.
    channel.onopen = () => window.dispatchEvent(new Event("reenact-channel-open"));
    pc.ontrack = (event) => {
      if (event.track.kind === "video") {
        $("remote").srcObject = new MediaStream([event.track]);
        countFrames($("remote"));
      }
    };
    pc.onconnectionstatechange = () => {
      if (!pc) return;
      setStatus(pc.connectionState, pc.connectionState === "connected" ? "live" : "");
      state.connected = pc.connectionState === "connected";
      if (state.connected) {
        show("");
        clearTimeout(connectTimer);  // connected once: later drops are the browser's to report ("failed")
        connectTimer = null;
      }
      if (pc.connectionState === "failed") failCall(iceFailureHelp());
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    const body = { sdp: pc.localDescription.sdp, type: pc.localDescription.type };
    if (state.sourceId) body.source = state.sourceId;
    const answer = await api("offer", {
      method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
    });
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    answeredAt = performance.now();
    connectTimer = setTimeout(() => {
      if (pc && pc.connectionState !== "connected") failCall(iceFailureHelp());
    }, CONNECT_TIMEOUT_S * 1000);
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
  if (connectTimer) clearTimeout(connectTimer);
  statsTimer = null;
  connectTimer = null;
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
  if (!["error", "failed"].includes($("status").textContent)) setStatus("idle");
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
  let selectedId = null;
  const byId = new Map();
  report.forEach((s) => {
    byId.set(s.id, s);
    if (s.type === "inbound-rtp" && s.kind === "video") inbound = s;
    if (s.type === "transport" && s.selectedCandidatePairId) selectedId = s.selectedCandidatePairId;
    if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s;
  });
  if (selectedId && byId.has(selectedId)) pair = byId.get(selectedId);
  const pairs = Array.from(byId.values()).filter((s) => s.type === "candidate-pair");
  const waited = (performance.now() - answeredAt) / 1000;
  const unanswered = (p) => p.state === "failed" || (p.requestsSent > 0 && !p.responsesReceived);
  if (connectTimer && waited > NO_RESPONSE_TIMEOUT_S && pairs.every(unanswered)) {
    failCall(iceFailureHelp());  // no pair, or none was ever answered: waiting longer will not help
    return;
  }
  let rttMs = 0;
  if (pair) {
    const describe = (c) => c && { address: c.address || c.ip, port: c.port, type: c.candidateType, protocol: c.protocol };
    const local = describe(byId.get(pair.localCandidateId));
    const remote = describe(byId.get(pair.remoteCandidateId));
    state.selectedPair = { local: local && local.address, remote: remote && remote.address, localCandidate: local,
      remoteCandidate: remote };
    const text = (c) => (c ? `${c.address}:${c.port} (${c.type})` : "?");
    $("stat-pair").textContent = `${text(local)} \u2194 ${text(remote)} ${(local && local.protocol) || ""}`;
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
