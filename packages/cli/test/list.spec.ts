import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Entry } from '@murmur/protocol'
import { VERSION, byMethod, startFakeDaemon, type FakeDaemon } from './fake-daemon.js'
import { run } from './run-cli.js'

const entry = (key: string, value: string, encoding?: 'base64'): Entry => ({ key, value, ...(encoding != null ? { encoding } : {}), version: VERSION })

/** Two pages: the daemon cuts after `b`. */
const PAGES: Record<string, { items: Entry[], next?: string }> = {
  '': { items: [entry('a', 'one'), entry('b', 'two\nlines')], next: 'b' },
  b: { items: [entry('c', 'AP8=', 'base64'), entry('d', '')] }
}

describe('list against a fake daemon', () => {
  let daemon: FakeDaemon
  const cli = async (...argv: string[]): ReturnType<typeof run> => await run(['--socket', daemon.path, ...argv])

  before(async () => {
    daemon = await startFakeDaemon(byMethod({
      kv_list: ({ after }) => ({ result: PAGES[(after as string | undefined) ?? ''] })
    }))
  })
  after(async () => await daemon.close())

  it('pages through kv_list and prints key = value lines in the daemon\'s order', async () => {
    daemon.requests.length = 0
    const { code, stdout } = await cli('list', '--prefix', 'x')
    assert.equal(code, 0)
    assert.equal(stdout, 'a = one\nb = "two\\nlines"\nc = base64:AP8=\nd = \n')
    assert.deepEqual(daemon.requests.map(r => r.params), [
      { prefix: 'x', limit: 1000, encoding: 'base64' },
      { prefix: 'x', after: 'b', limit: 1000, encoding: 'base64' }
    ])
  })

  it('--limit caps the entries over all pages', async () => {
    daemon.requests.length = 0
    const { code, stdout } = await cli('list', '--limit', '3')
    assert.equal(code, 0)
    assert.equal(stdout, 'a = one\nb = "two\\nlines"\nc = base64:AP8=\n')
    assert.deepEqual(daemon.requests.map(r => r.params.limit), [3, 1])
  })

  it('--limit stops paging once reached', async () => {
    daemon.requests.length = 0
    assert.equal((await cli('list', '--limit', '2')).stdout, 'a = one\nb = "two\\nlines"\n')
    assert.equal(daemon.requests.length, 1)
  })

  it('--json prints one array of the entries as the daemon sent them', async () => {
    const { code, stdout } = await cli('list', '--json')
    assert.equal(code, 0)
    assert.deepEqual(JSON.parse(stdout), [...PAGES['']?.items ?? [], ...PAGES.b?.items ?? []])
  })
})

describe('list of an empty store', () => {
  let daemon: FakeDaemon
  before(async () => { daemon = await startFakeDaemon(() => ({ result: { items: [] } })) })
  after(async () => await daemon.close())

  it('prints nothing, or [] with --json', async () => {
    assert.equal((await run(['--socket', daemon.path, 'list'])).stdout, '')
    assert.equal((await run(['--socket', daemon.path, 'list', '--json'])).stdout, '[]\n')
  })
})
