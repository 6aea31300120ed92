// The enter page (no inline script: the Content-Security-Policy forbids it).
import { api } from "/static/api.js";
import { mountCall } from "/static/call.js";
const clinicId = location.pathname.split("/").pop();
const form = document.getElementById("enter");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = new FormData(form).get("name");
  try {
    const grant = await api("POST", `/clinics/${clinicId}/waiting-area/enter`, { name });
    form.hidden = true;
    const call = mountCall(document.getElementById("call"), {
      onEnd: () => { form.hidden = false; },
      aloneText: "Please wait: a clinician will join you shortly.",
    });
    await call.join(grant, name);
  } catch (e) { document.getElementById("error").textContent = e.message; form.hidden = false; }
});
