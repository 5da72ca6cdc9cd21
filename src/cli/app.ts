import { parseArgs } from 'node:util'
import { StoreApiError } from '../store-api/errors.ts'
import { runDev } from './app-dev.ts'
import { initApp } from './app-init.ts'
import { checkManifestLocally, describeRefusal, ManifestError, publishApp, readManifest } from './app-publish.ts'

const USAGE = `Usage: bin/app <command>

  init <dir> [--slug <slug>] [--name <name>] [--port <port>]
      Creates <dir> with app.json (a manifest that passes every check; its
      webhook_url is http://127.0.0.1:<port>/webhooks, 4000 unless told) and
      handler.mjs (what bin/app dev runs for each event).
  publish [<dir>] [--api <url>]
      Checks <dir>/app.json with the server's own manifest checks, then creates the
      app (its credentials go to <dir>/.credentials.json) or publishes a new version.
      Needs BCS_DEVELOPER_KEY (bin/admin developers create).
  dev [<dir>] [--port <port>] [--api <url>]
      Runs <dir>/handler.mjs behind a receiver that verifies each delivery with the
      app's signing secret and prints it; listens where webhook_url points.

<dir> is the current folder unless given. The API is --api, else BCS_API_URL,
else http://127.0.0.1:3000. See docs/apps.md.`

class UsageError extends Error {}

function port(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--port must be a port number, got ${JSON.stringify(value)}`)
  return n
}

export async function main(args = process.argv.slice(2)): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { slug: { type: 'string' }, name: { type: 'string' }, port: { type: 'string' }, api: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const [command, dir = '.'] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return values.help ? 0 : 2
  }
  const apiUrl = values.api ?? process.env.BCS_API_URL ?? 'http://127.0.0.1:3000'
  try {
    switch (command) {
      case 'init':
        if (!positionals[1]) throw new UsageError('init needs the folder to create: bin/app init <dir>')
        console.log(await initApp(dir, { slug: values.slug, name: values.name, port: port(values.port) ?? 4000 }))
        return 0
      case 'publish': {
        // the manifest first: a mistake in it is found without a key or a server
        checkManifestLocally(await readManifest(dir))
        const developerKey = process.env.BCS_DEVELOPER_KEY
        if (!developerKey) throw new UsageError('set BCS_DEVELOPER_KEY to your developer key (bin/admin developers create prints it)')
        console.log(await publishApp(dir, { apiUrl, developerKey }))
        return 0
      }
      case 'dev': {
        const server = await runDev(dir, { port: port(values.port), apiUrl: values.api ?? process.env.BCS_API_URL })
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close(() => process.exit(0)))
        return -1
      }
      default:
        throw new UsageError(`unknown command '${command}'`)
    }
  } catch (error) {
    if (error instanceof UsageError) console.error(`${error.message}\n\n${USAGE}`)
    else if (error instanceof ManifestError) console.error(`app.json refused (${error.code}): ${error.message}`)
    else if (error instanceof StoreApiError) console.error(`the server refused: ${describeRefusal(error)}`)
    else console.error(error instanceof Error ? error.message : String(error))
    return error instanceof UsageError ? 2 : 1
  }
}
