// reenact live: the editing-control sliders (head offsets, expression, eyes, lips, motion source).
// Kept apart from app.js: it only reads app.js's globals `api`, `headers` and `send`, and listens for its
// "reenact-channel-open" event. Every change sends the whole set as {"type": "edits", "controls": {...}} on
// the data channel; the server checks it and applies it from the next frame (an out-of-range value comes
// back as an "error" message, shown by app.js).
"use strict";

const EDIT_SLIDERS = {
  // control: [min, max, step, neutral]; ranges as in streamer/edit_controls.py
  yaw: [-45, 45, 1, 0],
  pitch: [-30, 30, 1, 0],
  roll: [-45, 45, 1, 0],
  expression_scale: [0, 2, 0.05, 1],
  smile: [-1, 1, 0.05, 0],
  eyes_open: [0, 1.5, 0.05, 1],
  lips_open: [0, 1, 0.02, 0.3],
};
// Overrides that follow the driver until their box is ticked.
const EDIT_OVERRIDES = ["eyes_open", "lips_open"];

const editState = { controls: null, sent: 0 };
window.reenactEdits = editState; // read by tests through the DevTools protocol

function editControls() {
  const controls = {};
  for (const name of Object.keys(EDIT_SLIDERS)) {
    const value = Number(document.getElementById(`edit-${name}`).value);
    const override = EDIT_OVERRIDES.includes(name);
    controls[name] = override && !document.getElementById(`edit-${name}-on`).checked ? null : value;
    document.getElementById(`edit-${name}-value`).textContent = controls[name] === null ? "driver" : String(value);
  }
  controls.motion_from = document.getElementById("edit-motion_from").value;
  return controls;
}

let editPending = false;
function sendEdits() {
  // at most one message per animation frame while a slider is dragged; the newest state wins
  if (editPending) return;
  editPending = true;
  requestAnimationFrame(() => {
    editPending = false;
    editState.controls = editControls();
    send({ type: "edits", controls: editState.controls });
    editState.sent += 1;
  });
}

function setEdits(controls) {
  for (const [name, [, , , neutral]] of Object.entries(EDIT_SLIDERS)) {
    const value = controls && controls[name] !== undefined ? controls[name] : null;
    document.getElementById(`edit-${name}`).value = value === null ? neutral : value;
    if (EDIT_OVERRIDES.includes(name)) document.getElementById(`edit-${name}-on`).checked = value !== null;
  }
  document.getElementById("edit-motion_from").value = (controls && controls.motion_from) || "both";
  editState.controls = editControls();
}

function buildEditSliders() {
  const box = document.getElementById("edit-sliders");
  for (const [name, [min, max, step, neutral]] of Object.entries(EDIT_SLIDERS)) {
    const label = document.createElement("label");
    const title = name.replace("_", " ");
    const toggle = EDIT_OVERRIDES.includes(name) ? `<input id="edit-${name}-on" type="checkbox" title="override the driver">` : "";
    label.innerHTML = `${toggle}${title} <input id="edit-${name}" type="range" min="${min}" max="${max}" step="${step}" ` +
      `value="${neutral}"> <output id="edit-${name}-value"></output>`;
    box.appendChild(label);
    label.querySelectorAll("input").forEach((input) => { input.oninput = sendEdits; });
  }
  document.getElementById("edit-motion_from").onchange = sendEdits;
  document.getElementById("edit-reset").onclick = () => { setEdits(null); sendEdits(); };
  setEdits(null);
}

buildEditSliders();
// Start where the server's streams start (reenact serve --yaw ... etc.).
api("config", { headers: headers() }).then((cfg) => setEdits(cfg.edits)).catch(() => {});
// A new call starts with the server's defaults: send the sliders' state once its data channel opens (app.js).
window.addEventListener("reenact-channel-open", sendEdits);
