// Dashboard home: every job row on the page follows its job's progress live
// (one websocket per visible job; the list is paged).

import { renderProgress, fetchProgress } from "./dashboard-progress.js";
import { liveSocket } from "./live-socket.js";

for (const row of document.querySelectorAll("[data-job-live]")) {
  const jobId = row.dataset.jobId;
  liveSocket(`/ws/jobs/${encodeURIComponent(jobId)}/`, {
    onMessage: (message) => {
      if (message.type === "progress") renderProgress(row, message);
    },
    poll: async () => renderProgress(row, await fetchProgress(jobId)),
    pollEvery: 15_000,
  });
}
