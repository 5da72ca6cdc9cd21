import type { Test } from 'tap'
import { waitFor } from './wait.ts'

export interface SseEvent {
  id: string
  event: string
  data: any
}

/**
 * A Server-Sent Events client over fetch, as a test needs one: it keeps every
 * event and the raw text (heartbeats are comments, not events), and is closed at
 * teardown.
 */
export async function openStream(t: Test, url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController()
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const events: SseEvent[] = []
  let raw = ''
  let ended = false
  // as a browser keeps it: the last id field, of an event or of an id line alone
  let lastEventId = ''
  const done = (async () => {
    if (!response.body) return
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true })
        raw += text
        buffer += text
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const fields: Record<string, string> = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue
            const colon = line.indexOf(':')
            fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '')
          }
          if (fields.id !== undefined) lastEventId = fields.id
          if (fields.data !== undefined) events.push({ id: fields.id ?? '', event: fields.event ?? 'message', data: JSON.parse(fields.data) })
        }
      }
    } catch {
      // aborted by close()
    }
    ended = true
  })()
  const stream = {
    response,
    events,
    get raw() {
      return raw
    },
    get ended() {
      return ended
    },
    /** the events other than `ready`, as `change plugin #delivery` lines */
    changes: () => events.filter((e) => e.event !== 'ready').map((e) => `${e.event} ${e.data.plugin} ${e.data.event}`),
    async waitFor(predicate: (events: SseEvent[]) => boolean, message: string, timeoutMs = 10_000) {
      await waitFor(() => predicate(events), { message, timeoutMs })
      return events
    },
    /** the id a browser would send on reconnect */
    lastId: () => lastEventId,
    async close() {
      controller.abort()
      await done
    },
  }
  t.teardown(() => stream.close())
  await stream.waitFor((e) => e.some((x) => x.event === 'ready'), 'the stream to be ready')
  return stream
}
