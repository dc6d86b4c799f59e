// The page's aria-live region: what happened, and what went wrong.

const region = () => document.getElementById("notice");

export function say(message, kind = "info") {
  const el = region();
  if (!el) return;
  el.textContent = message;
  el.dataset.kind = kind;
}

export const sayError = (error) => say(error && error.message ? error.message : String(error), "error");

export function clearNotice() {
  say("", "info");
}
