#!/usr/bin/env node
'use strict'
// Node 22.1+ keeps the compiled bundle in an on-disk cache; Node 20 has no such cache and skips it.
require('node:module').enableCompileCache?.()
require('../dist/bundle/murmurctl.cjs').main(process.argv.slice(2)).then(code => { process.exitCode = code })
