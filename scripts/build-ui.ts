// Bundles the browser pages (ui/console, ui/portal) with esbuild into
// ui/dist/, which the gateway serves (gateway/pages.ts). Run by `npm start`
// (prestart), the Docker image's check stage and the browser tests; the
// gateway never bundles (esbuild is a devDependency).
//
//   node scripts/build-ui.ts [outdir]

import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The pages: each an entry script (with its CSS) and an HTML shell. */
export const PAGES = ['console', 'portal'] as const;

export async function buildUi(outdir = join(ROOT, 'ui', 'dist')): Promise<string> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: PAGES.map((page) => ({ in: join(ROOT, 'ui', page, 'main.ts'), out: page })),
    outdir,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const page of PAGES) copyFileSync(join(ROOT, 'ui', page, 'index.html'), join(outdir, `${page}.html`));
  copyFileSync(join(ROOT, 'ui', 'assets', 'facet-logo.svg'), join(outdir, 'facet-logo.svg'));
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = await buildUi(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(`ui bundled into ${outdir}`);
}
