// The draw UI: the image fitted to the space it has, a canvas over it that
// zooms and pans with it, brush size (a ratio of the image width, so the same
// on the image at any zoom), an eraser that deletes whole strokes,
// undo/redo/clear, "Nothing to color", and keyboard shortcuts.

import { h } from "./dom.js";
import { attachPointerInput } from "./pointer-input.js";
import { say } from "./notice.js";
import { StrokeModel } from "./strokes.js";
import { attachZoom } from "./zoom.js";

const INK = "#ff1f5a";
const DEFAULT_BRUSH = 0.03;
const MIN_STEP_PX = 1.5; // samples closer than this to the last point add nothing visible
const MAX_CANVAS_PX = 4096; // a zoomed canvas is drawn sharp up to this size, then scaled
const ZOOM_STEP = 1.5;
const MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
const MOD = MAC ? "⌘" : "Ctrl";

function isControl(target) {
  return Boolean(target && target.closest && target.closest("button, a, textarea, select, input:not([type=range])"));
}

export function mountDraw(body, task, { limits, submit, skip }) {
  const model = new StrokeModel(limits);
  const { minBrush, maxBrush } = model.limits;
  const item = task.items[0] || {};
  let aspect = item.width && item.height ? item.width / item.height : 0;
  let size = model.clampSize(DEFAULT_BRUSH);
  let view = { w: 0, h: 0, dpr: 1, scale: 1 };
  let erasing = false;
  let ready = false;
  let busy = false;
  let lastPoint = null;

  const image = h("img", { class: "draw-image", alt: "The image to color in", draggable: "false" });
  const canvas = h("canvas", { class: "draw-canvas", role: "img", "aria-label": "Your drawing" });
  const frame = h("div", { class: "draw-frame", hidden: true }, [image, canvas]);
  const status = h("p", { class: "draw-status" }, ["Loading the image…"]);
  const hint = h("p", { class: "zoom-hint", "aria-hidden": "true" }, ["Pinch to zoom · two fingers to move"]);
  const stage = h("div", { class: "draw-stage" }, [frame, status, hint]);
  let resolutionFrame = 0;
  const zoomer = attachZoom(stage, frame, {
    changed(zoom) {
      stage.classList.toggle("zoomed", zoom > 1);
      if (!resolutionFrame) resolutionFrame = requestAnimationFrame(sharpen);
      update();
    },
    pinchStarted() {
      if (model.cancel()) redraw();
      lastPoint = null;
      update();
    },
  });
  const ctx = canvas.getContext("2d");

  // Brush sizes are ratios of the image width, on a log scale between the server's bounds.
  const span = Math.log(maxBrush / minBrush);
  const toSlider = (value) => Math.round((1000 * Math.log(value / minBrush)) / span);
  const fromSlider = (value) => model.clampSize(minBrush * Math.exp((span * value) / 1000));
  const brush = h("input", { type: "range", min: 0, max: 1000, step: 1, value: toSlider(size), id: `brush-${task.id}`,
    "aria-describedby": `brush-size-${task.id}` });
  const brushSize = h("span", { class: "brush-size", id: `brush-size-${task.id}` });
  const brushDot = h("span", { class: "brush-dot", "aria-hidden": "true" });

  const button = (label, keys, action, extra = {}) =>
    h("button", { type: "button", title: keys ? `${label} (${keys})` : label, onclick: action, ...extra }, [label]);
  const undoButton = button("Undo", `${MOD}+Z`, () => undo());
  const redoButton = button("Redo", `${MOD}+Shift+Z`, () => redo());
  const clearButton = button("Clear", "", () => clear());
  const eraserButton = button("Eraser", "E", () => setEraser(!erasing), { "aria-pressed": "false", class: "eraser" });
  const zoomOutButton = button("−", "-", () => zoomer.zoomBy(1 / ZOOM_STEP), { "aria-label": "Zoom out", class: "zoom" });
  const zoomInButton = button("+", "+", () => zoomer.zoomBy(ZOOM_STEP), { "aria-label": "Zoom in", class: "zoom" });
  const fitButton = button("Fit", "0", () => zoomer.reset(), { class: "zoom" });
  const nothingButton = button("Nothing to color", "", () => send(true), { class: "nothing" });
  const skipButton = skip ? button("Skip", "", () => run(skip)) : null;
  const submitButton = button("Submit", "Enter", () => send(false), { class: "primary" });

  const tools = h("div", { class: "draw-tools", role: "toolbar", "aria-label": "Drawing tools" }, [
    h("label", { class: "brush", for: brush.id }, ["Brush", brush, brushDot, brushSize]),
    h("div", { class: "tool-group" }, [eraserButton, undoButton, redoButton, clearButton]),
    h("div", { class: "tool-group zoom-group", role: "group", "aria-label": "Zoom" },
      [zoomOutButton, zoomInButton, fitButton]),
    h("div", { class: "tool-group end" }, [nothingButton, skipButton, submitButton]),
  ]);
  const keys = h("p", { class: "shortcuts" }, [
    "Keys: ", h("kbd", {}, [`${MOD}+Z`]), " undo · ", h("kbd", {}, [`${MOD}+Shift+Z`]), " or ",
    h("kbd", {}, ["Ctrl+Y"]), " redo · ", h("kbd", {}, ["Enter"]), " submit · ", h("kbd", {}, ["["]), " ",
    h("kbd", {}, ["]"]), " brush size · ", h("kbd", {}, ["E"]), " eraser · wheel, ", h("kbd", {}, ["+"]), " ",
    h("kbd", {}, ["-"]), " ", h("kbd", {}, ["0"]), " zoom · ", h("kbd", {}, ["Space"]), "+drag pan",
  ]);
  // Toolbar clicks leave the focus where it was, so Enter keeps submitting.
  tools.addEventListener("mousedown", (event) => {
    if (event.target.closest("button")) event.preventDefault();
  });
  // A tap on a tool acts on touchend: Chromium drops the click of a tap that
  // comes right after a fast stroke (it takes it for the tap stopping a fling).
  tools.addEventListener("touchend", (event) => {
    const target = event.target.closest("button");
    const touch = event.changedTouches[0];
    const under = touch && document.elementFromPoint(touch.clientX, touch.clientY);
    if (event.cancelable && target && !target.disabled && under && target.contains(under)) {
      event.preventDefault(); // no click follows
      target.click();
    }
  });
  body.append(stage, tools, keys);

  function update() {
    const idle = ready && !busy;
    undoButton.disabled = !idle || !model.canUndo;
    redoButton.disabled = !idle || !model.canRedo;
    clearButton.disabled = !idle || model.isEmpty;
    nothingButton.disabled = !idle;
    submitButton.disabled = !idle;
    if (skipButton) skipButton.disabled = busy;
    brush.disabled = !idle;
    eraserButton.disabled = !idle;
    eraserButton.setAttribute("aria-pressed", String(erasing));
    canvas.classList.toggle("erasing", erasing);
    zoomOutButton.disabled = fitButton.disabled = !ready || zoomer.zoom === 1;
    zoomInButton.disabled = !ready;
    // The size on the image (its own pixels), the dot as big as a stroke looks on screen now.
    const imageWidth = image.naturalWidth || item.width || 0;
    brushSize.textContent = imageWidth ? `${Math.max(1, Math.round(size * imageWidth))} px`
      : `${Math.round(size * 1000) / 10}%`;
    const dot = Math.min(40, Math.max(2, size * view.w * zoomer.zoom || 8));
    brushDot.style.width = brushDot.style.height = `${dot}px`;
  }

  function paint(line, from = 0) {
    const { w, h: height } = view;
    const points = line.points;
    ctx.lineWidth = line.size * w;
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0].x * w, points[0].y * height, (line.size * w) / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    const first = Math.max(0, from - 1);
    ctx.beginPath();
    ctx.moveTo(points[first].x * w, points[first].y * height);
    for (let i = first + 1; i < points.length; i += 1) ctx.lineTo(points[i].x * w, points[i].y * height);
    ctx.stroke();
  }

  function redraw() {
    const { w, h: height, scale } = view;
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.clearRect(0, 0, w, height);
    ctx.strokeStyle = ctx.fillStyle = INK;
    ctx.lineCap = ctx.lineJoin = "round";
    for (const line of model.lines) paint(line);
  }

  function fit() {
    if (!aspect || !ready) return;
    const room = { w: stage.clientWidth, h: stage.clientHeight };
    let w = room.w;
    let height = w / aspect;
    if (height > room.h) {
      height = room.h;
      w = height * aspect;
    }
    w = Math.max(1, Math.floor(w));
    height = Math.max(1, Math.floor(height));
    const dpr = window.devicePixelRatio || 1;
    if (w === view.w && height === view.h && dpr === view.dpr) return;
    frame.style.width = `${w}px`;
    frame.style.height = `${height}px`;
    view = { w, h: height, dpr, scale: dpr };
    sharpen();
    zoomer.refit();
    update();
  }

  // The canvas backing store follows the zoom, so strokes stay sharp.
  function sharpen() {
    resolutionFrame = 0;
    const { w, h: height, dpr } = view;
    if (!w) return;
    const scale = Math.max(dpr, Math.min(dpr * zoomer.zoom, MAX_CANVAS_PX / Math.max(w, height)));
    const width = Math.round(w * scale);
    const tall = Math.round(height * scale);
    if (width !== canvas.width || tall !== canvas.height) {
      canvas.width = width;
      canvas.height = tall;
    }
    view.scale = canvas.width / w;
    redraw();
  }

  function setEraser(on) {
    erasing = on;
    update();
  }

  function eraseAt(points) {
    let changed = false;
    for (const point of points) changed = model.erase(point.x, point.y, size / 2, aspect) || changed;
    if (changed) redraw();
    return changed;
  }

  const resize = new ResizeObserver(() => fit());
  resize.observe(stage);

  image.addEventListener("load", () => {
    if (image.naturalWidth && image.naturalHeight) aspect = image.naturalWidth / image.naturalHeight;
    ready = Boolean(aspect);
    frame.hidden = false;
    status.hidden = true;
    fit();
    update();
  });
  image.addEventListener("error", () => {
    ready = false;
    frame.hidden = true;
    status.hidden = false;
    status.classList.add("error");
    status.textContent = skip
      ? "This image could not be loaded. Please skip this task."
      : "This image could not be loaded. Go back home and try again later.";
    say(status.textContent, "error");
    update();
  });
  image.src = item.src || "";

  const detach = attachPointerInput(canvas, {
    start(point, event) {
      if (!ready || busy || zoomer.wantsPan(event) || zoomer.pinching) return false;
      if (erasing) {
        eraseAt([point]);
        lastPoint = point;
        return true;
      }
      const refusal = model.begin(point.x, point.y, size);
      if (refusal) {
        say(refusal, "error");
        return false;
      }
      lastPoint = point;
      paint(model.active);
      return true;
    },
    move(points, final) {
      if (erasing && lastPoint) {
        eraseAt(points);
        return;
      }
      const line = model.active;
      if (!line) return;
      const before = line.points.length;
      const zoom = zoomer.zoom;
      for (const point of points) {
        const dx = (point.x - lastPoint.x) * view.w * zoom;
        const dy = (point.y - lastPoint.y) * view.h * zoom;
        if (!final && dx * dx + dy * dy < MIN_STEP_PX * MIN_STEP_PX) continue;
        if (model.add(point.x, point.y)) lastPoint = point;
      }
      const current = model.active;
      if (current !== line) redraw();
      else if (line.points.length > before) paint(line, before);
    },
    end() {
      model.end();
      lastPoint = null;
      if (model.points >= model.limits.maxTotalPoints) say(model.refusal(), "error");
      update();
    },
  });

  function undo() {
    if (busy || !model.undo()) return;
    redraw();
    update();
  }

  function redo() {
    if (busy || !model.redo()) return;
    redraw();
    update();
  }

  function clear() {
    if (busy || !model.clear()) return;
    redraw();
    update();
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

  function send(nothing) {
    if (!ready || busy) return;
    if (nothing) {
      run(() => submit({ lines: [] }));
    } else if (model.isEmpty) {
      say("Color in what the instruction asks for, or press “Nothing to color” if there is none.", "error");
    } else {
      model.end();
      run(() => submit(model.toResponse()));
    }
  }

  function resizeBrush(direction) {
    brush.value = String(Math.min(1000, Math.max(0, Number(brush.value) + direction * 60)));
    size = fromSlider(Number(brush.value));
    update();
  }

  brush.addEventListener("input", () => {
    size = fromSlider(Number(brush.value));
    update();
  });

  function onKey(event) {
    if (event.defaultPrevented || event.altKey) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if (mod && key === "z") {
      event.preventDefault();
      if (event.shiftKey) redo();
      else undo();
    } else if (mod && key === "y") {
      event.preventDefault();
      redo();
    } else if (!mod && !event.shiftKey && event.key === "Enter" && !event.repeat && !isControl(event.target)) {
      event.preventDefault();
      send(false);
    } else if (!mod && (event.key === "[" || event.key === "]") && !isControl(event.target)) {
      event.preventDefault();
      resizeBrush(event.key === "]" ? 1 : -1);
    } else if (!mod && !isControl(event.target) && ["+", "=", "-", "0", "e", "E"].includes(event.key)) {
      event.preventDefault();
      if (event.key === "-") zoomer.zoomBy(1 / ZOOM_STEP);
      else if (event.key === "0") zoomer.reset();
      else if (event.key === "e" || event.key === "E") setEraser(!erasing);
      else zoomer.zoomBy(ZOOM_STEP);
    }
  }
  document.addEventListener("keydown", onKey);
  update();

  return {
    destroy() {
      document.removeEventListener("keydown", onKey);
      resize.disconnect();
      detach();
      zoomer.detach();
      cancelAnimationFrame(resolutionFrame);
    },
  };
}
