/**
 * docker/Dockerfile, checked without Docker: its build stage runs `npm run
 * build`, so every file that script reads beyond `packages/` must be copied
 * in first. `node scripts/bundle.mjs` joined the build and the image stopped
 * building ("Cannot find module '/app/scripts/bundle.mjs'"), unseen until the
 * compose smoke test (scripts/compose-smoke.sh, which needs podman) ran.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { root } from './harness.js'

const dockerfile = readFileSync(join(root, 'docker/Dockerfile'), 'utf8')
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }

/** The sources of the COPY instructions before the second FROM (the build stage), context-relative. */
function buildStageCopies (): string[] {
  const stages = dockerfile.split(/^FROM /m)
  const build = stages[1] ?? ''
  return [...build.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap(([, args]) => (args as string).trim().split(/\s+/).slice(0, -1))
}

describe('docker/Dockerfile', () => {
  it('copies into its build stage every file the build script runs or reads', () => {
    const copied = buildStageCopies()
    const covered = (path: string): boolean => copied.some(source => path === source || path.startsWith(source.replace(/\/?$/, '/')))
    const build = manifest.scripts.build ?? ''
    const scripts = [...build.matchAll(/\bnode\s+(\S+)/g)].map(([, path]) => path as string)
    assert.ok(scripts.length > 0, `the build script runs a file with node: ${build}`)
    const needed = [...scripts, 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', 'packages/daemon/src/index.ts']
    assert.deepEqual(needed.filter(path => !covered(path)), [], `copied: ${copied.join(' ')}`)
    assert.match(dockerfile, /^RUN npm run build\b/m)
  })
})
