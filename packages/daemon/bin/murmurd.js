#!/usr/bin/env node
import module from 'node:module'
// Node 22.1+ keeps the compiled bundle in an on-disk cache; Node 20 has no such cache and skips it.
module.enableCompileCache?.()
const { main } = await import('../dist/bundle/murmurd.js')
process.exit(await main(process.argv.slice(2)))
