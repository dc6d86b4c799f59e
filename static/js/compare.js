// The compare UI: two items side by side (stacked on narrow screens), picked
// by click or tap, or with the keys 1/2 and ArrowLeft/ArrowRight.

import { h } from "./dom.js";
import { say } from "./notice.js";

const KEYS = { 1: 0, ArrowLeft: 0, 2: 1, ArrowRight: 1 };

export function mountCompare(body, task, { submit, skip }) {
  let busy = false;
  let broken = false;

  const options = task.items.map((item, index) => {
    const number = String(index + 1);
    let content;
    if (item.type === "image") {
      content = h("img", { class: "option-image", src: item.src, alt: `Option ${number}`, draggable: "false" });
      content.addEventListener("error", () => {
        broken = true;
        content.replaceWith(h("p", { class: "option-broken" }, ["This image could not be loaded."]));
        say(skip ? "An image could not be loaded. Please skip this task." : "An image could not be loaded.", "error");
        update();
      });
    } else {
      content = h("div", { class: "option-text" }, [item.text]);
    }
    const pick = h("button", { type: "button", class: "choice", "aria-keyshortcuts": index ? "2 ArrowRight" : "1 ArrowLeft",
      onclick: () => choose(index) }, [h("kbd", {}, [number]), ` Choose option ${number}`]);
    const option = h("div", { class: "option", "data-option": number }, [
      h("div", { class: "option-body", onclick: () => choose(index) }, [content]), pick,
    ]);
    return { option, pick };
  });

  const skipButton = skip ? h("button", { type: "button", onclick: () => run(skip) }, ["Skip"]) : null;
  body.append(
    h("div", { class: "compare-items" }, options.map((o) => o.option)),
    h("div", { class: "compare-tools" }, [
      h("p", { class: "shortcuts" }, ["Keys: ", h("kbd", {}, ["1"]), " or ", h("kbd", {}, ["←"]), " first · ",
        h("kbd", {}, ["2"]), " or ", h("kbd", {}, ["→"]), " second"]),
      skipButton,
    ]),
  );

  function update() {
    for (const { pick } of options) pick.disabled = busy || broken;
    if (skipButton) skipButton.disabled = busy;
  }

  async function run(action) {
    if (busy) return;
    busy = true;
    update();
    try {
      await action();
    } finally {
      busy = false;
      update();
    }
  }

  function choose(index) {
    if (busy || broken || !task.items[index]) return;
    const { option } = options[index];
    option.classList.add("chosen");
    run(() => submit({ choice: task.items[index].value })).finally(() => option.classList.remove("chosen"));
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target && target.closest && target.closest("input, textarea, select")) return;
    if (event.key in KEYS) {
      event.preventDefault();
      choose(KEYS[event.key]);
    }
  }
  document.addEventListener("keydown", onKey);
  update();

  return {
    destroy() {
      document.removeEventListener("keydown", onKey);
    },
  };
}
