// SVG charts of a scenario's results, written next to its tables in
// docs/performance.md: requests per second per variant, CPU per request per
// variant (stacked by process), and latency percentiles (p50, p99). Plain
// SVG text, no library and no script: a browser, GitHub and an editor show
// it as it is, and a diff shows what changed.
//
// The figures come from a run (rowsOfResult) or from the tables a run
// recorded (rowsOfTable: `npm run bench:charts` redraws the charts of the
// recorded results without running the benchmark again).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOAD_GENERATOR } from './measure.ts';
import type { ScenarioResult } from './runner.ts';
import { isDeliveryVariant } from './scenarios/types.ts';

/** One variant's figures, as a chart needs them. */
export interface ChartRow {
  variant: string;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU µs per request by process label (the load generator excluded: it is not what is measured). */
  cpuMicros: Record<string, number>;
}

export interface Series {
  name: string;
  values: number[];
}

export interface BarChart {
  title: string;
  /** What the numbers are, for the axis: "req/s", "µs per request", "ms". */
  unit: string;
  categories: string[];
  series: Series[];
  /** Stacked (parts of one total) or side by side (several measures). */
  stacked?: boolean;
}

export interface Chart {
  /** File name under docs/img/bench/. */
  file: string;
  alt: string;
  svg: string;
}

// Okabe–Ito: told apart with any colour vision.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\"";

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round axis end: 1, 2 or 5 × 10^k at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Approximate width of a label in the chart's 12 px font. */
const textWidth = (text: string): number => text.length * 6.6;

/** A horizontal bar chart: one band per category, bars side by side or stacked. */
export function barChartSvg(chart: BarChart): string {
  const width = 760;
  const series = chart.series.filter((s) => s.values.some((v) => Number.isFinite(v) && v > 0));
  const stacked = chart.stacked === true;
  const barHeight = 16;
  const bandGap = 12;
  const bandHeight = (stacked ? barHeight : barHeight * Math.max(1, series.length)) + bandGap;
  const labelWidth = Math.min(260, Math.max(80, ...chart.categories.map(textWidth))) + 12;
  const plotLeft = labelWidth;
  // The legend wraps: one line per what fits across.
  const legend: { name: string; colour: string; x: number; line: number }[] = [];
  if (series.length > 1) {
    let lx = plotLeft;
    let line = 0;
    series.forEach((s, index) => {
      const itemWidth = 16 + textWidth(s.name) + 18;
      if (lx + itemWidth > width - 8 && lx > plotLeft) {
        line++;
        lx = plotLeft;
      }
      legend.push({ name: s.name, colour: PALETTE[index % PALETTE.length] as string, x: lx, line });
      lx += itemWidth;
    });
  }
  const legendHeight = legend.length > 0 ? (Math.max(...legend.map((l) => l.line)) + 1) * 18 + 6 : 0;
  const top = 40 + legendHeight;
  const plotWidth = width - plotLeft - 70;
  const plotHeight = chart.categories.length * bandHeight;
  const height = top + plotHeight + 44;
  const totals = chart.categories.map((_, i) => (stacked ? series.reduce((sum, s) => sum + (Number.isFinite(s.values[i]) ? (s.values[i] as number) : 0), 0) : Math.max(0, ...series.map((s) => (Number.isFinite(s.values[i]) ? (s.values[i] as number) : 0)))));
  const axisMax = niceMax(Math.max(0, ...totals));
  const x = (value: number) => plotLeft + (Math.max(0, value) / axisMax) * plotWidth;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="title desc">`);
  parts.push(`<title id="title">${escape(chart.title)}</title>`);
  const description = chart.categories.map((category, i) => `${category}: ${series.map((s) => `${series.length > 1 ? `${s.name} ` : ''}${formatValue(s.values[i] ?? Number.NaN)}`).join(', ')} ${chart.unit}`).join('; ');
  parts.push(`<desc id="desc">${escape(description)}</desc>`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="12" y="24" ${FONT} font-size="15" font-weight="600" fill="#14202b">${escape(chart.title)}</text>`);
  for (const item of legend) {
    const y = 36 + item.line * 18;
    parts.push(`<rect x="${item.x.toFixed(1)}" y="${y}" width="12" height="12" fill="${item.colour}"/>`);
    parts.push(`<text x="${(item.x + 16).toFixed(1)}" y="${y + 10}" ${FONT} font-size="12" fill="#14202b">${escape(item.name)}</text>`);
  }
  // Grid and axis: five steps of the round end.
  for (let step = 0; step <= 5; step++) {
    const value = (axisMax * step) / 5;
    const gx = x(value).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + plotHeight}" stroke="${step === 0 ? '#4a5a68' : '#e1e7ec'}" stroke-width="1"/>`);
    parts.push(`<text x="${gx}" y="${top + plotHeight + 16}" ${FONT} font-size="11" fill="#4a5a68" text-anchor="middle">${escape(formatValue(value))}</text>`);
  }
  parts.push(`<text x="${plotLeft + plotWidth / 2}" y="${top + plotHeight + 36}" ${FONT} font-size="12" fill="#4a5a68" text-anchor="middle">${escape(chart.unit)}</text>`);

  chart.categories.forEach((category, i) => {
    const bandTop = top + i * bandHeight + bandGap / 2;
    const innerHeight = bandHeight - bandGap;
    parts.push(`<text x="${plotLeft - 8}" y="${(bandTop + innerHeight / 2 + 4).toFixed(1)}" ${FONT} font-size="12" fill="#14202b" text-anchor="end">${escape(category)}</text>`);
    let stackStart = 0;
    series.forEach((s, index) => {
      const raw = s.values[i];
      const value = raw !== undefined && Number.isFinite(raw) ? raw : 0;
      const colour = PALETTE[index % PALETTE.length];
      if (stacked) {
        const x0 = x(stackStart);
        const x1 = x(stackStart + value);
        if (value > 0) parts.push(`<rect x="${x0.toFixed(1)}" y="${bandTop}" width="${Math.max(0.5, x1 - x0).toFixed(1)}" height="${barHeight}" fill="${colour}"><title>${escape(`${category}, ${s.name}: ${formatValue(value)} ${chart.unit}`)}</title></rect>`);
        stackStart += value;
      } else {
        const y = bandTop + index * barHeight;
        const x1 = x(value);
        parts.push(`<rect x="${plotLeft}" y="${y}" width="${Math.max(0.5, x1 - plotLeft).toFixed(1)}" height="${barHeight - 2}" fill="${colour}"><title>${escape(`${category}, ${s.name}: ${formatValue(value)} ${chart.unit}`)}</title></rect>`);
        parts.push(`<text x="${(x1 + 4).toFixed(1)}" y="${y + barHeight - 5}" ${FONT} font-size="11" fill="#14202b">${escape(raw === undefined || !Number.isFinite(raw) ? 'n/a' : formatValue(value))}</text>`);
      }
    });
    if (stacked) parts.push(`<text x="${(x(stackStart) + 4).toFixed(1)}" y="${bandTop + barHeight - 4}" ${FONT} font-size="11" fill="#14202b">${escape(formatValue(stackStart))}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The three charts of a scenario; none when it has no request variants. */
export function scenarioCharts(scenario: string, rows: readonly ChartRow[]): Chart[] {
  if (rows.length === 0) return [];
  const categories = rows.map((r) => r.variant);
  const processes = [...new Set(rows.flatMap((r) => Object.keys(r.cpuMicros)))];
  return [
    {
      file: `${scenario}-throughput.svg`,
      alt: `${scenario}: requests per second by variant`,
      svg: barChartSvg({ title: `${scenario}: requests per second`, unit: 'req/s (median of the rounds)', categories, series: [{ name: 'req/s', values: rows.map((r) => r.reqPerSec) }] }),
    },
    {
      file: `${scenario}-cpu.svg`,
      alt: `${scenario}: CPU per request by variant and process`,
      svg: barChartSvg({
        title: `${scenario}: CPU per request, by process`,
        unit: 'CPU µs per request (load generator not shown)',
        categories,
        series: processes.map((name) => ({ name, values: rows.map((r) => r.cpuMicros[name] ?? 0) })),
        stacked: true,
      }),
    },
    {
      file: `${scenario}-latency.svg`,
      alt: `${scenario}: latency percentiles (p50, p99) by variant`,
      svg: barChartSvg({ title: `${scenario}: latency percentiles`, unit: 'ms', categories, series: [{ name: 'p50', values: rows.map((r) => r.p50Ms) }, { name: 'p99', values: rows.map((r) => r.p99Ms) }] }),
    },
  ];
}

/** A run's figures: the medians of its request variants. */
export function rowsOfResult(result: ScenarioResult): ChartRow[] {
  const rows: ChartRow[] = [];
  for (const variant of result.prepared.variants) {
    if (isDeliveryVariant(variant)) continue;
    const s = result.summaries.get(variant.name);
    if (!s) continue;
    const refused = variant.latencyOf === 'refused';
    const cpuMicros = Object.fromEntries(Object.entries(s.cpuMicrosPerRequest).filter(([label, value]) => label !== LOAD_GENERATOR && value !== undefined && Number.isFinite(value)) as [string, number][]);
    rows.push({ variant: variant.name, reqPerSec: s.reqPerSec, p50Ms: refused ? s.refusedP50Ms : s.p50Ms, p99Ms: refused ? s.refusedP99Ms : s.p99Ms, cpuMicros });
  }
  return rows;
}

const CPU_COLUMN = / CPU µs\/req$/;

/** The figures of a recorded section: its results table (the first whose header has variant, req/s, p50 and p99). */
export function rowsOfTable(section: string): ChartRow[] {
  const lines = section.split('\n');
  const cells = (line: string) => line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.startsWith('| variant |')) continue;
    const header = cells(line);
    const column = (name: string) => header.indexOf(name);
    const [req, p50, p99] = [column('req/s'), column('p50 ms'), column('p99 ms')];
    if (req === -1 || p50 === -1 || p99 === -1) continue;
    const rows: ChartRow[] = [];
    for (let j = i + 2; j < lines.length && (lines[j] as string).startsWith('|'); j++) {
      const row = cells(lines[j] as string);
      const number = (index: number) => Number.parseFloat((row[index] ?? '').replace(/,/g, ''));
      const cpuMicros: Record<string, number> = {};
      header.forEach((name, index) => {
        if (!CPU_COLUMN.test(name)) return;
        const label = name.replace(CPU_COLUMN, '');
        const value = number(index);
        if (label !== LOAD_GENERATOR && Number.isFinite(value)) cpuMicros[label] = value;
      });
      rows.push({ variant: row[0] ?? '', reqPerSec: number(req), p50Ms: number(p50), p99Ms: number(p99), cpuMicros });
    }
    return rows;
  }
  return [];
}

/** The Markdown lines that show the charts (paths relative to docs/). */
export function chartLinks(charts: readonly Chart[]): string[] {
  return charts.map((chart) => `![${chart.alt}](img/bench/${chart.file})`);
}

export function writeCharts(docsDir: string, charts: readonly Chart[]): void {
  if (charts.length === 0) return;
  const dir = join(docsDir, 'img', 'bench');
  mkdirSync(dir, { recursive: true });
  for (const chart of charts) writeFileSync(join(dir, chart.file), chart.svg);
}
