// The rooms page (no inline script: the Content-Security-Policy forbids it).
import { api, el, requireLogin } from "/static/api.js";
import { mountCall } from "/static/call.js";

const me = requireLogin();
document.getElementById("who").textContent = me.name;
document.getElementById("admin-link").hidden = me.role !== "clinic_admin";
const lobby = document.getElementById("lobby");
const error = document.getElementById("error");

async function join(room) {
  try {
    const grant = await api("POST", `/rooms/${room.id}/join-token`);
    lobby.hidden = true;
    const call = mountCall(document.getElementById("call"), { onEnd: () => { lobby.hidden = false; } });
    await call.join(grant, me.name, { refresh: () => api("POST", `/rooms/${room.id}/join-token`) });
  } catch (e) { error.textContent = e.message; lobby.hidden = false; }
}

async function invite(room) {
  try {
    const link = await api("POST", `/rooms/${room.id}/guest-links`);
    document.getElementById("guest-link").replaceChildren(
      el("p", {}, `Guest link for ${room.name} (valid until ${link.expires_at}):`),
      el("p", { class: "link", id: "guest-url" }, link.url));
  } catch (e) { error.textContent = e.message; }
}

const rooms = await api("GET", `/clinics/${me.clinic_id}/rooms`);
const mine = rooms.filter((r) => r.kind === "meeting_room" || (r.kind === "user_room" && r.owner_id === me.id));
document.getElementById("rooms").replaceChildren(...mine.map((room) => el("tr", { "data-room": room.id },
  el("td", {}, room.name),
  el("td", { class: "muted" }, room.kind === "user_room" ? "your room" : "meeting room"),
  el("td", {},
    el("button", { class: "join", onclick: () => join(room) }, "Join"), " ",
    el("button", { class: "secondary invite", onclick: () => invite(room) }, "Guest link")))));
