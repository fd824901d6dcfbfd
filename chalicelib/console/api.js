// Calls to Taskport's API with the signed-in token; errors carry the API's own message.

// This module lives at <root>/console/api.js: the API is its parent, stage prefix included.
export const ROOT = new URL("../", import.meta.url);
const STORE = "taskport.token";

export function token() {
  return sessionStorage.getItem(STORE);
}

export function setToken(value) {
  sessionStorage.setItem(STORE, value);
}

export function forgetToken() {
  sessionStorage.removeItem(STORE);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The message of any surface's error body: native/admin, Instabase, OneSpace, Steamship.
function messageOf(body, status) {
  if (body && typeof body === "object") {
    if (body.error && body.error.message) return body.error.message;
    if (body.msg) return body.msg;
    if (body.task && body.task.taskMessage) return body.task.taskMessage;
    if (body.message) return body.message;
  }
  return `HTTP ${status}`;
}

export function url(path, params) {
  const target = new URL(path.replace(/^\//, ""), ROOT);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
  }
  return target;
}

// fetch with the token; `body` objects are sent as JSON. Returns the raw Response.
export async function send(path, { method = "GET", params, body, headers = {}, raw } = {}) {
  const init = { method, headers: { ...headers }, cache: "no-store" };
  const current = token();
  if (current) init.headers.Authorization = `Bearer ${current}`;
  if (raw !== undefined) {
    init.body = raw;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(url(path, params), init);
}

// send(), then the JSON answer; ApiError with the API's message on a non-2xx status.
export async function call(path, options) {
  const response = await send(path, options);
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) throw new ApiError(response.status, messageOf(body, response.status));
  return body;
}
