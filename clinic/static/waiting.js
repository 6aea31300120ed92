// The waiting page (no inline script: the Content-Security-Policy forbids it).
import { api, el, requireLogin } from "/static/api.js";
import { mountCall } from "/static/call.js";

const me = requireLogin();
document.getElementById("who").textContent = me.name;
const lobby = document.getElementById("lobby");
const error = document.getElementById("error");
const minutes = (s) => (s < 60 ? `${s} s` : `${Math.floor(s / 60)} min`);

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

async function refresh() {
  if (lobby.hidden) return;
  try {
    const waiting = await api("GET", `/clinics/${me.clinic_id}/waiting-area`);
    document.getElementById("empty").hidden = waiting.length > 0;
    document.getElementById("patients").replaceChildren(...waiting.map((p) =>
      el("tr", { "data-patient": p.patient_id },
        el("td", {}, p.name), el("td", { class: "muted" }, minutes(p.waiting_s)),
        el("td", {}, el("button", { class: "join", onclick: () => join(p) }, "Join")))));
    error.textContent = "";
  } catch (e) { error.textContent = e.message; }
}
await refresh();
setInterval(refresh, 2000);
