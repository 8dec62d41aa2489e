#!/usr/bin/env node
/**
 * Bundles the two programs from what `tsc -b` compiled (run by `npm run build`
 * and `prepare`, after tsc):
 *
 * - murmurctl → packages/cli/dist/bundle/murmurctl.cjs, one CommonJS file.
 * - murmurd → packages/daemon/dist/bundle/murmurd.js, ESM, with what a node
 *   imports only when it needs it (mDNS, the DHT, the swarm key's protector,
 *   pino-pretty) split into chunks beside it that are read only then.
 *
 * Why: most of a start was Node resolving, reading and compiling files one by
 * one — ~150 for a murmurctl call, ~1,000 for murmurd. A murmurctl call is a
 * whole process, and Node's ESM loader alone costs ~7% of a bare start, so it
 * is CommonJS. The ESM builds in dist/src stay the library entries (`main()`,
 * `createMurmur`). Each bundle's meta.json lists its inputs, for the tests.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * commander requires node:child_process at load, only to run executable
 * subcommands, which neither program has; loading it (and what it pulls in)
 * cost ~10% of a bare Node start. Give commander a stand-in that loads the
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

/**
 * libp2p's peer store sorts addresses, protocols and metadata keys with
 * `localeCompare` each time it saves a peer (every stream opened merges
 * one). That is ICU's collation: ~2 MB of murmurd's RSS in the pages of the
 * Node binary it touches, for an order nothing outside the process sees (the
 * sorts only make a peer's record deterministic). Compare UTF-16 code units
 * instead; the build fails if an upgrade brings a call of another shape.
 */
const plainCompare = {
  name: 'plain-compare',
  setup (b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]@libp2p[\\/]peer-(store|record)[\\/]dist[\\/]src[\\/].*\.js$/ }, async args => {
      const text = await readFile(args.path, 'utf8')
      if (!text.includes('localeCompare')) return undefined
      const out = text.replace(/([A-Za-z_$][\w$.]*(?:\(\))?)\.localeCompare\(([A-Za-z_$][\w$.]*(?:\(\))?)\)/g, '__codeUnitOrder($1, $2)')
      if (out.includes('localeCompare')) throw new Error(`plain-compare: a localeCompare call in ${args.path} has a shape it does not know`)
      return { contents: 'const __codeUnitOrder = (a, b) => a < b ? -1 : a > b ? 1 : 0;\n' + out, loader: 'js' }
    })
  }
}

/**
 * @chainsafe/libp2p-noise hashes its handshake with @chainsafe/as-sha256, a
 * WebAssembly module it instantiates on import. Give it node:crypto's SHA-256
 * instead (packages/daemon/src/noise-crypto.ts): the same bytes, and one
 * WebAssembly module less to compile and keep. Its AEAD for messages under
 * 1,200 bytes (@chainsafe/as-chacha20poly1305) stays: node:crypto's costs
 * 7-8 µs a seal and open of a small message against its 3, on every gossip
 * message and ping a node sends or takes.
 */
const nativeSha256 = {
  name: 'native-sha256',
  setup (b) {
    const standIn = join(ROOT, 'packages/daemon/dist/src/noise-crypto.js')
    b.onResolve({ filter: /^@chainsafe\/as-sha256$/ }, args =>
      /[\\/]node_modules[\\/]@chainsafe[\\/]libp2p-noise[\\/]/.test(args.importer) ? { path: standIn } : undefined)
  }
}

/**
 * V8 keeps the source of every script whose functions may still be compiled
 * (lazily, or again after their bytecode is flushed): the 2 MB of murmurd's
 * bundle, a third of it comments, indentation and line breaks.
 * Minifying whitespace and syntax (names stay, so stack traces still name
 * functions) takes it to 1.4 MB and an idle node's RSS down by ~1.5 MB.
 */
const common = { bundle: true, platform: 'node', target: 'node20', charset: 'ascii', metafile: true, logLevel: 'warning', minifyWhitespace: true, minifySyntax: true, plugins: [lazyChildProcess, plainCompare, nativeSha256] }

const programs = [
  {
    dir: 'packages/cli/dist/bundle',
    options: {
      entryPoints: { murmurctl: 'packages/cli/dist/src/main.js' },
      format: 'cjs',
      outExtension: { '.js': '.cjs' },
      // only `murmurctl template` renders templates: liquidjs stays in node_modules, loaded by that command alone
      external: ['liquidjs'],
      // main.js finds packages/cli/package.json from its own URL; the bundle sits as deep (dist/bundle/)
      define: { 'import.meta.url': '__bundle_url' },
      banner: { js: "const __bundle_url = require('node:url').pathToFileURL(__filename).href;" }
    }
  },
  {
    dir: 'packages/daemon/dist/bundle',
    options: {
      entryPoints: { murmurd: 'packages/daemon/dist/src/main.js' },
      format: 'esm',
      splitting: true,
      // a native addon, loaded from node_modules as it is
      external: ['better-sqlite3'],
      // the CommonJS dependencies bundled in (pino, commander) call require() for Node's own modules
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
    }
  }
]

/**
 * V8 keeps a script's source for as long as its functions live, as one byte a
 * character only when every character is Latin-1: a single arrow in a comment
 * doubles murmurd's 2.4 MB bundle in memory. `charset: 'ascii'` escapes what
 * is in strings, regular expressions and names; what is left is in comments,
 * where an escape is as good as the character.
 */
function asciiOnly (text) {
  return text.replace(/[^\x00-\x7f]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

for (const { dir, options } of programs) {
  const outdir = join(ROOT, dir)
  rmSync(outdir, { recursive: true, force: true }) // no chunk of an earlier build is left to load
  mkdirSync(outdir, { recursive: true })
  const result = await build({ ...common, ...options, absWorkingDir: ROOT, outdir, write: false })
  for (const file of result.outputFiles) writeFileSync(file.path, asciiOnly(file.text))
  writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile, null, 1) + '\n')
}
