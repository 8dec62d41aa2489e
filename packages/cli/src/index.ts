export { main } from './main.js'
export type { CliIo } from './io.js'
export { ExitCode } from './errors.js'
