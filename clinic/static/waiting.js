// The waiting page (no inline script: the Content-Security-Policy forbids it).
import { api, el, requireLogin } from "/static/api.js";
import { mountCall } from "/static/call.js";

const me = requireLogin();
document.getElementById("who").textContent = me.name;
const lobby = document.getElementById("lobby");
const error = document.getElementById("error");
const minutes = (s) => (s < 60 ? `${s} s` : `${Math.floor(s / 60)} min`);
const title = document.title;
let known = null; // the patients waiting at the last look (null: not looked yet)

async function join(patient) {
  try {
    const grant = await api("POST", `/waiting-area/${patient.patient_id}/join-token`);
    lobby.hidden = true;
    const call = mountCall(document.getElementById("call"), { onEnd: () => { lobby.hidden = false; } });
    await call.join(grant, me.name, {
      refresh: () => api("POST", `/waiting-area/${patient.patient_id}/join-token`),
    });
  } catch (e) { error.textContent = e.message; lobby.hidden = false; }
}

function row(p) {
  const busy = p.state === "in_consultation";
  const where = busy ? `In consultation with ${p.with.join(", ") || "a colleague"}`
    : p.connected ? minutes(p.waiting_s) : `${minutes(p.waiting_s)} (reconnecting…)`;
  return el("tr", { "data-patient": p.patient_id, "data-state": p.state },
    el("td", {}, p.name), el("td", { class: busy ? "state" : "muted" }, where),
    el("td", {}, busy ? "" : el("button", { class: "join", onclick: () => join(p) }, "Join")));
}

// the choice is kept for this browser; a sound needs a click on the page first (autoplay)
const sound = document.getElementById("arrival-sound");
sound.checked = localStorage.getItem("arrivalSound") === "on";
sound.addEventListener("change", () => localStorage.setItem("arrivalSound", sound.checked ? "on" : "off"));

function ding() {
  const context = new AudioContext();
  const gain = context.createGain();
  gain.connect(context.destination);
  [[660, 0], [880, 0.18]].forEach(([frequency, at]) => {
    const note = context.createOscillator();
    note.frequency.value = frequency;
    note.connect(gain);
    note.start(context.currentTime + at);
    note.stop(context.currentTime + at + 0.25);
  });
  gain.gain.setValueAtTime(0.15, context.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.6);
  setTimeout(() => context.close(), 1000);
  window.arrivalSounds = (window.arrivalSounds || 0) + 1;
}

async function refresh() {
  if (lobby.hidden) return;
  try {
    const listed = await api("GET", `/clinics/${me.clinic_id}/waiting-area`);
    const waiting = listed.filter((p) => p.state === "waiting");
    document.getElementById("empty").hidden = listed.length > 0;
    document.getElementById("patients").replaceChildren(...listed.map(row));
    // an arrival shows in the tab's title, so a clinician in another tab sees it
    const arrived = known !== null && waiting.some((p) => !known.has(p.patient_id));
    known = new Set(waiting.map((p) => p.patient_id));
    document.title = waiting.length ? `(${waiting.length}) ${title}` : title;
    if (arrived) {
      document.getElementById("arrival").textContent = "A patient has arrived.";
      if (sound.checked) ding();
    }
    error.textContent = "";
  } catch (e) { error.textContent = e.message; }
}
await refresh();
setInterval(refresh, 2000);
