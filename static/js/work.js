// Job work page: the next task from the job's feed, submit or skip, until no
// work is left. The page holds its task on a short lease (PAGE_LEASE_SECONDS),
// renewed every third of it while the page is open and given back when the
// page goes away; a page that dies without saying so loses it when it runs out.

import * as api from "./api.js";
import { h, homeLink } from "./dom.js";
import { say, sayError } from "./notice.js";
import { createWorkspace, readLimits } from "./workspace.js";

const page = document.getElementById("main");
const job = page.dataset.jobId;
const progress = page.querySelector("[data-progress]");
const workspace = createWorkspace(page.querySelector("[data-stage]"), { limits: readLimits(page.dataset) });
// The task is gone (answered elsewhere, skipped, expired, given back): move on to the next one.
const STALE = new Set(["stale_task", "task_already_submitted", "task_skipped", "task_expired", "task_released"]);
const PAGE_LEASE = { lease: "page" };
const RENEW_EVERY_MS = (Number(page.dataset.pageLeaseSeconds) || 90) * 1000 / 3;
let answered = 0;
let held = null; // the id of the task shown, renewed until answered, skipped or left

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
  held = task ? task.id : null;
  if (!task) {
    finish(detail);
    return;
  }
  page.dataset.status = "working";
  const act = (call) => async () => {
    held = null; // no renewal of a task being answered or skipped
    try {
      const result = await call();
      show(result.next);
    } catch (error) {
      if (!(await moveOn(error))) {
        held = task.id; // still up: try again
        throw error;
      }
    }
  };
  workspace.show(task, {
    submit: (response) => act(async () => {
      const result = await api.taskSubmit(task.id, response, PAGE_LEASE);
      answered += 1;
      say(`Saved. ${answered} answered so far.`);
      return result;
    })(),
    skip: act(async () => {
      const result = await api.taskSkip(task.id, PAGE_LEASE);
      say("Skipped.");
      return result;
    }),
  });
}

// After a refusal: the next task when this one is gone, the end when the
// labeler may not go on. False: neither (the task stays up).
async function moveOn(error) {
  if (error.status === 409 && STALE.has(error.code)) {
    held = null;
    sayError(error);
    await load();
    return true;
  }
  if (error.status === 403 || (error.status === 409 && error.code === "job_not_running")) {
    held = null;
    stop(error);
    return true;
  }
  return false;
}

async function load() {
  try {
    const result = await api.taskNext(job, PAGE_LEASE);
    show(result.task, result.detail);
  } catch (error) {
    stop(error);
  }
}

async function renew() {
  const task = held;
  if (!task) return;
  try {
    await api.taskRenew(task, PAGE_LEASE);
  } catch (error) {
    // Only a conflict says the task is gone; offline, signed out, rate limited: the next renewal tries again.
    if (held === task && error.status === 409) await moveOn(error);
  }
}

load();
setInterval(renew, RENEW_EVERY_MS);
window.addEventListener("pagehide", () => {
  if (held) api.taskReleaseOnLeave(held);
  held = null;
});
// Back from the back-forward cache: its task was given back as it left.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) load();
});
