// The labeler JSON API: fetch with the session's CSRF token; failures become
// ApiError whose message is the server's (detail, or field messages).

export class ApiError extends Error {
  constructor(status, body) {
    super(errorMessage(status, body));
    this.status = status;
    this.code = (body && body.code) || "";
  }
}

function flatten(value) {
  if (Array.isArray(value)) return value.flatMap(flatten);
  if (value && typeof value === "object") return Object.values(value).flatMap(flatten);
  return [String(value)];
}

export function errorMessage(status, body) {
  if (status === 401) return "You are signed out. Log in again, then come back to this page.";
  if (body && typeof body === "object") {
    if (typeof body.detail === "string") return body.detail;
    const parts = [];
    for (const [field, messages] of Object.entries(body)) {
      for (const message of flatten(messages)) {
        const named = field === "non_field_errors" || message.startsWith(field);
        parts.push(named ? message : `${field}: ${message}`);
      }
    }
    if (parts.length) return parts.join(" ");
  }
  if (status === 0) return "The server could not be reached. Check your connection and try again.";
  return `Something went wrong on the server (HTTP ${status}). Try again.`;
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function call(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, null);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

const id = encodeURIComponent;
const labeler = "/api/labeler";

export const qualificationNext = (audience) =>
  call("POST", `${labeler}/audiences/${id(audience)}/qualification/next/`);
export const qualificationAnswer = (audience, taskId, response) =>
  call("POST", `${labeler}/audiences/${id(audience)}/qualification/answer/`, { task_id: taskId, response });
// `lease` ({lease: "page"}): the short lease a page renews while it is open (taskRenew).
export const taskNext = (job, lease) => call("POST", `${labeler}/jobs/${id(job)}/tasks/next/`, lease);
export const taskSubmit = (taskId, response, lease = {}) =>
  call("POST", `${labeler}/tasks/${id(taskId)}/submit/`, { response, ...lease });
export const taskSkip = (taskId, lease) => call("POST", `${labeler}/tasks/${id(taskId)}/skip/`, lease);
export const taskRenew = (taskId, lease) => call("POST", `${labeler}/tasks/${id(taskId)}/renew/`, lease);
// Gives a task back as the page goes away. A beacon is sent even after the
// page is gone, but cannot set headers: the CSRF token goes as a form field.
export function taskReleaseOnLeave(taskId) {
  const form = new FormData();
  form.append("csrfmiddlewaretoken", csrfToken());
  return navigator.sendBeacon(`${labeler}/tasks/${id(taskId)}/release/`, form);
}
export const previewTask = (definition, position) => call("GET", `/api/preview/${id(definition)}/tasks/${position}/`);
export const previewCheck = (definition, position, response) =>
  call("POST", `/api/preview/${id(definition)}/tasks/${position}/check/`, { response });
