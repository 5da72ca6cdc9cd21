import type { FastifyBaseLogger } from 'fastify'
import type { Emitted } from './emit.ts'

/** The spec's log line, written after commit: a rolled-back write logs nothing. */
export function logEmitted(log: FastifyBaseLogger, emitted: Emitted | readonly Emitted[]): void {
  for (const one of Array.isArray(emitted) ? emitted : [emitted as Emitted]) {
    for (const plugin of one.plugins) {
      log.info({ plugin, event: one.type, event_id: one.eventId }, `📤 Event created for plugin: ${plugin} -> ${one.type}`)
    }
  }
}
