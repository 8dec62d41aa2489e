/**
 * `schema set|get|list|del`: a schema is the json value of the key
 * `_schema/<prefix>`, so these are put, get, list and del on that key; the
 * daemon checks that a schema compiles and that puts under its prefix match.
 */
import { readFile } from 'node:fs/promises'
import { SCHEMA_KEY_PREFIX } from '@murmur/protocol/client'
import { withSession, type CommandContext } from '../context.js'
import { CommandError } from '../errors.js'
import { printJson, printLine } from '../io.js'
import { del } from './del.js'
import { get } from './get.js'
import { entries } from './list.js'
import { put } from './put.js'

/** `schema set <prefix> <file>`; `-` reads the schema from stdin. */
export async function setSchema (ctx: CommandContext, prefix: string, file: string): Promise<void> {
  let text = '-'
  if (file !== '-') {
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw new CommandError(`cannot read the schema: ${(err as Error).message}`)
    }
  }
  await put(ctx, SCHEMA_KEY_PREFIX + prefix, text, { type: 'json' })
}

export async function getSchema (ctx: CommandContext, prefix: string): Promise<void> {
  await get(ctx, SCHEMA_KEY_PREFIX + prefix, { pretty: true })
}

export async function delSchema (ctx: CommandContext, prefix: string): Promise<void> {
  await del(ctx, SCHEMA_KEY_PREFIX + prefix)
}

/** One prefix a line; with `--json`, `[{prefix, schema, version}]`. */
export async function listSchemas (ctx: CommandContext): Promise<void> {
  const schemas = await withSession(ctx, async session => {
    const found = []
    for await (const entry of entries(session, { prefix: SCHEMA_KEY_PREFIX }, ctx.signal)) {
      found.push({ prefix: entry.key.slice(SCHEMA_KEY_PREFIX.length), schema: entry.value, version: entry.version })
    }
    return found
  })
  if (ctx.json) printJson(ctx.io.stdout, schemas)
  else for (const { prefix } of schemas) printLine(ctx.io.stdout, prefix)
}
