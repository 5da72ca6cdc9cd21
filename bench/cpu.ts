import fs from 'node:fs/promises'
import pg from 'pg'

/**
 * CPU time per process, from /proc (Linux). On a machine of 2 shared cores the
 * throughput of a drain depends on who else runs; the CPU each delivery costs the
 * relay, the sink and PostgreSQL does much less, and says where the time goes.
 */
const TICKS_PER_SECOND = 100 // USER_HZ: 100 on every Linux that matters (getconf CLK_TCK)

async function stat(pid: number): Promise<string[] | null> {
  const text = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  if (!text) return null
  // the command name, in parentheses, may hold spaces: fields count from after it
  return text.slice(text.lastIndexOf(')') + 2).split(' ')
}

/** user + system CPU of a live process, ms; with `children`, also that of its children that have exited. */
export async function cpuMs(pid: number, children = false): Promise<number> {
  const fields = await stat(pid)
  if (!fields) return 0
  // after the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17), 1-based as in proc(5)
  const at = (n: number) => Number(fields[n - 3])
  const ticks = at(14) + at(15) + (children ? at(16) + at(17) : 0)
  return (ticks * 1000) / TICKS_PER_SECOND
}

/** The postmaster's pid: the parent of the backend serving this connection. */
export async function postmasterPid(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const backend = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid
    const fields = await stat(backend)
    if (!fields) throw new Error('PostgreSQL runs on another machine: its CPU cannot be read')
    return Number(fields[1])
  } finally {
    await client.end()
  }
}

/** CPU of the whole server, ms: the postmaster, its live processes, and those that have exited. */
export async function postgresCpuMs(postmaster: number): Promise<number> {
  let total = await cpuMs(postmaster, true)
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const fields = await stat(Number(entry))
    if (fields && Number(fields[1]) === postmaster) total += await cpuMs(Number(entry))
  }
  return total
}
