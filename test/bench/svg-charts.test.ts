// The benchmark's SVG charts (loadtests/bench/svg-charts.ts) and their links
// in docs/performance.md (charts-from-doc.ts): well-formed SVG that says its
// numbers in words too, bars in proportion, text escaped; the recorded
// tables read back into the same figures; links placed once, right below the
// results table, however often the charts are redrawn.
//
//   npx node --import tsx --test test/bench/svg-charts.test.ts

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { barChartSvg, niceMax, rowsOfTable, scenarioCharts } from '../../loadtests/bench/svg-charts.ts';
import { chartsFromDoc } from '../../loadtests/bench/charts-from-doc.ts';

/** Every tag closed in order, nothing outside the root: enough of XML's well-formedness for our own output. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match as unknown as [string, string, string, string];
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes what was opened`);
    else stack.push(name);
  }
  assert.deepEqual(stack, []);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.doesNotMatch(svg.replace(/&(amp|lt|gt|quot);/g, ''), /&/, 'no bare ampersand');
}

const SECTION = `## demo

Measured … on 2 CPUs.

| variant | req/s | p50 ms | p99 ms | failed | gateway CPU µs/req | CRM sim CPU µs/req | load generator CPU µs/req |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| gateway | 2,818 | 15.41 | 49.15 | 0% | 344 | 118 | 83 |
| direct | 10,478 | 4.04 | 26.25 † | 0% | 0 | 86 | 54 |

| comparison | value |
| --- | ---: |
| req/s, gateway / direct | 0.27× |`;

describe('SVG charts', () => {
  test('round axis ends', () => {
    assert.equal(niceMax(0), 1);
    assert.equal(niceMax(3), 5);
    assert.equal(niceMax(10_478), 20_000);
    assert.equal(niceMax(486), 500);
    assert.equal(niceMax(1_907), 2_000);
    assert.equal(niceMax(0.3), 0.5);
  });

  test('side-by-side bars: in proportion to the values, labelled, described in words, escaped', () => {
    const svg = barChartSvg({ title: 'A & B <test>', unit: 'ms', categories: ['fast', 'slow'], series: [{ name: 'p50', values: [10, 40] }, { name: 'p99', values: [20, 80] }] });
    assertWellFormed(svg);
    assert.match(svg, /<title id="title">A &amp; B &lt;test&gt;<\/title>/);
    assert.match(svg, /<desc id="desc">fast: p50 10\.0, p99 20\.0 ms; slow: p50 40\.0, p99 80\.0 ms<\/desc>/);
    const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="14"/g)].map((m) => Number(m[1]));
    assert.equal(widths.length, 4);
    const [a, b, c, d] = widths as [number, number, number, number];
    assert.ok(Math.abs(b / a - 2) < 0.02 && Math.abs(c / a - 4) < 0.02 && Math.abs(d / a - 8) < 0.02, `widths ${widths.join(', ')}`);
    assert.match(svg, />p50<\/text>/);
    assert.match(svg, />80\.0<\/text>/);
  });

  test('stacked bars: one segment per process, the total at the end, empty series left out of the legend', () => {
    const svg = barChartSvg({ title: 'cpu', unit: 'µs', categories: ['v'], series: [{ name: 'gateway', values: [300] }, { name: 'Redis', values: [100] }, { name: 'idle', values: [0] }], stacked: true });
    assertWellFormed(svg);
    assert.match(svg, />400<\/text>/, 'the total');
    assert.match(svg, /v, gateway: 300 µs/);
    assert.doesNotMatch(svg, />idle</);
  });

  test('a recorded section reads back into its figures (thousands separators, † marks; the load generator left out)', () => {
    assert.deepEqual(rowsOfTable(SECTION), [
      { variant: 'gateway', reqPerSec: 2818, p50Ms: 15.41, p99Ms: 49.15, cpuMicros: { gateway: 344, 'CRM sim': 118 } },
      { variant: 'direct', reqPerSec: 10478, p50Ms: 4.04, p99Ms: 26.25, cpuMicros: { gateway: 0, 'CRM sim': 86 } },
    ]);
    assert.deepEqual(rowsOfTable('no table here'), []);
    const charts = scenarioCharts('demo', rowsOfTable(SECTION));
    assert.deepEqual(charts.map((c) => c.file), ['demo-throughput.svg', 'demo-cpu.svg', 'demo-latency.svg']);
    for (const chart of charts) assertWellFormed(chart.svg);
  });

  describe('charts from docs/performance.md', () => {
    const docs = mkdtempSync(join(tmpdir(), 'facet-charts-'));
    after(() => rmSync(docs, { recursive: true, force: true }));

    test('writes the SVGs and links them once, below the results table, again and again', () => {
      const doc = `# Performance\n\nintro\n\n<!-- bench:demo:start -->\n${SECTION}\n<!-- bench:demo:end -->\n\n<!-- bench:deliveries-only:start -->\n## deliveries-only\n\nno request table\n<!-- bench:deliveries-only:end -->\n`;
      const once = chartsFromDoc(doc, docs);
      assert.deepEqual(once.scenarios, ['demo']);
      assert.deepEqual(readdirSync(join(docs, 'img', 'bench')).sort(), ['demo-cpu.svg', 'demo-latency.svg', 'demo-throughput.svg']);
      const lines = once.markdown.split('\n');
      const tableEnd = lines.findIndex((l) => l.startsWith('| direct |'));
      assert.equal(lines[tableEnd + 1], '');
      assert.equal(lines[tableEnd + 2], '![demo: requests per second by variant](img/bench/demo-throughput.svg)');
      assert.equal(lines[tableEnd + 4], '![demo: latency percentiles (p50, p99) by variant](img/bench/demo-latency.svg)');
      assert.equal(lines[tableEnd + 5], '');
      assert.equal(lines[tableEnd + 6], '| comparison | value |');
      assert.equal(chartsFromDoc(once.markdown, docs).markdown, once.markdown, 'redrawing changes nothing');
      assert.match(readFileSync(join(docs, 'img', 'bench', 'demo-throughput.svg'), 'utf8'), /gateway: 2,818 req\/s/);
    });
  });
});
