// The index page (no inline script: the Content-Security-Policy forbids it).
import { api, nextPage, session } from "/static/api.js";
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    session.save(await api("POST", "/auth/login",
      { email: form.get("email"), password: form.get("password") }));
    location.href = nextPage();
  } catch (error) {
    document.getElementById("error").textContent = error.message;
  }
});
