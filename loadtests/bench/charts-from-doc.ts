// `npm run bench:charts`: draws the SVG charts of every scenario from the
// results docs/performance.md recorded (its tables), without running the
// benchmark: docs/img/bench/<scenario>-{throughput,cpu,latency}.svg, and the
// links to them in each section, right below its results table. A run of
// `npm run bench` draws them from its own figures the same way.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './repo-root.ts';
import { chartLinks, rowsOfTable, scenarioCharts, writeCharts } from './svg-charts.ts';

const SECTION = /<!-- bench:([a-z0-9-]+):start -->\n([\s\S]*?)\n<!-- bench:\1:end -->/g;

/** The section with the chart links right after its results table (earlier links removed). */
export function withChartLinks(section: string, links: readonly string[]): string {
  const lines = section.split('\n').filter((line) => !/^!\[[^\]]*\]\(img\/bench\//.test(line));
  // Drop the blank line a removed link block leaves behind.
  const cleaned = lines.filter((line, i) => !(line === '' && lines[i - 1] === ''));
  if (links.length === 0) return cleaned.join('\n');
  const start = cleaned.findIndex((line) => line.startsWith('| variant |') && line.includes('| req/s |'));
  if (start === -1) return cleaned.join('\n');
  let end = start;
  while (end + 1 < cleaned.length && (cleaned[end + 1] as string).startsWith('|')) end++;
  return [...cleaned.slice(0, end + 1), '', ...links, ...cleaned.slice(end + 1)].join('\n');
}

export function chartsFromDoc(markdown: string, docsDir: string): { markdown: string; scenarios: string[] } {
  const scenarios: string[] = [];
  const updated = markdown.replace(SECTION, (_match, name: string, body: string) => {
    const charts = scenarioCharts(name, rowsOfTable(body));
    if (charts.length > 0) {
      writeCharts(docsDir, charts);
      scenarios.push(name);
    }
    return `<!-- bench:${name}:start -->\n${withChartLinks(body, chartLinks(charts))}\n<!-- bench:${name}:end -->`;
  });
  return { markdown: updated, scenarios };
}

if (import.meta.filename === process.argv[1]) {
  const docsDir = join(REPO_ROOT, 'docs');
  const path = join(docsDir, 'performance.md');
  const { markdown, scenarios } = chartsFromDoc(readFileSync(path, 'utf8'), docsDir);
  writeFileSync(path, markdown);
  console.log(`charts drawn for ${scenarios.join(', ')} in docs/img/bench/`);
}
