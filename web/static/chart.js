// An accuracy-and-loss chart per round, as inline SVG: two series on two axes, one point per round.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 52, right: 56, top: 16, bottom: 40 };

function node(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Scales that put every point inside the plot, pure so tests can check them. */
export function scales(points) {
  const rounds = points.map((p) => p.round);
  const [first, last] = [Math.min(...rounds), Math.max(...rounds)];
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (round) => PAD.left + (last === first ? plotWidth / 2 : ((round - first) / (last - first)) * plotWidth);
  const accuracies = points.map((p) => p.accuracy).filter(Number.isFinite);
  // Gridlines every 10 accuracy points, or every 20 over a range wider than half.
  const lowest = Math.min(0.9, ...accuracies);
  const accuracyStep = lowest < 0.5 ? 0.2 : 0.1;
  const accuracyFloor = Math.max(0, Math.floor(lowest / accuracyStep + 1e-9) * accuracyStep);
  const lossCeiling = Math.max(1e-9, ...points.map((p) => p.loss).filter(Number.isFinite)) * 1.1;
  const yAccuracy = (a) => PAD.top + (1 - (a - accuracyFloor) / (1 - accuracyFloor || 1)) * plotHeight;
  const yLoss = (l) => PAD.top + (1 - l / lossCeiling) * plotHeight;
  const steps = Math.round((1 - accuracyFloor) / accuracyStep);
  return { x, yAccuracy, yLoss, accuracyFloor, steps, lossCeiling, first, last };
}

/** The chart of `points` ({round, accuracy, loss}, accuracy 0 to 1), titled for assistive technology. */
export function metricsChart(points, { id = "metrics-chart", label = "Validation accuracy and loss per round" } = {}) {
  const svg = node("svg", { id, viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": `${id}-title ${id}-desc`, class: "chart" });
  svg.append(node("title", { id: `${id}-title` }, label));
  const summary = points.length
    ? `${points.length} rounds. ` + points.map((p) => `Round ${p.round}: accuracy ${(100 * p.accuracy).toFixed(2)}%, loss ${p.loss.toFixed(4)}.`).join(" ")
    : "No round has validation metrics yet.";
  svg.append(node("desc", { id: `${id}-desc` }, summary));
  if (!points.length) {
    svg.append(node("text", { x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle", class: "empty" }, "No round with validation metrics yet"));
    return svg;
  }
  const s = scales(points);
  const bottom = HEIGHT - PAD.bottom;

  const grid = node("g", { class: "grid", "aria-hidden": "true" });
  const steps = s.steps;
  for (let i = 0; i <= steps; i += 1) {
    const accuracy = s.accuracyFloor + ((1 - s.accuracyFloor) * i) / steps;
    const y = s.yAccuracy(accuracy);
    grid.append(node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y }));
    grid.append(node("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "tick accuracy" }, `${(100 * accuracy).toFixed(0)}%`));
    const loss = (s.lossCeiling * i) / steps;
    grid.append(node("text", { x: WIDTH - PAD.right + 6, y: s.yLoss(loss) + 4, class: "tick loss" }, loss.toFixed(2)));
  }
  for (const p of points) {
    grid.append(node("text", { x: s.x(p.round), y: bottom + 18, "text-anchor": "middle", class: "tick" }, String(p.round)));
  }
  grid.append(node("text", { x: PAD.left + (WIDTH - PAD.left - PAD.right) / 2, y: HEIGHT - 4, "text-anchor": "middle", class: "axis-label" }, "Round"));
  svg.append(grid);

  for (const [series, y, value] of [
    ["accuracy", s.yAccuracy, (p) => `accuracy ${(100 * p.accuracy).toFixed(2)}%`],
    ["loss", s.yLoss, (p) => `loss ${p.loss.toFixed(4)}`],
  ]) {
    const group = node("g", { class: `series ${series}` });
    const path = points.map((p, i) => `${i ? "L" : "M"}${s.x(p.round).toFixed(1)},${y(p[series]).toFixed(1)}`).join(" ");
    group.append(node("path", { d: path, class: "line", "aria-hidden": "true" }));
    for (const p of points) {
      const point = node("circle", { cx: s.x(p.round), cy: y(p[series]), r: 4.5, class: `point ${series}`, "data-round": p.round });
      point.append(node("title", {}, `Round ${p.round}: ${value(p)}`));
      group.append(point);
    }
    svg.append(group);
  }
  return svg;
}

/** A small line of `values` (from 0 to their largest) for a table cell, with its numbers in its title. */
export function sparkline(values, label) {
  const [width, height] = [80, 20];
  const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "sparkline", role: "img", "aria-label": label });
  svg.append(node("title", {}, label));
  if (values.length) {
    const x = (i) => (values.length === 1 ? width / 2 : 2 + (i * (width - 4)) / (values.length - 1));
    const top = Math.max(1e-9, ...values);
    const y = (v) => 2 + (1 - Math.max(0, v) / top) * (height - 4);
    svg.append(node("path", { d: values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
    svg.append(node("circle", { cx: x(values.length - 1), cy: y(values[values.length - 1]), r: 2 }));
  }
  return svg;
}
