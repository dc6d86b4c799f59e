// Qualification page: one example at a time until the audience's rule
// decides; after a wrong answer, the example's explanation (never its truth).

import * as api from "./api.js";
import { h, homeLink } from "./dom.js";
import { clearNotice, say, sayError } from "./notice.js";
import { createWorkspace, readLimits } from "./workspace.js";

const page = document.getElementById("main");
const audience = page.dataset.audienceId;
const progress = page.querySelector("[data-progress]");
const workspace = createWorkspace(page.querySelector("[data-stage]"), { limits: readLimits(page.dataset) });

function showProgress(state) {
  const score = `score ${Math.round(state.user_score * 100)}%`;
  progress.textContent = state.status === "qualifying" && state.task
    ? `Example ${state.answered + 1} of at most ${state.max_answers} · ${score}`
    : `${state.answered} answered · ${score}`;
}

function outcome(state) {
  if (state.status === "graduated") {
    return [h("h2", {}, ["You qualified!"]),
      h("p", {}, ["Jobs for this audience now appear on your home page."]), homeLink()];
  }
  if (state.status === "dropped") {
    return [h("h2", {}, ["You did not qualify"]),
      h("p", {}, ["Your answers did not reach this audience's bar, and it cannot be retried."]), homeLink()];
  }
  return [h("p", {}, ["There is no example to show right now."]), homeLink()];
}

function show(state) {
  showProgress(state);
  page.dataset.status = state.status;
  if (state.status === "qualifying" && state.task) {
    workspace.show(state.task, { submit: (response) => answer(state.task, response) });
  } else {
    workspace.message(outcome(state));
  }
}

async function answer(task, response) {
  const result = await api.qualificationAnswer(audience, task.id, response);
  if (result.correct) {
    say("Right answer.");
    show(result);
    return;
  }
  say("Not quite.", "error");
  showProgress(result);
  page.dataset.status = result.status;
  const feedback = [h("h2", {}, ["Not quite"])];
  if (result.explanation) feedback.push(h("p", { class: "explanation" }, [result.explanation]));
  if (result.status === "qualifying" && result.task) {
    feedback.push(h("button", { type: "button", class: "primary", onclick: () => { clearNotice(); show(result); } },
      ["Next example"]));
  } else {
    feedback.push(...outcome(result));
  }
  workspace.message(feedback);
}

async function start() {
  try {
    show(await api.qualificationNext(audience));
  } catch (error) {
    sayError(error);
    workspace.message([h("p", {}, [error.message]), homeLink()]);
  }
}

start();
