#!/usr/bin/env node
/**
 * Bundles murmurctl into one CommonJS file, packages/cli/dist/bundle/murmurctl.cjs,
 * from what `tsc -b` compiled (run by `npm run build` and `prepare`, after tsc).
 *
 * Why: a murmurctl call is a whole Node process, and most of what it cost
 * was loading ~150 files of its own and of its dependencies. One file, loaded
 * as CommonJS (Node's ESM loader costs ~7% of a bare start on its own), starts
 * in about the time of `node -e 0` plus the socket round trip (see the bench's
 * "cli" section). The ESM build in dist/src stays the library entry (`main()`).
 *
 * dist/bundle/meta.json lists every input, so a test can check that zod,
 * libp2p and SQLite never get into the client.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = join(ROOT, 'packages/cli')
const OUT = join(CLI, 'dist/bundle')

/**
 * commander requires node:child_process at load, only to run executable
 * subcommands, which murmurctl has none of; loading it (and what it pulls in)
 * was ~10% of a bare Node start. Give commander a stand-in that loads the
 * real module on first use.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup (b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, args =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined)
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "exports.spawn = (...args) => require('node:child_process').spawn(...args)",
      loader: 'js'
    }))
  }
}

mkdirSync(OUT, { recursive: true })
const result = await build({
  entryPoints: [join(CLI, 'dist/src/main.js')],
  outfile: join(OUT, 'murmurctl.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // main.js finds packages/cli/package.json from its own URL; the bundle sits as deep (dist/bundle/).
  define: { 'import.meta.url': '__bundle_url' },
  banner: { js: "const __bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyChildProcess],
  metafile: true,
  logLevel: 'warning'
})
writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile, null, 1) + '\n')
