import type { Emitted } from './emit.ts'

/** A committed write and the events it emitted in its transaction (none when nothing changed). */
export interface Written<T> {
  value: T
  emitted: Emitted[]
}
