// The clinic API from the browser: one fetch wrapper, and the login, kept for every tab
// of this browser (localStorage) until "Log out" ends it on the server, or it expires.
export const session = {
  get token() { return localStorage.getItem("token"); },
  get member() { return JSON.parse(localStorage.getItem("member") || "null"); },
  save(login) {
    localStorage.setItem("token", login.token);
    localStorage.setItem("member", JSON.stringify(login.member));
  },
  clear() { localStorage.removeItem("token"); localStorage.removeItem("member"); },
};

// the login page, and back here once logged in
function toLogin() {
  location.href = `/?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`;
}

// ends the login token on the server too, not only in this tab
export async function logout() {
  try { if (session.token) await api("POST", "/auth/logout"); } catch { /* gone already */ }
  session.clear();
  location.href = "/";
}

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(`/api/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && session.token) {  // expired, or logged out elsewhere
    session.clear();
    toLogin();
  }
  if (!response.ok) {
    const error = data.error || {};
    throw new ApiError(response.status, error.code || "error", error.message || response.statusText);
  }
  return data;
}

// Pages that need a login send the visitor to the login page without one, and the
// login page sends them back. Every such page has a "Log out" button (#logout).
export function requireLogin() {
  if (!session.token) { toLogin(); throw new Error("not logged in"); }
  const button = document.getElementById("logout");
  if (button) button.onclick = logout;
  return session.member;
}

// where the login page sends a visitor: a page of this site, never another site
export function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/rooms";
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}
