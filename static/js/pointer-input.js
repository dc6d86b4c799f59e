// Canvas input with Pointer Events (mouse, touch and pen alike): one stroke
// at a time from the primary pointer, every coalesced sample included, in
// ratios of the element's box (not clamped: the model clamps). ``start`` also
// gets the event, and may refuse it (a pan or a pinch, not a stroke).

export function attachPointerInput(element, { start, move, end }) {
  let active = null;
  let box = null;
  const at = (event) => ({ x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height });

  function down(event) {
    if (active !== null || !event.isPrimary) return;
    if (event.pointerType === "mouse" && event.button !== 0) return;
    box = element.getBoundingClientRect();
    if (!box.width || !box.height) return;
    event.preventDefault();
    if (start(at(event), event) === false) return;
    active = event.pointerId;
    try {
      element.setPointerCapture(event.pointerId);
    } catch {
      // Capture is a nicety (strokes leaving the canvas); drawing works without it.
    }
  }

  function samples(event) {
    const coalesced = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    return (coalesced.length ? coalesced : [event]).map(at);
  }

  function moved(event) {
    if (event.pointerId !== active) return;
    event.preventDefault();
    move(samples(event), false);
  }

  function finish(event, last) {
    if (event.pointerId !== active) return;
    active = null;
    if (last) move([at(event)], true);
    end();
  }

  const up = (event) => finish(event, true);
  const cancel = (event) => finish(event, false);
  const listeners = { pointerdown: down, pointermove: moved, pointerup: up, pointercancel: cancel,
    lostpointercapture: cancel };
  for (const [type, listener] of Object.entries(listeners)) element.addEventListener(type, listener);
  return () => {
    for (const [type, listener] of Object.entries(listeners)) element.removeEventListener(type, listener);
  };
}
