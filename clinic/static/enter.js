// The enter page (no inline script: the Content-Security-Policy forbids it).
// The place in the waiting area is kept in this tab (sessionStorage): a reload takes it
// back (same private space, same place in the queue) while the clinic still holds it.
import { api } from "/static/api.js";
import { mountCall } from "/static/call.js";
import { checkedStream, stopChecking } from "/static/check.js";

const clinicId = location.pathname.split("/").pop();
const form = document.getElementById("enter");
const ended = document.getElementById("ended");
const error = document.getElementById("error");
const KEY = `waiting:${clinicId}`;

function stored() {
  try {
    const place = JSON.parse(sessionStorage.getItem(KEY));
    return place && Date.parse(place.grant.expires_at) > Date.now() ? place : null;
  } catch { return null; }
}

async function wait(grant, name) {
  form.hidden = true;
  ended.hidden = true;
  const call = mountCall(document.getElementById("call"), {
    onEnd: () => leave(grant),
    aloneText: "Please wait: a clinician will join you shortly. Keep this page open.",
    leftText: "The clinician has left; you are still in the waiting area.",
    audioFallback: true,
  });
  stopChecking();
  await call.join(grant, name, { stream: checkedStream() });
}

async function leave(grant) {
  sessionStorage.removeItem(KEY);
  try {
    await fetch(`/api/v1/waiting-area/${grant.patient_id}`, {
      method: "DELETE", headers: { Authorization: `Bearer ${grant.token}` },
    });
  } catch { /* the clinic lets the place go by itself within a minute */ }
  ended.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = new FormData(form).get("name");
  try {
    const grant = await api("POST", `/clinics/${clinicId}/waiting-area/enter`, { name });
    sessionStorage.setItem(KEY, JSON.stringify({ grant, name }));
    await wait(grant, name);
  } catch (e) { error.textContent = e.message; form.hidden = false; }
});
document.getElementById("again").addEventListener("click", () => {
  ended.hidden = true;
  form.hidden = false;
});

const place = stored();
if (place) {
  wait(place.grant, place.name).catch((e) => {
    error.textContent = e.message;
    form.hidden = false;
  });
}
