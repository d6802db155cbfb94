// Plain SVG charts for BENCHMARKS.md: grouped horizontal bars and line plots. No library:
// a chart is a few rectangles, polylines and labels.

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function ticks(max: number, n = 5): number[] {
  return Array.from({ length: n + 1 }, (_, i) => (max * i) / n);
}

const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

export interface BarGroup {
  label: string;
  bars: Array<{ label: string; value: number }>;
}

/** Horizontal bars, one group per row block; bar colours follow the bar's position in its group. */
export function barChart(o: { title: string; unit: string; groups: BarGroup[]; width?: number }): string {
  const width = o.width ?? 720;
  const left = 230, right = 70, top = 40, barH = 18, gap = 4, groupGap = 14;
  const max = niceMax(Math.max(...o.groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)))));
  const plotW = width - left - right;
  let y = top;
  const parts: string[] = [];
  for (const g of o.groups) {
    parts.push(`<text x="8" y="${y + 12}" ${FONT} font-size="12" font-weight="bold">${esc(g.label)}</text>`);
    y += 18;
    g.bars.forEach((b, i) => {
      const v = Number.isFinite(b.value) ? b.value : 0;
      const w = (v / max) * plotW;
      parts.push(`<text x="${left - 6}" y="${y + 13}" ${FONT} font-size="11" text-anchor="end">${esc(b.label)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[i % COLORS.length]}"/>`);
      parts.push(`<text x="${left + w + 4}" y="${y + 13}" ${FONT} font-size="11">${Number.isFinite(b.value) ? num(b.value) : 'n/a'}</text>`);
      y += barH + gap;
    });
    y += groupGap;
  }
  const height = y + 30;
  const axis = ticks(max).map((t) => {
    const x = left + (t / max) * plotW;
    return `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${y - groupGap}" stroke="#ddd"/><text x="${x}" y="${y - groupGap + 14}" ${FONT} font-size="10" text-anchor="middle">${num(t)}</text>`;
  });
  return svg(width, height, [
    `<text x="${width / 2}" y="20" ${FONT} font-size="14" text-anchor="middle" font-weight="bold">${esc(o.title)}</text>`,
    ...axis,
    ...parts,
    `<text x="${left + plotW / 2}" y="${height - 6}" ${FONT} font-size="11" text-anchor="middle">${esc(o.unit)}</text>`,
  ]);
}

export interface Series {
  label: string;
  points: Array<[number, number]>;
}

/** Lines over a shared x axis, with a legend. */
/** `legendAt`: where the legend box sits in the plot, as fractions of the free room (0,0 top left; 1,1 bottom right). */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: Series[]; width?: number; height?: number; yMin?: number; legendAt?: [number, number] }): string {
  const width = o.width ?? 720, height = o.height ?? 360;
  const left = 60, right = 20, top = 40, bottom = 50;
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xMax = niceMax(Math.max(...all.map((p) => p[0])));
  const yMin = o.yMin ?? 0;
  const yMax = niceMax(Math.max(...all.map((p) => p[1])) - yMin) + yMin;
  const plotW = width - left - right, plotH = height - top - bottom;
  const sx = (x: number) => left + (x / xMax) * plotW;
  const sy = (y: number) => top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const parts: string[] = [];
  for (const t of ticks(xMax)) {
    parts.push(`<line x1="${sx(t)}" y1="${top}" x2="${sx(t)}" y2="${top + plotH}" stroke="#eee"/>`);
    parts.push(`<text x="${sx(t)}" y="${top + plotH + 14}" ${FONT} font-size="10" text-anchor="middle">${num(t)}</text>`);
  }
  for (const t of ticks(yMax - yMin)) {
    const v = t + yMin;
    parts.push(`<line x1="${left}" y1="${sy(v)}" x2="${left + plotW}" y2="${sy(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 4}" y="${sy(v) + 3}" ${FONT} font-size="10" text-anchor="end">${num(v)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  o.series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.8"/>`);
  });
  // Legend last, on a white box, so lines never run through it.
  const legendW = 30 + 6.2 * Math.max(...o.series.map((s) => s.label.length));
  const legendH = o.series.length * 16 + 4;
  const [fx, fy] = o.legendAt ?? [0, 0];
  const lx = left + 6 + fx * (plotW - legendW - 12);
  const lyTop = top + 4 + fy * (plotH - legendH - 8);
  parts.push(`<rect x="${lx.toFixed(0)}" y="${lyTop.toFixed(0)}" width="${legendW.toFixed(0)}" height="${legendH}" fill="white" fill-opacity="0.9" stroke="#ccc"/>`);
  o.series.forEach((s, i) => {
    const ly = lyTop + 4 + i * 16;
    parts.push(`<rect x="${(lx + 4).toFixed(0)}" y="${ly.toFixed(0)}" width="12" height="10" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${(lx + 20).toFixed(0)}" y="${(ly + 9).toFixed(0)}" ${FONT} font-size="11">${esc(s.label)}</text>`);
  });
  return svg(width, height, [
    `<text x="${width / 2}" y="20" ${FONT} font-size="14" text-anchor="middle" font-weight="bold">${esc(o.title)}</text>`,
    ...parts,
    `<text x="${left + plotW / 2}" y="${height - 12}" ${FONT} font-size="11" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text x="14" y="${top + plotH / 2}" ${FONT} font-size="11" text-anchor="middle" transform="rotate(-90 14 ${top + plotH / 2})">${esc(o.yLabel)}</text>`,
  ]);
}

function svg(width: number, height: number, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n<rect width="100%" height="100%" fill="white"/>\n${body.join('\n')}\n</svg>\n`;
}
