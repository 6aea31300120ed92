// The guest page (no inline script: the Content-Security-Policy forbids it).
import { api } from "/static/api.js";
import { mountCall } from "/static/call.js";
// the guest token travels in the fragment, which browsers never send to a server
const guestToken = location.hash.slice(1);
const form = document.getElementById("guest");
const error = document.getElementById("error");
if (!guestToken) error.textContent = "This link is incomplete: ask for a new one.";
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = new FormData(form).get("name");
  try {
    const grant = await api("POST", "/guest/join-token", { guest_token: guestToken, name });
    form.hidden = true;
    const call = mountCall(document.getElementById("call"), { onEnd: () => { form.hidden = false; } });
    await call.join(grant, name, {
      refresh: () => api("POST", "/guest/join-token", { guest_token: guestToken, name }),
    });
  } catch (e) { error.textContent = e.message; form.hidden = false; }
});
