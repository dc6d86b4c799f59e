// Tells the server that a labeler page is open, once a minute while it is
// visible (requesters see how many labelers are active). Loaded by the
// labeler pages (home, work, qualify); failures are quiet: the next beat
// tries again.

import { call } from "./api.js";

const EVERY = 60_000;
let last = 0;

async function beat() {
  if (document.visibilityState !== "visible") return;
  last = Date.now();
  try {
    await call("POST", "/api/labeler/heartbeat/");
  } catch {
    // signed out or offline: nothing to tell the labeler here
  }
}

beat();
setInterval(beat, EVERY);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && Date.now() - last >= EVERY) beat();
});
