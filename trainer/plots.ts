// Figures for a run folder as self-contained SVG text: learning curves (lines, or a grid of
// panels) and comparison bars with 95% CI whiskers. No dependencies: the output opens in any
// browser, embeds in Markdown/HTML, and diffs as text.
//
// Elements carry their data for tools and tests: ticks `data-value`, lines `data-name`, bars
// `data-name data-mean`, whiskers `data-lo data-hi`.

export interface Series {
  name: string;
  /** [x, y] pairs, drawn in the given order */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** pixels (default 720 x 420) */
  width?: number;
  height?: number;
}

export interface Panel extends Omit<LineChartOptions, "width" | "height"> {
  series: Series[];
}

export interface BarRow {
  name: string;
  mean: number;
  /** 95% CI bounds, lo <= mean <= hi */
  lo: number;
  hi: number;
}

export interface BarChartOptions {
  title: string;
  /** y-axis label, e.g. "$ profit per world" */
  unit: string;
  width?: number;
  height?: number;
}

/** Tableau 10: distinguishable, and still readable in greyscale order. */
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const CHAR_PX = 7; // average glyph width at font-size 12, for layout
const FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="12"';

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
const r2 = (v: number): number => Math.round(v * 100) / 100;
// loops, not Math.min(...xs): a long run has more points than a call's argument limit
const min = (xs: readonly number[]): number => xs.reduce((a, b) => (b < a ? b : a), Infinity);
const max = (xs: readonly number[]): number => xs.reduce((a, b) => (b > a ? b : a), -Infinity);

function assertSize(v: number, what: string): number {
  if (!Number.isFinite(v) || v < 100 || v > 10_000) throw new RangeError(`${what} must be a number of pixels in [100, 10000], got ${v}`);
  return v;
}

/**
 * Evenly spaced round tick values (step 1, 2 or 5 x 10^k) from at or below `lo` to at or above
 * `hi`, about `count` + 1 of them (at most about 1.4 count + 3). The first and last ticks are the
 * axis ends.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) throw new RangeError(`niceTicks: need finite lo <= hi, got ${lo}, ${hi}`);
  const scale = Math.max(Math.abs(lo), Math.abs(hi));
  // a span too small to divide in floating point is drawn as a single value with some room around it
  if (hi - lo <= scale * 1e-9 || hi - lo < 1e-200) {
    const pad = scale > 1e-200 ? scale * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  // d3's choice: the 1, 2 or 5 x 10^k step closest (in ratio) to span / count
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const err = raw / mag;
  const step = mag * (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.SQRT2 ? 2 : 1);
  const first = Math.floor(lo / step);
  const last = Math.ceil(hi / step);
  const ticks: number[] = [];
  // multiply, not accumulate, so 0.1 * 3 style error does not build up; + 0 turns -0 into 0
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(15)) + 0);
  return ticks;
}

/** Tick label: as many decimals as the step needs, compact (12k, 1.5M) for large values. */
function tickLabel(v: number, ticks: readonly number[]): string {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  const big = Math.max(...ticks.map(Math.abs));
  if (big >= 1e4 && step >= 1) return new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 }).format(v);
  const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

/** A value label for a bar: 4 significant digits, compact when large. */
function valueLabel(v: number): string {
  if (Math.abs(v) >= 1e4) return new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 }).format(v);
  return String(Number(v.toPrecision(4)));
}

interface Scale {
  ticks: number[];
  /** value -> pixel */
  at: (v: number) => number;
}

/** Maps the ticks' span (the axis, from first to last tick) onto pixels p0..p1. */
function linearScale(ticks: number[], p0: number, p1: number): Scale {
  const d0 = ticks[0];
  const d1 = ticks[ticks.length - 1];
  return { ticks, at: (v) => r2(p0 + ((v - d0) / (d1 - d0)) * (p1 - p0)) };
}

/** Room left of the plot for the y tick labels and the rotated axis title. */
const leftMargin = (yTicks: readonly number[]): number => Math.max(70, 36 + CHAR_PX * Math.max(...yTicks.map((v) => tickLabel(v, yTicks).length)));

interface Frame {
  x0: number;
  x1: number;
  y0: number; // bottom pixel
  y1: number; // top pixel
}

/**
 * Grid line, tick and label for each tick of one axis. Positions along the axis come from the
 * scale; across it, the tick points outward from the frame edge (left for y, down for x).
 */
function tickMarks(s: Scale, f: Frame, axis: "x" | "y"): string[] {
  const [edge, far, out, labelGap] = axis === "y" ? [f.x0, f.x1, -1, 8] : [f.y0, f.y1, 1, 18];
  const xy = (along: number, across: number): [number, number] => (axis === "y" ? [across, along] : [along, across]);
  const line = (attrs: string, a: [number, number], b: [number, number], stroke: string) =>
    `<line ${attrs} x1="${a[0]}" x2="${b[0]}" y1="${a[1]}" y2="${b[1]}" stroke="${stroke}"/>`;
  return s.ticks.flatMap((v) => {
    const p = s.at(v);
    const [lx, ly] = xy(p, edge + out * labelGap);
    const anchor = axis === "y" ? `text-anchor="end" dominant-baseline="middle"` : `text-anchor="middle"`;
    return [
      line(`class="grid"`, xy(p, far), xy(p, edge), axis === "y" ? "#e5e5e5" : "#f0f0f0"),
      line(`class="tick" data-value="${v}"`, xy(p, edge + out * 5), xy(p, edge), "#333"),
      `<text x="${lx}" y="${ly}" ${anchor}>${esc(tickLabel(v, s.ticks))}</text>`,
    ];
  });
}

/** Grid lines, ticks, tick labels and axis titles of one plot area. */
function axes(f: Frame, xs: Scale | undefined, ys: Scale, xLabel: string, yLabel: string): string {
  const out: string[] = [`<g class="y-axis">`, ...tickMarks(ys, f, "y")];
  const midY = r2((f.y0 + f.y1) / 2);
  const lx = r2(f.x0 - leftMargin(ys.ticks) + 16);
  out.push(`<text class="axis-label" x="${lx}" y="${midY}" text-anchor="middle" transform="rotate(-90 ${lx} ${midY})">${esc(yLabel)}</text>`);
  out.push(`</g>`);
  if (xs) {
    out.push(`<g class="x-axis">`, ...tickMarks(xs, f, "x"));
    out.push(`<text class="axis-label" x="${r2((f.x0 + f.x1) / 2)}" y="${f.y0 + 38}" text-anchor="middle">${esc(xLabel)}</text>`);
    out.push(`</g>`);
  }
  out.push(`<rect class="frame" x="${f.x0}" y="${f.y1}" width="${r2(f.x1 - f.x0)}" height="${r2(f.y0 - f.y1)}" fill="none" stroke="#333"/>`);
  return out.join("\n");
}

function svgOpen(width: number, height: number, x?: number, y?: number): string {
  const at = x === undefined ? `xmlns="http://www.w3.org/2000/svg"` : `x="${x}" y="${y}"`;
  return `<svg ${at} width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`;
}

function titleText(title: string, width: number): string {
  return `<text class="title" x="${r2(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`;
}

function validateSeries(series: readonly Series[], where: string): void {
  if (!Array.isArray(series) || series.length === 0) throw new Error(`${where}: series must be a non-empty array`);
  series.forEach((s, i) => {
    if (typeof s?.name !== "string" || s.name === "") throw new Error(`${where}: series[${i}].name must be a non-empty string`);
    const points: readonly unknown[] = s.points;
    if (!Array.isArray(points) || points.length === 0) throw new Error(`${where}: series[${i}] (${s.name}) has no points`);
    points.forEach((p, j) => {
      if (!Array.isArray(p) || p.length !== 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
        throw new Error(`${where}: series[${i}] (${s.name}) point ${j} must be [x, y] with finite numbers, got ${JSON.stringify(p)}`);
      }
    });
  });
}

/** One line chart as an <svg> element (top level when x/y are undefined, nested otherwise). */
function lineChart(series: readonly Series[], o: Omit<LineChartOptions, "width" | "height">, width: number, height: number, x?: number, y?: number): string {
  const legendW = series.length > 1 ? 30 + CHAR_PX * Math.max(...series.map((s) => s.name.length)) : 0;
  const xsAll = series.flatMap((s) => s.points.map((p) => p[0]));
  const ysAll = series.flatMap((s) => s.points.map((p) => p[1]));
  const yTicks = niceTicks(min(ysAll), max(ysAll));
  const f: Frame = { x0: leftMargin(yTicks), x1: width - 20 - legendW, y0: height - 50, y1: 40 };
  if (f.x1 - f.x0 < 50) throw new Error(`learning curve "${o.title}": ${width} px is too narrow for the labels and legend; shorten the series names or widen the chart`);
  const xs = linearScale(niceTicks(min(xsAll), max(xsAll)), f.x0, f.x1);
  const ys = linearScale(yTicks, f.y0, f.y1);
  const out = [svgOpen(width, height, x, y), `<rect width="${width}" height="${height}" fill="white"/>`, titleText(o.title, width)];
  out.push(axes(f, xs, ys, o.xLabel, o.yLabel));
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = s.points.map(([px, py]) => `${xs.at(px)},${ys.at(py)}`).join(" ");
    out.push(`<polyline class="series" data-name="${esc(s.name)}" points="${pts}" fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round"/>`);
    if (s.points.length === 1) out.push(`<circle cx="${xs.at(s.points[0][0])}" cy="${ys.at(s.points[0][1])}" r="3" fill="${color}"/>`);
  });
  if (series.length > 1) {
    out.push(`<g class="legend">`);
    series.forEach((s, i) => {
      const ly = f.y1 + 8 + i * 18;
      out.push(
        `<line x1="${f.x1 + 12}" x2="${f.x1 + 30}" y1="${ly}" y2="${ly}" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="3"/>`,
        `<text x="${f.x1 + 35}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`,
      );
    });
    out.push(`</g>`);
  }
  out.push(`</svg>`);
  return out.join("\n");
}

/** Learning curves: every series a line on one set of axes, with ticks and (for 2+ series) a legend. */
export function learningCurveSvg(series: Series[], opts: LineChartOptions): string {
  validateSeries(series, `learning curve "${opts.title}"`);
  return lineChart(series, opts, assertSize(opts.width ?? 720, "width"), assertSize(opts.height ?? 420, "height")) + "\n";
}

/**
 * Several learning-curve panels (e.g. return, SPS, approx_kl: quantities with different units)
 * in a grid, `columns` wide (default 2), under one title.
 */
export function learningCurvePanelsSvg(panels: Panel[], opts: { title: string; columns?: number; panelWidth?: number; panelHeight?: number }): string {
  if (!Array.isArray(panels) || panels.length === 0) throw new Error(`learning curve panels "${opts.title}": panels must be a non-empty array`);
  const columns = opts.columns ?? 2;
  if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`learning curve panels: columns must be an integer >= 1, got ${columns}`);
  const pw = assertSize(opts.panelWidth ?? 480, "panelWidth");
  const ph = assertSize(opts.panelHeight ?? 320, "panelHeight");
  panels.forEach((p, i) => validateSeries(p.series, `panel ${i} "${p.title}"`));
  const cols = Math.min(columns, panels.length);
  const width = cols * pw;
  const height = 40 + Math.ceil(panels.length / cols) * ph;
  const out = [svgOpen(width, height), `<rect width="${width}" height="${height}" fill="white"/>`, titleText(opts.title, width)];
  panels.forEach((p, i) => out.push(lineChart(p.series, p, pw, ph, (i % cols) * pw, 40 + Math.floor(i / cols) * ph)));
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/**
 * One bar per row (its mean) with a whisker from lo to hi (the 95% CI). The y axis always
 * includes 0, so bars of negative means hang below the zero line.
 */
export function comparisonBarSvg(rows: BarRow[], opts: BarChartOptions): string {
  const where = `comparison bars "${opts.title}"`;
  if (!Array.isArray(rows) || rows.length === 0) throw new Error(`${where}: rows must be a non-empty array`);
  rows.forEach((r, i) => {
    if (typeof r?.name !== "string" || r.name === "") throw new Error(`${where}: rows[${i}].name must be a non-empty string`);
    for (const k of ["mean", "lo", "hi"] as const) {
      if (!Number.isFinite(r[k])) throw new Error(`${where}: rows[${i}] (${r.name}) ${k} is ${r[k]}; must be finite (pass lo = hi = mean when there is no interval)`);
    }
    if (!(r.lo <= r.mean && r.mean <= r.hi)) throw new Error(`${where}: rows[${i}] (${r.name}) needs lo <= mean <= hi, got ${r.lo}, ${r.mean}, ${r.hi}`);
  });
  const width = assertSize(opts.width ?? Math.max(360, 120 + rows.length * 90), "width");
  const longest = Math.max(...rows.map((r) => r.name.length));
  const band = (width - 90) / rows.length; // about the bar spacing (the left margin is not known yet)
  const rotate = longest * CHAR_PX > band - 6;
  const bottom = rotate ? 30 + Math.min(160, longest * CHAR_PX * 0.6) : 40;
  const height = assertSize(opts.height ?? 380 + (rotate ? bottom - 40 : 0), "height");
  const yTicks = niceTicks(Math.min(0, min(rows.map((r) => r.lo))), Math.max(0, max(rows.map((r) => r.hi))));
  const f: Frame = { x0: leftMargin(yTicks), x1: width - 20, y0: height - bottom, y1: 40 };
  const ys = linearScale(yTicks, f.y0, f.y1);
  const step = (f.x1 - f.x0) / rows.length;
  const zero = ys.at(0);
  const out = [svgOpen(width, height), `<rect width="${width}" height="${height}" fill="white"/>`, titleText(opts.title, width)];
  out.push(axes(f, undefined, ys, "", opts.unit));
  out.push(`<line class="zero" x1="${f.x0}" x2="${f.x1}" y1="${zero}" y2="${zero}" stroke="#333"/>`);
  rows.forEach((r, i) => {
    const cx = r2(f.x0 + (i + 0.5) * step);
    const bw = r2(Math.min(80, step * 0.6));
    const ym = ys.at(r.mean);
    const [lo, hi] = [ys.at(r.lo), ys.at(r.hi)];
    const color = PALETTE[i % PALETTE.length];
    out.push(
      `<rect class="bar" data-name="${esc(r.name)}" data-mean="${r.mean}" x="${r2(cx - bw / 2)}" y="${Math.min(ym, zero)}" width="${bw}" height="${r2(Math.abs(zero - ym))}" fill="${color}" fill-opacity="0.85"/>`,
      `<g class="ci" data-name="${esc(r.name)}" data-lo="${r.lo}" data-hi="${r.hi}" stroke="#222" stroke-width="1.5">`,
      `<line class="whisker" x1="${cx}" x2="${cx}" y1="${hi}" y2="${lo}"/>`,
      `<line class="cap" x1="${r2(cx - bw / 4)}" x2="${r2(cx + bw / 4)}" y1="${hi}" y2="${hi}"/>`,
      `<line class="cap" x1="${r2(cx - bw / 4)}" x2="${r2(cx + bw / 4)}" y1="${lo}" y2="${lo}"/>`,
      `</g>`,
      // the value sits beyond the whisker end on the bar's side of zero
      `<text class="value" x="${r2(cx + bw / 4 + 3)}" y="${r.mean >= 0 ? hi - 6 : lo + 14}" text-anchor="start" font-size="11">${esc(valueLabel(r.mean))}</text>`,
    );
    const ly = f.y0 + 16;
    out.push(
      rotate
        ? `<text class="category" x="${cx}" y="${ly}" text-anchor="end" transform="rotate(-35 ${cx} ${ly})">${esc(r.name)}</text>`
        : `<text class="category" x="${cx}" y="${ly}" text-anchor="middle">${esc(r.name)}</text>`,
    );
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
