// Zoom and pan of the draw frame inside its stage: pinch and two-finger pan
// on touch, the wheel and a drag with Space or Alt held (or the middle
// button) with a mouse. Only a CSS transform of the frame changes, so the
// image and the canvas move together and a point's place on the image (the
// ratios strokes are stored in) is the same at any zoom.

export const MAX_ZOOM = 8;

export function attachZoom(stage, frame, { changed, pinchStarted }) {
  let zoom = 1;
  let shift = { x: 0, y: 0 }; // the frame's offset from where the layout puts it
  let spaceHeld = false;
  const touches = new Map();
  let pinch = null;
  let pan = null;

  function apply() {
    frame.style.transform = zoom === 1 ? "" : `translate(${shift.x}px, ${shift.y}px) scale(${zoom})`;
    changed(zoom);
  }

  // Keep the image over the stage: inside it when smaller, its edges outside
  // the stage's when larger (the stage is the frame's offset parent).
  function clampAxis(offset, size, space, value) {
    const scaled = size * zoom;
    const [low, high] = scaled <= space ? [-offset, space - scaled - offset] : [space - scaled - offset, -offset];
    return Math.min(high, Math.max(low, value));
  }

  function clamp() {
    shift = {
      x: clampAxis(frame.offsetLeft, frame.offsetWidth, stage.clientWidth, shift.x),
      y: clampAxis(frame.offsetTop, frame.offsetHeight, stage.clientHeight, shift.y),
    };
  }

  // Zoom to ``next`` keeping the image point under (x, y) where it is.
  function zoomAt(next, x, y) {
    const box = frame.getBoundingClientRect();
    const [rx, ry] = [(x - box.left) / box.width, (y - box.top) / box.height];
    const [left, top] = [box.left - shift.x, box.top - shift.y];
    zoom = Math.min(MAX_ZOOM, Math.max(1, next));
    shift = { x: x - rx * frame.offsetWidth * zoom - left, y: y - ry * frame.offsetHeight * zoom - top };
    if (zoom === 1) shift = { x: 0, y: 0 };
    else clamp();
    apply();
  }

  function panBy(dx, dy) {
    if (zoom === 1) return;
    shift = { x: shift.x + dx, y: shift.y + dy };
    clamp();
    apply();
  }

  const wheel = (event) => {
    event.preventDefault();
    const step = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    zoomAt(zoom * Math.exp(-step * 0.002), event.clientX, event.clientY);
  };

  // A mouse drag pans when Space or Alt is held or with the middle button.
  const wantsPan = (event) => event.pointerType === "mouse" && (spaceHeld || event.altKey || event.button === 1);

  function pinchState() {
    const [a, b] = [...touches.values()];
    return { mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }, span: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
  }

  const down = (event) => {
    if (event.pointerType === "touch") {
      touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (touches.size === 2) {
        pinchStarted();
        pinch = { ...pinchState(), zoom };
      }
      return;
    }
    if (!wantsPan(event)) return;
    event.preventDefault();
    pan = { id: event.pointerId, x: event.clientX, y: event.clientY };
    stage.classList.add("panning");
    try {
      stage.setPointerCapture(event.pointerId);
    } catch {
      // Without capture a pan ends where the pointer leaves the stage.
    }
  };

  const move = (event) => {
    if (touches.has(event.pointerId)) {
      touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (pinch && touches.size === 2) {
        const now = pinchState();
        zoomAt(pinch.zoom * (now.span / pinch.span), pinch.mid.x, pinch.mid.y);
        panBy(now.mid.x - pinch.mid.x, now.mid.y - pinch.mid.y);
        pinch = { ...now, zoom };
      }
    } else if (pan && event.pointerId === pan.id) {
      panBy(event.clientX - pan.x, event.clientY - pan.y);
      pan = { ...pan, x: event.clientX, y: event.clientY };
    }
  };

  const up = (event) => {
    touches.delete(event.pointerId);
    if (touches.size < 2) pinch = null;
    if (pan && event.pointerId === pan.id) {
      pan = null;
      stage.classList.remove("panning");
    }
  };

  // Space held (not typed into a control) turns mouse drags into pans.
  const key = (event) => {
    if (event.key !== " " || event.repeat) return;
    spaceHeld = event.type === "keydown" && !event.target.closest?.("input, textarea, select, button, a");
    stage.classList.toggle("pan-ready", spaceHeld);
    if (spaceHeld) event.preventDefault();
  };

  const listeners = [[stage, "wheel", wheel], [stage, "pointerdown", down], [stage, "pointermove", move],
    [stage, "pointerup", up], [stage, "pointercancel", up], [document, "keydown", key], [document, "keyup", key]];
  for (const [target, type, listener] of listeners) target.addEventListener(type, listener, { passive: false });

  return {
    get zoom() {
      return zoom;
    },
    wantsPan,
    // A second finger on the glass: a pinch, whatever the first one started.
    get pinching() {
      return touches.size >= 2;
    },
    zoomBy(factor) {
      const box = stage.getBoundingClientRect();
      zoomAt(zoom * factor, box.left + box.width / 2, box.top + box.height / 2);
    },
    reset() {
      zoom = 1;
      shift = { x: 0, y: 0 };
      apply();
    },
    // The layout moved the frame (a resize): keep the view inside the stage.
    refit() {
      if (zoom === 1) return;
      clamp();
      apply();
    },
    detach() {
      for (const [target, type, listener] of listeners) target.removeEventListener(type, listener);
    },
  };
}
