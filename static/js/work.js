// Job work page: the next task from the job's feed, submit or skip, until no
// work is left.

import * as api from "./api.js";
import { h, homeLink } from "./dom.js";
import { say, sayError } from "./notice.js";
import { createWorkspace, readLimits } from "./workspace.js";

const page = document.getElementById("main");
const job = page.dataset.jobId;
const progress = page.querySelector("[data-progress]");
const workspace = createWorkspace(page.querySelector("[data-stage]"), { limits: readLimits(page.dataset) });
// The task is gone (answered elsewhere, skipped, expired): move on to the next one.
const STALE = new Set(["stale_task", "task_already_submitted", "task_skipped", "task_expired"]);
let answered = 0;

function finish(text) {
  page.dataset.status = "done";
  workspace.message([h("h2", {}, ["No more work here"]), h("p", {}, [text]), homeLink()]);
}

function stop(error) {
  sayError(error);
  page.dataset.status = "error";
  workspace.message([h("p", {}, [error.message]), homeLink()]);
}

function show(task, detail = "No more tasks in this job for you.") {
  progress.textContent = answered ? `${answered} answered` : "";
  if (!task) {
    finish(detail);
    return;
  }
  page.dataset.status = "working";
  const act = (call) => async () => {
    try {
      const result = await call();
      show(result.next);
    } catch (error) {
      if (error.status === 409 && STALE.has(error.code)) {
        sayError(error);
        await load();
      } else if (error.status === 403 || (error.status === 409 && error.code === "job_not_running")) {
        stop(error);
      } else {
        throw error;
      }
    }
  };
  workspace.show(task, {
    submit: (response) => act(async () => {
      const result = await api.taskSubmit(task.id, response);
      answered += 1;
      say(`Saved. ${answered} answered so far.`);
      return result;
    })(),
    skip: act(async () => {
      const result = await api.taskSkip(task.id);
      say("Skipped.");
      return result;
    }),
  });
}

async function load() {
  try {
    const result = await api.taskNext(job);
    show(result.task, result.detail);
  } catch (error) {
    stop(error);
  }
}

load();
