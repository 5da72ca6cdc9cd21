import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import { startApp } from './helpers/app.ts'
import { waitFor } from './helpers/wait.ts'

/**
 * Issue 20: nothing a receiver answers may stop or slow delivery for anyone else.
 * One table of hostile receivers, each a plugin of its own, all beside one well-
 * behaved plugin on the same relay; every outcome must be recorded in a form the
 * database stores, and the good plugin must get its webhook exactly once (a
 * poisoned outcome batch used to hold every slot until the leases ran out, and
 * then the same relay POSTed the same deliveries again).
 */
type Answer = (res: http.ServerResponse) => void
interface Case {
  slug: string
  answer: Answer
  retry_policy: Record<string, unknown>
  /** what the recorded delivery must look like */
  expect: (row: Row) => void
}
interface Row {
  status: string
  attempts: number
  last_status_code: number | null
  last_error: string | null
  /** seconds from the outcome's recording to the next attempt */
  wait_s: number | null
}

const once = { max_retries: 0 }
// one retry, a minute later: a Retry-After that means "now" must not bring it forward
const inAMinute = { schedule_seconds: [60] }

function respond(status: number, body: string | Buffer = '', headers: Record<string, string> = {}): Answer {
  return (res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers })
    res.end(body)
  }
}

let tt: Pick<typeof t, 'equal' | 'ok' | 'match' | 'notOk'>
const cases: Case[] = [
  {
    slug: 'nul-in-error-body',
    answer: respond(500, 'oops\u0000binary'),
    retry_policy: once,
    expect: (r) => {
      tt.equal(r.status, 'failed')
      tt.equal(r.last_error, 'HTTP 500: oops\uFFFDbinary', 'the NUL is replaced, the rest kept')
    },
  },
  {
    slug: 'invalid-utf8-body',
    answer: respond(500, Buffer.from([0x6f, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0xed, 0xa0, 0x80])),
    retry_policy: once,
    expect: (r) => {
      tt.equal(r.status, 'failed')
      tt.match(r.last_error, /^HTTP 500: o/)
      tt.notOk(r.last_error!.includes('\u0000'))
    },
  },
  {
    slug: 'huge-error-body',
    answer: respond(500, 'x'.repeat(3 * 1024 * 1024)),
    retry_policy: once,
    expect: (r) => {
      tt.equal(r.status, 'failed')
      tt.ok(r.last_error!.length <= 1024, `an excerpt is kept (${r.last_error!.length} chars)`)
    },
  },
  {
    slug: 'endless-body',
    answer: (res) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      const chunk = Buffer.alloc(16 * 1024, 'z')
      let open = true
      res.on('close', () => (open = false))
      const pump = () => {
        while (open && res.write(chunk));
        if (open) res.once('drain', pump)
      }
      pump()
    },
    retry_policy: once,
    expect: (r) => {
      tt.equal(r.status, 'failed')
      tt.equal(r.last_status_code, 500)
    },
  },
  {
    slug: 'nul-in-ok-body',
    answer: respond(200, '\u0000\u0000'),
    retry_policy: once,
    expect: (r) => {
      tt.equal(r.status, 'sent')
      tt.equal(r.last_error, null)
    },
  },
  {
    slug: 'header-overflow',
    answer: respond(500, '', { 'x-absurd': 'a'.repeat(64 * 1024) }),
    retry_policy: once,
    expect: (r) => {
      tt.equal(r.status, 'failed')
      tt.ok(r.last_error, `the transport error is on record: ${r.last_error}`)
    },
  },
  {
    slug: 'status-999',
    answer: respond(999, 'odd'),
    retry_policy: once,
    expect: (r) => {
      tt.equal(r.status, 'failed')
      tt.equal(r.last_status_code, 999)
    },
  },
  ...['-1', '1.5', '0x10', '1e3', '+5', 'soon', 'Sun, 06 Nov 1994 08:49:37 GMT', '2000-01-01'].map(
    (value, n): Case => ({
      slug: `retry-after-malformed-${n}`,
      answer: respond(n % 2 ? 429 : 503, '', { 'retry-after': value }),
      retry_policy: inAMinute,
      expect: (r) => {
        tt.equal(r.status, 'retry', `Retry-After: ${value}`)
        tt.equal(r.attempts, 1, `Retry-After: ${value} is not "retry now"`)
        tt.ok(r.wait_s! >= 50, `Retry-After: ${value}: the next attempt keeps the plugin's schedule (${r.wait_s} s)`)
      },
    }),
  ),
  {
    slug: 'retry-after-huge',
    answer: respond(503, '', { 'retry-after': '99999999999999999999' }),
    retry_policy: inAMinute,
    expect: (r) => {
      tt.equal(r.status, 'retry')
      tt.ok(r.wait_s! >= 50 && r.wait_s! <= 3600 + 5, `cut to RETRY_AFTER_MAX_MS (${r.wait_s} s)`)
    },
  },
]

t.test('hostile receivers: every outcome is recorded, and the good plugin is served once', async (t) => {
  tt = t
  const hits = new Map<string, number>()
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const slug = (req.url ?? '').slice(1)
      hits.set(slug, (hits.get(slug) ?? 0) + 1)
      const hostile = cases.find((c) => c.slug === slug)
      if (hostile) hostile.answer(res)
      else respond(200, 'ok')(res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const app = await startApp(t)
  for (const c of [...cases, { slug: 'good', retry_policy: once }]) {
    const res = await app.request('POST', '/api/plugins', {
      name: c.slug, slug: c.slug, webhook_url: `${base}/${c.slug}`, events: ['product.created'], retry_policy: c.retry_policy,
    })
    t.equal(res.status, 201, `registered ${c.slug}`)
  }
  t.equal((await app.request('POST', '/api/products', { name: 'Bait' })).status, 201)

  const rows = await waitFor(
    async () => {
      const { rows } = await sql<Row & { slug: string }>`
        select p.slug, d.status, d.attempts, d.last_status_code, d.last_error,
               case when d.status = 'retry' then extract(epoch from d.next_attempt_at - d.updated_at)::float8 end as wait_s
          from deliveries d join plugins p on p.id = d.plugin_id
      `.execute(app.database.db)
      return rows.length === cases.length + 1 && rows.every((r) => r.attempts > 0 && r.status !== 'pending') ? rows : undefined
    },
    { timeoutMs: 20_000, message: 'every delivery has its first outcome recorded' },
  )
  const good = rows.find((r) => r.slug === 'good')!
  t.equal(good.status, 'sent')
  t.equal(good.attempts, 1)
  for (const c of cases) {
    t.test(c.slug, async (t) => {
      tt = t
      c.expect(rows.find((r) => r.slug === c.slug)!)
      t.equal(hits.get(c.slug), 1, 'the receiver got exactly one POST')
    })
  }
  // nothing is delivered twice: the relay's slots were all freed, no lease had to run out
  await app.relay!.stop()
  t.equal(hits.get('good'), 1, 'the good receiver got its webhook once')
  const attempts = await sql<{ n: number }>`select count(*)::int as n from delivery_attempts`.execute(app.database.db)
  t.equal(attempts.rows[0]!.n, cases.length + 1, 'one attempt on record per delivery')
})
