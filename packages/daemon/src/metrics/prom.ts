/**
 * prom-client, loaded on first use: a node started without metrics never
 * loads it (about 3 MB of heap it would otherwise hold for nothing). The
 * types come from the package as usual; the module is required at run time,
 * from wherever this file is (dist/src, or murmurd's bundle, which leaves it
 * out).
 */
import { createRequire } from 'node:module'
import type * as PromClient from 'prom-client'

let loaded: typeof PromClient | undefined

export function promClient (): typeof PromClient {
  loaded ??= createRequire(import.meta.url)('prom-client') as typeof PromClient
  return loaded
}
