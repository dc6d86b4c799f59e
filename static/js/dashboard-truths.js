// Requester forms: truth boxes dragged on a draw example's image (kept as
// ratios of the image in the form's hidden "truths" field, as the API takes
// them), and previews of a compare example's two images.

const SVG = "http://www.w3.org/2000/svg";
const MIN_SIDE = 0.01; // a box smaller than this (a click) is not one

function boxEditor(form) {
  const input = form.querySelector("input[type=file][name=image]");
  const field = form.querySelector("input[name=truths]");
  const editor = form.querySelector("[data-editor]");
  const frame = form.querySelector("[data-frame]");
  const preview = form.querySelector("[data-preview]");
  const layer = form.querySelector("[data-layer]");
  const count = form.querySelector("[data-count]");
  const remove = form.querySelector("[data-remove]");
  let boxes = [];
  let drag = null;
  let objectUrl = "";

  const clamp = (value) => Math.round(Math.min(1, Math.max(0, value)) * 1e5) / 1e5;
  const at = (event) => {
    const box = frame.getBoundingClientRect();
    return { x: clamp((event.clientX - box.left) / box.width), y: clamp((event.clientY - box.top) / box.height) };
  };
  const asBox = (a, b) => ({ x_min: Math.min(a.x, b.x), y_min: Math.min(a.y, b.y),
    x_max: Math.max(a.x, b.x), y_max: Math.max(a.y, b.y) });

  function render(extra) {
    const all = extra ? [...boxes, extra] : boxes;
    layer.replaceChildren(...all.map((box) => {
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", box.x_min * 100);
      rect.setAttribute("y", box.y_min * 100);
      rect.setAttribute("width", (box.x_max - box.x_min) * 100);
      rect.setAttribute("height", (box.y_max - box.y_min) * 100);
      rect.setAttribute("vector-effect", "non-scaling-stroke");
      return rect;
    }));
    field.value = boxes.length ? JSON.stringify(boxes) : "";
    count.textContent = boxes.length ? `${boxes.length} box${boxes.length === 1 ? "" : "es"}.` : "No boxes yet.";
    remove.disabled = !boxes.length;
  }

  input.addEventListener("change", () => {
    const file = input.files[0];
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = file ? URL.createObjectURL(file) : "";
    editor.hidden = !file;
    boxes = [];
    if (file) preview.src = objectUrl;
    render();
  });
  frame.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    drag = { from: at(event), id: event.pointerId };
    frame.setPointerCapture(event.pointerId);
  });
  frame.addEventListener("pointermove", (event) => {
    if (drag && event.pointerId === drag.id) render(asBox(drag.from, at(event)));
  });
  const finish = (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const box = asBox(drag.from, at(event));
    drag = null;
    if (box.x_max - box.x_min >= MIN_SIDE && box.y_max - box.y_min >= MIN_SIDE) boxes.push(box);
    render();
  };
  frame.addEventListener("pointerup", finish);
  frame.addEventListener("pointercancel", (event) => {
    drag = null;
    render();
  });
  remove.addEventListener("click", () => {
    boxes.pop();
    render();
  });
  if (input.files.length) input.dispatchEvent(new Event("change"));
}

function pairPreviews(form) {
  for (const side of ["first", "second"]) {
    const input = form.querySelector(`input[type=file][name=${side}_image]`);
    const image = form.querySelector(`[data-preview-for=${side}]`);
    input.addEventListener("change", () => {
      const file = input.files[0];
      if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
      image.hidden = !file;
      if (file) image.src = URL.createObjectURL(file);
    });
  }
}

for (const form of document.querySelectorAll("[data-truth-boxes]")) boxEditor(form);
for (const form of document.querySelectorAll("[data-pair-previews]")) pairPreviews(form);
