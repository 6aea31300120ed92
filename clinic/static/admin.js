// The clinic admin's page: devices (status, enrollment codes, buttons, video, commands,
// revocation), rooms and members.
import { api, el, requireLogin } from "/static/api.js";

const me = requireLogin();
document.getElementById("who").textContent = me.name;
const clinic = `/clinics/${me.clinic_id}`;
const error = document.getElementById("error");
const ACTIONS = ["", "join", "leave", "toggle_mute", "toggle_camera", "answer_next_patient"];
const SIZES = [[640, 480], [1280, 720], [1920, 1080]];
let rooms = [];
let members = [];
let editing = null;

const show = (e) => { error.textContent = e.message; };
function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

// what an admin reads first: is it working? (words, and a colour for a glance)
function health(d) {
  const s = d.status || {};
  if (!d.enrolled) return ["not-enrolled", "Not enrolled"];
  if (!d.online) return ["offline", "Offline"];
  const broken = Object.entries(s.peripherals || {}).filter(([, v]) => v !== "ok");
  const problems = broken.map(([k, v]) => `${k} ${v}`);
  if (s.config_error) problems.push("config refused");
  if (s.storage_problem) problems.push("storage problem");
  if (s.state === "error") problems.push("error");
  return problems.length ? ["problem", `Online, ${problems.join(", ")}`] : ["ok", "Online"];
}

async function loadDevices() {
  const devices = await api("GET", `${clinic}/devices`);
  document.getElementById("devices").replaceChildren(...devices.map((d) => {
    const s = d.status || {};
    const peripherals = Object.entries(s.peripherals || {}).map(([k, v]) => `${k} ${v}`).join(", ");
    const state = d.online ? `${s.state || ""}${s.room_id ? " in " + roomName(s.room_id) : ""}` +
      ` (${s.signalling || "cloud"})` : d.status ? "last known, before it went offline" : "";
    const [kind, words] = health(d);
    return el("tr", { "data-device": d.device_id, class: d.online ? "" : "stale" },
      el("td", {}, el("a", { href: "#", title: "Open its settings",
                             onclick: (e) => { e.preventDefault(); edit(d); } }, d.name)),
      el("td", { class: `online health-${kind}` }, words),
      el("td", {}, state + (s.config_error ? ` · config refused: ${s.config_error}` : "") +
        (s.storage_problem ? ` · storage problem: cannot write ${s.storage_problem.path}` +
          ` (${s.storage_problem.reason})` : "")),
      el("td", {}, peripherals),
      el("td", {}, s.software_version || ""),
      el("td", {}, ago(d.last_seen)));
  }));
  if (editing) {
    const fresh = devices.find((d) => d.device_id === editing.device_id);
    if (!fresh) closeEditor();
  }
}

function roomName(id) { return (rooms.find((r) => r.id === id) || { name: id }).name; }

function select(name, options, value, label) {
  const node = el("select", { name, id: `field-${name}` });
  if (label) node.setAttribute("aria-label", label);
  for (const [val, label] of options) {
    const option = el("option", { value: val }, label);
    if (String(val) === String(value ?? "")) option.selected = true;
    node.append(option);
  }
  return node;
}

function edit(device) {
  editing = device;
  const config = device.config;
  const callRooms = rooms.filter((r) => r.kind === "meeting_room" || r.kind === "user_room");
  const rows = [];
  for (let n = 1; n <= 6; n++) {
    const b = config.buttons[String(n)] || {};
    const action = select(`action-${n}`, ACTIONS.map((a) => [a, a ? a.replaceAll("_", " ") : "nothing"]),
                          b.action, `Button ${n}: what it does`);
    const room = select(`room-${n}`, [["", "Choose a room"], ...callRooms.map((r) => [r.id, r.name])],
                        b.room_id, `Button ${n}: the room it joins`);
    // a room only means something for a join button
    const showRoom = () => { room.hidden = action.value !== "join"; };
    action.addEventListener("change", showRoom);
    showRoom();
    rows.push(el("tr", { "data-button": String(n) },
      el("td", {}, `Button ${n}`), el("td", {}, action), el("td", {}, room),
      el("td", {}, el("span", { class: "field-error", id: `error-button-${n}`, role: "alert" }))));
  }
  const v = config.video;
  const form = el("form", { id: "config-form" },
    el("h3", {}, `${device.name}`),
    el("table", {}, el("tbody", {}, ...rows)),
    el("label", { for: "field-size" }, "Video size"),
    select("size", SIZES.map(([w, h]) => [`${w}x${h}`, `${w} × ${h}`]), `${v.width}x${v.height}`),
    el("label", { for: "field-fps" }, "Frames per second"),
    select("fps", [[15, "15"], [25, "25"], [30, "30"]], v.fps),
    el("label", { for: "field-codec" }, "Codec"), select("codec", [["H264", "H.264"], ["VP8", "VP8"]], v.codec),
    el("label", { for: "field-bitrate" }, "Maximum bitrate (kbit/s)"),
    el("input", { name: "bitrate", id: "field-bitrate", type: "number", min: "100", max: "8000",
                  value: String(v.max_bitrate_kbps) }),
    el("label", { for: "field-min-bitrate" },
       "Minimum bitrate (kbit/s): the box says when its uplink cannot carry this"),
    el("input", { name: "min-bitrate", id: "field-min-bitrate", type: "number", min: "100", max: "8000",
                  value: String(v.min_bitrate_kbps ?? 150) }),
    el("span", { class: "field-error", id: "error-video", role: "alert" }),
    el("p", {}, el("input", { name: "chime", id: "field-chime", type: "checkbox",
                              ...(config.waiting?.chime ? { checked: "" } : {}) }), " ",
      el("label", { for: "field-chime", class: "inline" },
         "Chime on the box's speaker when a patient arrives in an empty waiting area")),
    el("p", {}, el("button", { type: "submit", id: "save-config" }, "Save"), " ",
      el("span", { class: "muted", id: "saved" })));
  form.addEventListener("submit", (e) => { e.preventDefault(); save(device, form); });
  const commands = el("p", {}, ...["identify", "mute", "leave", "reload_config", "restart"].map((action) =>
    el("button", { class: "secondary command", "data-action": action, onclick: () => command(device, action) },
      action.replace("_", " "))), " ", el("span", { id: "command-result", class: "muted" }));
  const revoke = el("button", { class: "danger", id: "revoke", onclick: () => revokeDevice(device) }, "Revoke");
  const editor = document.getElementById("editor");
  editor.replaceChildren(form, el("h3", {}, "Commands"), commands, revoke);
  if (!device.enrolled) {
    editor.append(el("h3", {}, "Enrollment"),
      el("p", {}, el("button", { type: "button", class: "secondary", id: "new-code-button",
                                onclick: () => newCode(device) }, "New enrollment code"),
        " ", el("span", { class: "muted" }, "the code given before stops working")));
  }
  editor.hidden = false;
}

// A one-time code, as a person reads it out and types it: in groups of four, with a
// copy button, when it stops working in words, and the whole command for the box.
function showCode(created) {
  const code = created.enrollment_code.replace(/(\d{4})(?=\d)/g, "$1 ");
  const until = new Date(created.expires_at).toLocaleString(undefined,
    { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
  const command = `kiosk enroll ${created.enrollment_code} --clinic-url ${location.origin}`;
  const copied = el("span", { class: "muted", id: "copied", role: "status" });
  const copy = (text) => async () => {
    try { await navigator.clipboard.writeText(text); copied.textContent = "Copied."; }
    catch { copied.textContent = "Select the text and copy it."; }
  };
  document.getElementById("new-code").replaceChildren(
    el("p", {}, "Enrollment code: shown once, works until ", el("strong", { id: "code-expiry" }, until), "."),
    el("p", { class: "link", id: "enrollment-code" }, code), " ",
    el("p", {}, el("button", { type: "button", class: "secondary", id: "copy-code",
                              onclick: copy(created.enrollment_code) }, "Copy code"), " ", copied),
    el("p", { class: "muted" }, "Or, on the box: ", el("code", { id: "enroll-command" }, command), " ",
      el("button", { type: "button", class: "secondary", id: "copy-command", onclick: copy(command) },
         "Copy command")));
  document.getElementById("new-code").scrollIntoView({ block: "nearest" });
}

async function newCode(device) {
  try {
    showCode(await api("POST", `/devices/${device.device_id}/enrollment-code`));
  } catch (e) { show(e); }
}

function closeEditor() { editing = null; document.getElementById("editor").hidden = true; }

async function save(device, form) {
  const data = new FormData(form);
  const buttons = {};
  for (let n = 1; n <= 6; n++) {
    const action = data.get(`action-${n}`);
    if (!action) continue;
    buttons[String(n)] = action === "join" ? { action, room_id: data.get(`room-${n}`) || null } : { action };
  }
  const [width, height] = data.get("size").split("x").map(Number);
  const config = { ...device.config, buttons,
    video: { ...device.config.video, width, height, fps: Number(data.get("fps")), codec: data.get("codec"),
             max_bitrate_kbps: Number(data.get("bitrate")), min_bitrate_kbps: Number(data.get("min-bitrate")) },
    waiting: { ...device.config.waiting, chime: data.get("chime") === "on" } };
  for (const old of form.querySelectorAll(".field-error")) old.textContent = "";
  error.textContent = "";
  try {
    const answer = await api("PUT", `/devices/${device.device_id}/config`, config);
    device.config = config;
    document.getElementById("saved").textContent = `saved as version ${answer.config_version}`;
  } catch (e) {
    document.getElementById("saved").textContent = "";
    if (e.code !== "invalid") { show(e); return; }
    for (const problem of e.message.split("; ")) besideItsField(problem);
  }
}

// "buttons.2: a join button needs a room_id" -> beside button 2: "Choose a room for this
// button to join." What has no field of its own goes to the top of the page.
const PLAIN = [
  [/a join button needs a room_id/, "Choose a room for this button to join."],
  [/no room (\S+) in this clinic/, "That room no longer exists: choose another."],
];
function besideItsField(problem) {
  const [, path, what] = problem.match(/^([\w.]+): (.*)$/) || [null, "", problem];
  const plain = (PLAIN.find(([pattern]) => pattern.test(what)) || [null, what])[1];
  const button = path.match(/^(?:config\.)?buttons\.(\d)/);
  const target = button ? document.getElementById(`error-button-${button[1]}`)
    : /^(?:config\.)?video/.test(path) ? document.getElementById("error-video") : null;
  if (target) target.textContent = [target.textContent, plain].filter(Boolean).join(" ");
  else error.textContent = [error.textContent, problem].filter(Boolean).join("; ");
}

async function command(device, action) {
  const out = document.getElementById("command-result");
  try {
    const { command_id } = await api("POST", `/devices/${device.device_id}/commands`, { action });
    out.textContent = `${action}: sent…`;
    for (let i = 0; i < 20; i++) {
      const result = await api("GET", `/devices/${device.device_id}/commands/${command_id}`);
      if (result.ok !== null) {
        out.textContent = `${action}: ${result.ok ? "done" : "failed"}${result.message ? " — " + result.message : ""}`;
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    out.textContent = `${action}: no answer yet`;
  } catch (e) { show(e); }
}

async function revokeDevice(device) {
  if (!confirm(`Revoke ${device.name}? It will have to be enrolled again.`)) return;
  try { await api("DELETE", `/devices/${device.device_id}`); closeEditor(); await loadDevices(); }
  catch (e) { show(e); }
}

async function loadRoomsAndMembers() {
  [rooms, members] = await Promise.all([api("GET", `${clinic}/rooms`), api("GET", `${clinic}/members`)]);
  const owner = (id) => (members.find((m) => m.id === id) || {}).name || "";
  document.getElementById("rooms").replaceChildren(...rooms.map((r) =>
    el("tr", {}, el("td", {}, r.name), el("td", {}, r.kind.replaceAll("_", " ")), el("td", {}, owner(r.owner_id)))));
  document.getElementById("members").replaceChildren(...members.map((m) =>
    el("tr", {}, el("td", {}, m.name), el("td", {}, m.email), el("td", {}, m.role.replace("_", " ")))));
  const withRoom = new Set(rooms.filter((r) => r.kind === "user_room").map((r) => r.owner_id));
  document.getElementById("room-owner").replaceChildren(el("option", { value: "" }, "Meeting room"),
    ...members.filter((m) => !withRoom.has(m.id)).map((m) => el("option", { value: m.id }, `User room of ${m.name}`)));
}

document.getElementById("add-device").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  try {
    const created = await api("POST", `${clinic}/devices`, { name: new FormData(form).get("name") });
    showCode(created);
    form.reset();
    await loadDevices();
  } catch (err) { show(err); }
});

document.getElementById("alert-webhook").addEventListener("submit", async (e) => {
  e.preventDefault();
  const url = new FormData(e.target).get("url") || null;
  try {
    await api("PUT", `${clinic}/alert-webhook`, { url });
    document.getElementById("webhook-saved").textContent = url ? "saved" : "removed";
  } catch (err) { show(err); }
});

document.getElementById("add-room").addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = new FormData(e.target);
  const owner = data.get("owner");
  const body = owner ? { kind: "user_room", name: data.get("name"), owner_id: owner }
                     : { kind: "meeting_room", name: data.get("name") };
  try { await api("POST", `${clinic}/rooms`, body); e.target.reset(); await loadRoomsAndMembers(); }
  catch (err) { show(err); }
});

document.getElementById("add-member").addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = Object.fromEntries(new FormData(e.target));
  try { await api("POST", `${clinic}/members`, data); e.target.reset(); await loadRoomsAndMembers(); }
  catch (err) { show(err); }
});

try {
  await loadRoomsAndMembers();
  await loadDevices();
} catch (e) { show(e); }
setInterval(() => loadDevices().catch(show), 2000);
