/**
 * A file system filled to its last byte, for the tests of a full disk (they
 * mount a small tmpfs as root, and fill it).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { TestCluster, TestNode } from './harness.js'
import { RawClient } from './raw-client.js'

/** Why a describe of a full disk skips: mounting needs root. */
export const FULL_DISK_SKIP = process.getuid?.() === 0 ? false : 'needs root to mount a small tmpfs'

/** A 4 MiB tmpfs mounted at `small` in the cluster's directory (root only); `unmount()` in the describe's after. */
export function smallDisk (cluster: TestCluster): { mount: string, unmount: () => void } {
  const mount = join(cluster.dir, 'small')
  mkdirSync(mount)
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mount])
  assert.equal(mounted.status, 0, `mount: ${mounted.stderr?.toString()}`)
  return { mount, unmount: () => { spawnSync('umount', [mount]) } }
}

/** Fills the file system holding `dir` with a filler file; returns its path. */
export function fill (dir: string): string {
  const path = join(dir, 'filler')
  const fd = openSync(path, 'w')
  try {
    const block = Buffer.alloc(64 * 1024, 0x5a)
    for (let i = 0; i < 100_000; i++) {
      try {
        writeSync(fd, block)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
        // the last partial block: fill the remaining bytes too
        for (let size = 32 * 1024; size >= 1; size = Math.floor(size / 2)) {
          try { while (true) writeSync(fd, block, 0, size) } catch {}
        }
        return path
      }
    }
    throw new Error('the file system never filled up')
  } finally {
    closeSync(fd)
  }
}

/** Fills the disk under `node` (on `mount`), then writes tiny puts until even one finds no room in its WAL; returns the filler. */
export async function fillUnder (node: TestNode, mount: string): Promise<string> {
  const filler = fill(mount)
  const client = await RawClient.connect(node.socket)
  let refused = false
  try {
    for (let i = 0; i < 500 && !refused; i++) refused = (await client.request('kv_put', { key: `tiny:${i}`, value: 'x' })).error?.code === 1001
  } finally {
    client.destroy()
  }
  assert.ok(refused, `${node.name}'s disk refused a write`)
  return filler
}
