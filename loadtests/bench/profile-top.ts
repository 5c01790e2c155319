// `node loadtests/bench/profile-top.ts <file.cpuprofile> [n]`: the top
// functions of a V8 CPU profile (BENCH_CPU_PROF) by self time, as a markdown
// table, plus a few groups (GC, Redis client, logging, metrics, ...) summed
// by where the code lives, for docs/performance.md's before/after tables.

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

// Startup (module loading, config compilation) is not the hit path: samples of the first SKIP_S seconds are dropped.
const [file, topArg, skipArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node loadtests/bench/profile-top.ts <file.cpuprofile> [n]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const skipUs = Number(skipArg ?? 5) * 1e6;
const selfUs = new Map<number, number>();
let elapsed = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] as number;
  elapsed += profile.timeDeltas[i] ?? 0;
  if (elapsed < skipUs) continue;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
// Shares are of the busy time: idle samples say nothing about the path.
let total = 0;
let idle = 0;
for (const [id, v] of selfUs) {
  if (byId.get(id)?.callFrame.functionName === '(idle)') idle += v;
  else total += v;
}

function where(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1] as string;
  const repo = url.indexOf('/work/');
  if (repo >= 0) return url.replace(/^.*?\/w\d+\/|^.*?\/main\//, '');
  return url.replace(/^node:/, 'node:') || '(native)';
}

const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (!node || node.callFrame.functionName === '(idle)') continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const place = where(url);
  const key = `${functionName || '(anonymous)'} · ${place}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const group = url.includes('node_modules') ? place : url.startsWith('node:') ? 'node internals' : url ? 'facet' : functionName;
  byPlace.set(group, (byPlace.get(group) ?? 0) + us);
}
const pct = (us: number): string => `${((100 * us) / total).toFixed(1)}%`;
console.log(`profile ${file}: ${(total / 1e6).toFixed(1)} s busy, ${(idle / 1e6).toFixed(1)} s idle (first ${skipUs / 1e6} s skipped); shares are of the busy time\n`);
console.log('| function (self time) | share |\n| --- | ---: |');
for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| ${key.replace(/\|/g, '\\|')} | ${pct(us)} |`);
console.log('\n| where (self time) | share |\n| --- | ---: |');
for (const [key, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`| ${key} | ${pct(us)} |`);
