#!/usr/bin/env node
// Prints the compiled spec files of one half of `npm test`, the slowest first:
//
//   node scripts/specs.mjs in-process   # the core's, the protocol's and the simulator's, and murmurd's RPC fuzz
//   node scripts/specs.mjs processes    # murmurctl's and murmurd's, which start processes and time real networks
//
// Node's test runner starts files in the order given, as many at a time as
// --test-concurrency allows; one slow file started last would run on alone
// after the rest. The order below is from a run of the whole suite (seconds
// per file, 3 files at a time, in the comments); files not named follow in
// name order. A name here that no longer exists is skipped.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const SLOWEST = {
  'in-process': [
    'sim/dist/test/seeds.spec.js', // 70
    'sim/dist/test/holes-longest.spec.js', // 50
    'sim/dist/test/sim.spec.js', // 37
    'daemon/dist/test/fuzz.spec.js' // 26
  ],
  processes: [
    'hostile-memory', // 66
    'slow-link', // 51
    'slow-pulls', // 50
    'discovery', // 47
    'gc', // 43
    'faults', // 42
    'export-import', // 41
    'paused-pulls', // 39
    'netns', // 38
    'ttl', // 38
    'trickle', // 37
    'peer-book', // 37
    'cluster', // 36
    'slow-link-acks', // 35
    'lock-race', // 33
    'hostile', // 32
    'upgrade', // 32
    'demo', // 31
    'join', // 30
    'template-exec-edges', // 30
    'daemon', // 29
    'honest-charges', // 27
    'closed-group' // 27
  ].map(name => `daemon/dist/test/${name}.spec.js`)
}

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
const files = HALVES[half]
const first = SLOWEST[half].map(file => join('packages', file)).filter(file => files.includes(file))
console.log([...first, ...files.filter(file => !first.includes(file))].join('\n'))
