// The clinic API from the browser: one fetch wrapper, the login kept for this tab only.
export const session = {
  get token() { return sessionStorage.getItem("token"); },
  get member() { return JSON.parse(sessionStorage.getItem("member") || "null"); },
  save(login) {
    sessionStorage.setItem("token", login.token);
    sessionStorage.setItem("member", JSON.stringify(login.member));
  },
  clear() { sessionStorage.clear(); },
};

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
  if (!response.ok) {
    const error = data.error || {};
    throw new ApiError(response.status, error.code || "error", error.message || response.statusText);
  }
  return data;
}

// Pages that need a login send the visitor to the login page without one.
export function requireLogin() {
  if (!session.token) { location.href = "/"; throw new Error("not logged in"); }
  return session.member;
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
