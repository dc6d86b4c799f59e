// The stroke model of a drawing: lines of points as ratios of the image,
// undo/redo history, and the server's limits (assets/wire.py), which the page
// passes in, so a drawing the server would refuse is never built.

export const DEFAULT_LIMITS = {
  maxLines: 200, maxPointsPerLine: 5000, maxTotalPoints: 20000, minBrush: 0.002, maxBrush: 0.25,
};

const ratio = (value) => Math.round(Math.min(1, Math.max(0, value)) * 1e5) / 1e5;

export class StrokeModel {
  constructor(limits = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.lines = [];
    this.past = [];
    this.future = [];
    this.active = null;
    this.erasing = false;
    this.points = 0;
  }

  clampSize(size) {
    const { minBrush, maxBrush } = this.limits;
    return Math.round(Math.min(maxBrush, Math.max(minBrush, size)) * 1e5) / 1e5;
  }

  // Why a new stroke cannot start, or "".
  refusal() {
    if (this.lines.length >= this.limits.maxLines) {
      return `At most ${this.limits.maxLines} strokes per answer: undo or clear some first.`;
    }
    if (this.points >= this.limits.maxTotalPoints) return "This drawing has as many points as an answer may have.";
    return "";
  }

  remember() {
    this.past.push(this.lines);
    this.future = [];
  }

  // Start a stroke at (x, y); returns "" or why it cannot start.
  begin(x, y, size) {
    const refusal = this.refusal();
    if (refusal) return refusal;
    this.remember();
    this.active = { size: this.clampSize(size), points: [] };
    this.lines = [...this.lines, this.active];
    this.add(x, y);
    return "";
  }

  // Extend the stroke; false when the point was dropped (duplicate or limit).
  add(x, y) {
    const line = this.active;
    if (!line) return false;
    const point = { x: ratio(x), y: ratio(y) };
    const last = line.points[line.points.length - 1];
    if (last && last.x === point.x && last.y === point.y) return false;
    if (this.points >= this.limits.maxTotalPoints) return false;
    if (line.points.length >= this.limits.maxPointsPerLine) {
      // A very long stroke continues as a new line from where it got to.
      if (this.lines.length >= this.limits.maxLines) return false;
      this.active = { size: line.size, points: [last] };
      this.lines = [...this.lines, this.active];
      this.points += 1;
      return this.add(x, y);
    }
    line.points.push(point);
    this.points += 1;
    return true;
  }

  end() {
    this.active = null;
    this.erasing = false;
  }

  // Drop the stroke being drawn, leaving no trace in the history (a second
  // finger came down: the gesture was a pinch, not a stroke).
  cancel() {
    if (!this.active) return false;
    this.active = null;
    this.future = [];
    this.restore(this.past.pop() || []);
    return true;
  }

  // Delete the strokes within ``reach`` of (x, y), in image widths (``aspect``
  // is width / height); one undo brings back all one eraser gesture deleted.
  erase(x, y, reach, aspect) {
    const near = (p, q, touch) => {
      const dx = q.x - p.x, dy = (q.y - p.y) / aspect, px = x - p.x, py = (y - p.y) / aspect;
      const t = Math.min(1, Math.max(0, (px * dx + py * dy) / (dx * dx + dy * dy || 1)));
      return Math.hypot(px - t * dx, py - t * dy) <= touch;
    };
    const hit = (line) => line.points.some((p, i) => near(line.points[Math.max(0, i - 1)], p, reach + line.size / 2));
    const kept = this.lines.filter((line) => !hit(line));
    if (kept.length === this.lines.length) return false;
    if (!this.erasing) this.remember();
    this.erasing = true;
    this.restore(kept);
    return true;
  }

  count() {
    return this.lines.reduce((sum, line) => sum + line.points.length, 0);
  }

  restore(lines) {
    this.lines = lines;
    this.points = this.count();
  }

  undo() {
    this.end();
    if (!this.past.length) return false;
    this.future.push(this.lines);
    this.restore(this.past.pop());
    return true;
  }

  redo() {
    this.end();
    if (!this.future.length) return false;
    this.past.push(this.lines);
    this.restore(this.future.pop());
    return true;
  }

  clear() {
    this.end();
    if (!this.lines.length) return false;
    this.remember();
    this.restore([]);
    return true;
  }

  get canUndo() {
    return this.past.length > 0;
  }

  get canRedo() {
    return this.future.length > 0;
  }

  get isEmpty() {
    return this.lines.length === 0;
  }

  // The draw response: {"lines": [{"size": s, "points": [{"x", "y"}, ...]}, ...]}.
  toResponse() {
    return {
      lines: this.lines.map((line) => ({ size: line.size, points: line.points.map((p) => ({ x: p.x, y: p.y })) })),
    };
  }
}
