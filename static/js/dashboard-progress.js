// Shows a job's progress snapshot (from /ws/jobs/<id>/ or the progress API)
// in the elements of `root` marked data-field="<key>" (dotted for nested
// keys); data-field="bar" is the <progress> element. Text only.

export function durationText(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "—";
  const total = Math.max(0, Math.round(Number(seconds)));
  if (total < 60) return `${total} s`;
  const minutes = Math.round(total / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

const FORMATS = {
  completion_percentage: (value) => String(Math.round(Number(value) * 100) / 100),
  responses_per_minute: (value) => (value === null || value === undefined ? "—" : Number(value).toFixed(1)),
  eta_seconds: durationText,
};

function lookup(snapshot, key) {
  return key.split(".").reduce((value, part) => (value && typeof value === "object" ? value[part] : undefined),
    snapshot);
}

export function renderProgress(root, snapshot) {
  for (const element of root.querySelectorAll("[data-field]")) {
    const key = element.dataset.field;
    if (key === "bar") {
      element.value = Number(snapshot.completion_percentage) || 0;
      element.textContent = `${FORMATS.completion_percentage(snapshot.completion_percentage || 0)}%`;
      continue;
    }
    const value = lookup(snapshot, key);
    const format = FORMATS[key];
    if (format) element.textContent = format(value);
    else if (value !== undefined) element.textContent = value === null ? "—" : String(value);
  }
  if (snapshot.state) root.dataset.state = snapshot.state;
  root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
}

// Polls the requester API while the websocket is down.
export async function fetchProgress(jobId) {
  const response = await fetch(`/api/jobs/${encodeURIComponent(jobId)}/progress/`, {
    credentials: "same-origin", headers: { Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}
