import { authHeaders } from './api.ts'

export type StreamState = 'connecting' | 'live' | 'down' | 'unauthorized'

export interface StreamOptions {
  /** the stream's URL, read at every (re)connect so filters can change */
  url: () => string
  onEvent: (name: string, data: unknown) => void
  onState: (state: StreamState) => void
}

/**
 * Follows the server's event stream. EventSource cannot send an Authorization
 * header, so this reads the stream with fetch and parses the SSE format itself;
 * on a drop it reconnects with `Last-Event-ID`, and the server replays the gap.
 */
export function follow(options: StreamOptions): { restart(): void; stop(): void } {
  let lastId = ''
  let retryMs = 2000
  let controller: AbortController | undefined
  let timer: number | undefined
  let stopped = false

  async function connect(): Promise<void> {
    controller = new AbortController()
    const signal = controller.signal
    options.onState('connecting')
    try {
      const response = await fetch(options.url(), {
        headers: { accept: 'text/event-stream', ...authHeaders(), ...(lastId && { 'last-event-id': lastId }) },
        signal,
      })
      if (response.status === 401) {
        options.onState('unauthorized')
        return
      }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`)
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      let event = { name: 'message', data: [] as string[], id: '' }
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        const lines = buffer.split(/\r\n|\r|\n/)
        buffer = lines.pop() ?? ''
        for (const line of lines) {
          if (line === '') {
            if (event.id) lastId = event.id
            if (event.data.length > 0) {
              if (event.name === 'ready') options.onState('live')
              options.onEvent(event.name, JSON.parse(event.data.join('\n')))
            }
            event = { name: 'message', data: [], id: '' }
            continue
          }
          if (line.startsWith(':')) continue
          const colon = line.indexOf(':')
          const field = colon === -1 ? line : line.slice(0, colon)
          const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
          if (field === 'event') event.name = text
          else if (field === 'data') event.data.push(text)
          else if (field === 'id') event.id = text
          else if (field === 'retry' && /^\d+$/.test(text)) retryMs = Number(text)
        }
      }
    } catch {
      // a dropped connection: reconnect below, unless we were stopped on purpose
      if (signal.aborted) return
    }
    if (signal.aborted || stopped) return
    options.onState('down')
    timer = window.setTimeout(() => void connect(), retryMs)
  }

  void connect()
  return {
    /** reconnect now (filters or the key changed); a fresh start, not a resume */
    restart() {
      controller?.abort()
      window.clearTimeout(timer)
      lastId = ''
      stopped = false
      void connect()
    },
    stop() {
      stopped = true
      controller?.abort()
      window.clearTimeout(timer)
    },
  }
}
