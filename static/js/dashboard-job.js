// Dashboard job page: the header follows the job's progress live
// (/ws/jobs/<id>/); when results of datapoints on this page of the gallery
// change, their cards are fetched again (rendered by the server, as on the
// page) and swapped in place, keeping the layers the requester chose. No reload.

import { renderProgress, fetchProgress } from "./dashboard-progress.js";
import { showStrokes, toggleStrokes } from "./dashboard-strokes.js";
import { liveSocket } from "./live-socket.js";

const head = document.querySelector("[data-job-live]");
const gallery = document.querySelector("[data-gallery]");
const cardList = gallery.querySelector("[data-cards]");
const status = head.querySelector("[data-live-status]");
const jobId = head.dataset.jobId;

const pending = new Set();
let wantRanking = false;
let running = null;

const cardAt = (position) => cardList.querySelector(`[data-position="${position}"]`);
const shownPositions = () => [...cardList.querySelectorAll("[data-position]")]
  .map((card) => Number(card.dataset.position));

function carryOver(old, fresh) {
  for (const input of old.querySelectorAll("[data-toggle]")) {
    const twin = fresh.querySelector(`[data-toggle="${input.dataset.toggle}"]`);
    if (twin) twin.checked = input.checked;
  }
  const button = old.querySelector("[data-strokes]");
  if (button && button.getAttribute("aria-pressed") === "true" && fresh.querySelector("[data-strokes]")) {
    showStrokes(fresh).catch(() => {});
  }
}

async function fetchCards(positions, ranking) {
  const url = new URL(gallery.dataset.cardsUrl, location.href);
  url.searchParams.set("positions", positions.join(","));
  if (ranking) url.searchParams.set("ranking", "1");
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const fresh of parsed.querySelectorAll("[data-fragment] > [data-position]")) {
    const old = cardAt(fresh.dataset.position);
    if (!old) continue;
    const node = document.importNode(fresh, true);
    old.replaceWith(node);
    carryOver(old, node);
  }
  const freshRanking = parsed.querySelector("[data-ranking]");
  const oldRanking = document.querySelector("[data-ranking]");
  if (freshRanking && oldRanking) oldRanking.replaceWith(document.importNode(freshRanking, true));
  gallery.dataset.refreshes = String(Number(gallery.dataset.refreshes || 0) + 1);
}

// One request at a time; what arrives meanwhile is fetched right after.
function refresh(positions, { ranking = false } = {}) {
  const shown = new Set(shownPositions());
  for (const position of positions) if (shown.has(Number(position))) pending.add(Number(position));
  wantRanking = wantRanking || (ranking && Boolean(document.querySelector("[data-ranking]")));
  if (running || (!pending.size && !wantRanking)) return;
  const batch = [...pending];
  const withRanking = wantRanking;
  pending.clear();
  wantRanking = false;
  running = fetchCards(batch, withRanking)
    .catch(() => {
      for (const position of batch) pending.add(position);
    })
    .finally(() => {
      running = null;
      if (pending.size || wantRanking) setTimeout(() => refresh([]), 500);
    });
}

liveSocket(`/ws/jobs/${encodeURIComponent(jobId)}/`, {
  onMessage: (message) => {
    if (message.type === "progress") renderProgress(head, message);
    else if (message.type === "results") refresh(message.positions || []);
    else if (message.type === "state") refresh([], { ranking: true });
  },
  onStatus: ({ connected, reconnected }) => {
    status.dataset.connected = String(connected);
    status.textContent = connected ? "live" : "reconnecting…";
    if (reconnected) refresh(shownPositions(), { ranking: true }); // catch up on what was missed
  },
  poll: async () => renderProgress(head, await fetchProgress(jobId)),
  pollEvery: 10_000,
});

gallery.addEventListener("click", (event) => {
  const button = event.target.closest("[data-strokes]");
  if (!button) return;
  toggleStrokes(button.closest("[data-position]")).catch(() => {});
});
