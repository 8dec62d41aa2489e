#!/usr/bin/env node
// Prints the compiled spec files of one half of `npm test`:
//
//   node scripts/specs.mjs in-process   # the core's, the protocol's and the simulator's, and murmurd's RPC fuzz
//   node scripts/specs.mjs processes    # murmurctl's and murmurd's, which start processes and time real networks
//
// Node's test runner sorts the files it is given by name and starts them in
// that order, as many at a time as --test-concurrency allows (a list of the
// slowest files first, kept here before, changed nothing: `node --test` had
// sorted it away). `npm test` gives it --test-timeout, so a file that hangs
// fails at the deadline with its name, rather than holding the run until CI's
// own limit ends it without one.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const HALVES = {
  'in-process': ['core', 'protocol', 'sim'].flatMap(specsOf).concat('packages/daemon/dist/test/fuzz.spec.js'),
  processes: ['cli', 'daemon'].flatMap(specsOf).filter(file => !file.endsWith('/fuzz.spec.js'))
}

function specsOf (pkg) {
  const dir = join('packages', pkg, 'dist', 'test')
  return readdirSync(dir).filter(name => name.endsWith('.spec.js')).sort().map(name => join(dir, name))
}

const half = process.argv[2]
if (!(half in HALVES)) {
  console.error(`usage: node scripts/specs.mjs ${Object.keys(HALVES).join('|')}`)
  process.exit(2)
}
console.log(HALVES[half].join('\n'))
