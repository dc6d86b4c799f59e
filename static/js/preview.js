// Requester preview: the labeler UI over the definition's first datapoints;
// answers are checked like submissions and nothing is stored.

import * as api from "./api.js";
import { h, homeLink } from "./dom.js";
import { say, sayError } from "./notice.js";
import { createWorkspace, readLimits } from "./workspace.js";

const page = document.getElementById("main");
const definition = page.dataset.definitionId;
const progress = page.querySelector("[data-progress]");
const workspace = createWorkspace(page.querySelector("[data-stage]"), { limits: readLimits(page.dataset) });
let total = 0;

function end() {
  progress.textContent = "";
  page.dataset.status = "done";
  workspace.message([
    h("h2", {}, ["End of the preview"]),
    h("p", {}, [`That was the first ${total} datapoint${total === 1 ? "" : "s"}. Nothing was stored.`]),
    h("button", { type: "button", class: "primary", onclick: () => load(0) }, ["Start over"]),
    homeLink(),
  ]);
}

async function load(position) {
  let result;
  try {
    result = await api.previewTask(definition, position);
  } catch (error) {
    sayError(error);
    workspace.message([h("p", {}, [error.message]), homeLink()]);
    return;
  }
  total = result.total;
  page.dataset.status = "previewing";
  progress.textContent = `Datapoint ${result.position + 1} of ${result.total}`;
  const next = () => (result.position + 1 < total ? load(result.position + 1) : end());
  workspace.show(result.task, {
    submit: async (response) => {
      await api.previewCheck(definition, result.position, response);
      say(`Datapoint ${result.position + 1}: the answer is valid (not stored).`);
      await next();
    },
    skip: next,
  });
}

load(0);
