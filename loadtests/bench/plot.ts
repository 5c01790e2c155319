// An SVG of a scenario's side-by-side (req/s and the proxy's CPU per request
// per row), drawn from its table in docs/performance.md, so the plot always
// shows the numbers written there. main.ts draws it after updating the doc
// for the scenarios listed in PLOTTED; by hand:
//
//   node loadtests/bench/plot.ts cache-vs-nginx   → docs/img/cache-vs-nginx.svg

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './repo-root.ts';

/** Scenarios whose section gets a plot. */
export const PLOTTED = new Set(['cache-vs-nginx']);

/** Columns that are not the row's own proxy (shared helpers, the load generator). */
const NOT_THE_PROXY = /^(CRM sim|MES sim|Redis server|load generator)/;

interface Row {
  variant: string;
  reqPerSec: number;
  /** CPU µs/request of the row's own proxy: its largest column outside NOT_THE_PROXY. */
  cpuUs: number;
  cpuOf: string;
}

function cells(line: string): string[] {
  return line.split('|').slice(1, -1).map((c) => c.trim());
}

/** The main table of a scenario's section: variant, req/s, ..., one CPU column per process. */
export function rowsOf(doc: string, scenario: string): Row[] {
  const start = doc.indexOf(`<!-- bench:${scenario}:start -->`);
  const end = doc.indexOf(`<!-- bench:${scenario}:end -->`);
  if (start < 0 || end < 0) throw new Error(`no section ${scenario} in docs/performance.md`);
  const lines = doc.slice(start, end).split('\n');
  const headerAt = lines.findIndex((l) => l.startsWith('| variant | req/s |'));
  if (headerAt < 0) throw new Error(`no variant table in section ${scenario}`);
  const header = cells(lines[headerAt] as string);
  const cpuColumns = header.map((h, i) => ({ h, i })).filter(({ h }) => h.endsWith('CPU µs/req') && !NOT_THE_PROXY.test(h));
  const rows: Row[] = [];
  for (const line of lines.slice(headerAt + 2)) {
    if (!line.startsWith('|')) break;
    const c = cells(line);
    let best = { us: 0, of: '' };
    for (const { h, i } of cpuColumns) {
      const us = Number((c[i] ?? '').replace(/,/g, ''));
      if (Number.isFinite(us) && us > best.us) best = { us, of: h.replace(/ CPU µs\/req$/, '') };
    }
    rows.push({ variant: c[0] ?? '?', reqPerSec: Number((c[1] ?? '').replace(/,/g, '')), cpuUs: best.us, cpuOf: best.of });
  }
  return rows;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function svgOf(title: string, rows: readonly Row[]): string {
  const labelW = 300;
  const barW = 260;
  const rowH = 26;
  const top = 56;
  const gap = 40;
  const width = labelW + 2 * barW + gap + 90;
  const height = top + rows.length * rowH + 30;
  const maxRps = Math.max(1, ...rows.map((r) => r.reqPerSec));
  const maxCpu = Math.max(1, ...rows.map((r) => r.cpuUs));
  const x2 = labelW + barW + gap + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="${labelW}" y="44" font-weight="bold">req/s (higher is better)</text>`,
    `<text x="${x2}" y="44" font-weight="bold">proxy CPU µs/request (lower is better)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const isFacet = r.variant.startsWith('gateway');
    const fill = isFacet ? '#c0392b' : '#7f8c8d';
    const w1 = Math.max(1, (r.reqPerSec / maxRps) * barW);
    const w2 = Math.max(1, (r.cpuUs / maxCpu) * barW);
    parts.push(
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${escape(r.variant)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${w1.toFixed(1)}" height="${rowH - 8}" fill="${fill}"/>`,
      `<text x="${(labelW + w1 + 4).toFixed(1)}" y="${y + 15}">${Math.round(r.reqPerSec).toLocaleString('en-US')}</text>`,
      `<rect x="${x2}" y="${y + 3}" width="${w2.toFixed(1)}" height="${rowH - 8}" fill="${fill}"/>`,
      `<text x="${(x2 + w2 + 4).toFixed(1)}" y="${y + 15}">${Math.round(r.cpuUs)}${r.cpuOf ? ` (${escape(r.cpuOf)})` : ''}</text>`,
    );
  });
  parts.push(`<text x="10" y="${height - 8}" fill="#555">Drawn by loadtests/bench/plot.ts from docs/performance.md (medians of the interleaved rounds).</text>`, '</svg>');
  return `${parts.join('\n')}\n`;
}

/** Writes docs/img/<scenario>.svg from the scenario's section; returns its path. */
export function plotScenario(docPath: string, scenario: string): string {
  const rows = rowsOf(readFileSync(docPath, 'utf8'), scenario);
  const dir = join(REPO_ROOT, 'docs', 'img');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${scenario}.svg`);
  writeFileSync(file, svgOf(`${scenario}: req/s and CPU per request, side by side`, rows));
  return file;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const scenario = process.argv[2] ?? 'cache-vs-nginx';
  console.log(plotScenario(join(REPO_ROOT, 'docs', 'performance.md'), scenario));
}
