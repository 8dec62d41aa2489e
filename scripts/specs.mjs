#!/usr/bin/env node
// Prints the compiled spec files of one half of `npm test`, the slowest first:
//
//   node scripts/specs.mjs in-process   # the core's, the protocol's and the simulator's, and murmurd's RPC fuzz
//   node scripts/specs.mjs processes    # murmurctl's and murmurd's, which start processes and time real networks
//
// Node's test runner starts files in the order given, as many at a time as
// --test-concurrency allows; one slow file started last would run on alone
// after the rest. The order below is from a run of the whole suite (seconds
// per file in the comments, 2 and 3 files at a time); files not named follow
// in name order. A name here that no longer exists is skipped.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const SLOWEST = {
  'in-process': [
    'sim/dist/test/holes-longest.spec.js', // 61
    'sim/dist/test/sim.spec.js', // 34
    'daemon/dist/test/fuzz.spec.js', // 26
    'sim/dist/test/seeds.spec.js' // 20
  ],
  processes: [
    'hostile-memory', // 66
    'ttl', // 62
    'discovery', // 44
    'gc', // 43
    'export-import', // 43
    'paused-pulls', // 41
    'netns', // 41
    'slow-link-acks', // 39
    'slow-link', // 34
    'peer-book', // 38
    'dht-peers', // 36
    'slow-pulls', // 33
    'hostile-bytes', // 32
    'cluster', // 31
    'demo', // 30
    'closed-group', // 30
    'join', // 29
    'faults', // 29
    'relay', // 28
    'trickle', // 27
    'hostile', // 27
    'honest-charges', // 26
    'daemon', // 26
    'upgrade', // 26
    'big-answers', // 25
    'nat-direct', // 25
    'waiting-origins' // 12, much of it CPU
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
