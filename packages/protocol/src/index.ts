export * from './client-index.js'
export * from './methods.js'
export * from './ticket.js'
