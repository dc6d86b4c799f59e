// The individual responses' strokes of a draw datapoint, fetched on demand
// from the requester API (its results, one datapoint per page) and drawn on
// the canvas laid over its image, one color per response.

import { h } from "./dom.js";

const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
  "#000075", "#808000"];

function paint(canvas, responses) {
  const box = canvas.parentElement.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(box.width * ratio));
  canvas.height = Math.max(1, Math.round(box.height * ratio));
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.lineCap = "round";
  context.lineJoin = "round";
  context.globalAlpha = 0.8;
  responses.forEach((response, index) => {
    const color = COLORS[index % COLORS.length];
    context.strokeStyle = color;
    context.fillStyle = color;
    for (const line of response.lines || []) {
      const width = Math.max(1, Number(line.size) * box.width);
      const points = (line.points || []).map((p) => [Number(p.x) * box.width, Number(p.y) * box.height]);
      if (!points.length) continue;
      if (points.length === 1) {
        context.beginPath();
        context.arc(points[0][0], points[0][1], width / 2, 0, Math.PI * 2);
        context.fill();
        continue;
      }
      context.lineWidth = width;
      context.beginPath();
      context.moveTo(...points[0]);
      for (const point of points.slice(1)) context.lineTo(...point);
      context.stroke();
    }
  });
}

function legend(responses) {
  return h("ul", { class: "stroke-legend", "data-legend": true }, responses.map((response, index) => {
    const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = COLORS[index % COLORS.length];
    const score = Number(response.userScore).toFixed(2);
    return h("li", {}, [swatch, h("code", {}, [response.labeler]), ` score ${score}`]);
  }));
}

export function hideStrokes(card) {
  const button = card.querySelector("[data-strokes]");
  card.querySelector("canvas.strokes").hidden = true;
  card.querySelector("[data-legend]")?.remove();
  if (button) {
    button.setAttribute("aria-pressed", "false");
    button.textContent = "Show strokes";
  }
}

export async function showStrokes(card) {
  const button = card.querySelector("[data-strokes]");
  if (!button) return;
  button.disabled = true;
  try {
    const response = await fetch(button.dataset.url, {
      credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const [result] = (await response.json()).results;
    const responses = result ? result.detailedResults : [];
    const canvas = card.querySelector("canvas.strokes");
    canvas.hidden = false;
    paint(canvas, responses);
    card.querySelector("[data-legend]")?.remove();
    button.closest(".layer-toggles").after(legend(responses));
    button.setAttribute("aria-pressed", "true");
    button.textContent = "Hide strokes";
  } catch (error) {
    button.textContent = "Strokes unavailable, retry";
    throw error;
  } finally {
    button.disabled = false;
  }
}

export function toggleStrokes(card) {
  const button = card.querySelector("[data-strokes]");
  if (button && button.getAttribute("aria-pressed") === "true") {
    hideStrokes(card);
    return Promise.resolve();
  }
  return showStrokes(card);
}
