// Mounts the UI for a task (draw or compare) under its instruction and
// context, and shows messages in its place between tasks.

import { mountCompare } from "./compare.js";
import { h } from "./dom.js";
import { mountDraw } from "./draw.js";
import { sayError } from "./notice.js";

export function readLimits(data) {
  return {
    maxLines: Number(data.maxLines), maxPointsPerLine: Number(data.maxPointsPerLine),
    maxTotalPoints: Number(data.maxTotalPoints), minBrush: Number(data.minBrush), maxBrush: Number(data.maxBrush),
  };
}

function mediaContext(item) {
  if (!item) return null;
  if (item.type === "image") return h("img", { class: "media-context", src: item.src, alt: "Context image" });
  return h("p", { class: "context" }, [item.text]);
}

export function createWorkspace(area, { limits }) {
  let current = null;

  function clear() {
    if (current) current.destroy();
    current = null;
    area.replaceChildren();
  }

  // Errors of an action are shown, not thrown: the task stays up to try again.
  const guarded = (action) => async (...args) => {
    area.setAttribute("aria-busy", "true");
    try {
      await action(...args);
    } catch (error) {
      sayError(error);
    } finally {
      area.removeAttribute("aria-busy");
    }
  };

  function show(task, { submit, skip = null }) {
    clear();
    const head = h("section", { class: "task-head", "aria-label": "Task" }, [
      h("p", { class: "instruction" }, [task.instruction]),
      task.context ? h("p", { class: "context" }, [task.context]) : null,
      mediaContext(task.media_context),
    ]);
    const body = h("div", { class: `task-body task-${task.kind}` });
    area.append(head, body);
    const mount = task.kind === "draw" ? mountDraw : mountCompare;
    current = mount(body, task, { limits, submit: guarded(submit), skip: skip && guarded(skip) });
    area.dataset.task = task.id;
    area.dataset.kind = task.kind;
  }

  function message(nodes) {
    clear();
    delete area.dataset.task;
    delete area.dataset.kind;
    const section = h("section", { class: "task-message", tabindex: "-1" }, nodes);
    area.append(section);
    const focusable = section.querySelector("button, a");
    (focusable || section).focus();
  }

  return { show, message, clear };
}
