import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startApp } from './helpers/app.ts'
import { freePort } from './helpers/net.ts'
import { waitFor } from './helpers/wait.ts'

/**
 * The receiver SDK as a plugin author gets it: built (`npm run build`), packed
 * (`npm pack ./sdk`), installed from the tarball into an empty project with no
 * network, imported from plain JavaScript on Node without a TypeScript loader,
 * type-checked from a TypeScript project, and verifying real deliveries of a
 * running server.
 */

const ROOT = process.cwd()
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc')

/** Runs a command as a person would (without the loader tap adds to NODE_OPTIONS). */
function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', command, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })))
}

async function ok(t: Test, command: string, args: string[], cwd: string): Promise<string> {
  const { code, output } = await run(command, args, cwd)
  if (code !== 0) t.comment(output)
  t.equal(code, 0, `${command} ${args.join(' ')}`)
  return output
}

/** An empty project of the author's, with the tarball installed offline. */
async function authorProject(t: Test, tarball: string, files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-sdk-author-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'my-plugin', version: '1.0.0', private: true, type: 'module' }, null, 2))
  for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text)
  await ok(t, 'npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], dir)
  const installed = await fs.readdir(path.join(dir, 'node_modules'))
  t.same(installed.filter((name) => !name.startsWith('.')), ['bettercallsold-plugins-sdk'], 'nothing but the SDK: it has no dependencies')
  return dir
}

const RECEIVER_JS = `import http from 'node:http'
import { verifyWebhook, WebhookVerificationError } from 'bettercallsold-plugins-sdk/receiver'

const secret = process.env.WEBHOOK_SECRET
http
  .createServer((request, response) => {
    const chunks = []
    request.on('data', (chunk) => chunks.push(chunk))
    request.on('end', () => {
      try {
        const event = verifyWebhook(secret, request.headers, Buffer.concat(chunks))
        console.log('verified', event.event, request.headers['webhook-id'])
        response.writeHead(204).end()
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error
        console.log('refused', error.reason)
        response.writeHead(400).end()
      }
    })
  })
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'))
`

const HANDLER_TS = `import { verifyWebhook, WebhookVerificationError, type BetterCallSoldEvent, type EventOf } from 'bettercallsold-plugins-sdk/receiver'

export function onProductCreated(event: EventOf<'product.created'>): string {
  return event.data.product_id
}

export function handle(secret: string, headers: Record<string, string>, rawBody: string): string {
  try {
    const event: BetterCallSoldEvent = verifyWebhook(secret, headers, rawBody)
    switch (event.event) {
      case 'product.created':
        return onProductCreated(event)
      case 'order.created':
        return event.data.order_id
      default:
        return event.event
    }
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason
    throw error
  }
}
`

const APP_TS = `import { InstallationAuth } from 'bettercallsold-plugins-sdk/auth'
import { isAppLifecycleEvent, type BetterCallSoldEvent } from 'bettercallsold-plugins-sdk/receiver'
import { StoreApiError, StoreClient, type StoreOperations } from 'bettercallsold-plugins-sdk/store'

export async function onEvent(event: BetterCallSoldEvent, auth: InstallationAuth): Promise<string> {
  if (isAppLifecycleEvent(event)) return event.data.installation_id
  if (event.event !== 'inventory.low') return event.event
  const store = new StoreClient({ apiUrl: 'http://127.0.0.1:3000', auth: auth.forInstallation('installation') })
  try {
    const product: StoreOperations['GET /api/products/{id}']['response'] = await store.products.get(event.data.product_id)
    return product.name
  } catch (error) {
    if (error instanceof StoreApiError) return error.code
    throw error
  }
}
`

const TSCONFIG = (typeRoots: string) =>
  JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, typeRoots: [typeRoots], types: ['node'] },
    include: ['*.ts'],
  })

let packing: Promise<{ tarball: string; files: string[] }> | undefined

/** `npm run build`, then `npm pack ./sdk`, once for the file. */
function sdkTarball(sub: Test): Promise<{ tarball: string; files: string[] }> {
  packing ??= (async () => {
    await ok(sub, 'npm', ['run', 'build'], ROOT)
    const packDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-sdk-pack-'))
    t.teardown(() => fs.rm(packDir, { recursive: true, force: true }))
    const packed = await ok(sub, 'npm', ['pack', './sdk', '--pack-destination', packDir, '--json', '--ignore-scripts'], ROOT)
    const [info] = JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string; files: { path: string }[] }[]
    return { tarball: path.join(packDir, info!.filename), files: info!.files.map((f) => f.path).sort() }
  })()
  return packing
}

t.test('the SDK builds, packs, installs offline into an empty project, and verifies a real delivery from plain JavaScript', async (t) => {
  const { tarball, files } = await sdkTarball(t)
  t.ok(files.includes('dist/receiver/index.js') && files.includes('dist/receiver/index.d.ts'), 'the tarball holds JavaScript and declarations')
  t.same(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'and no TypeScript source')

  // every SDK module built is exported, and every export points at a built file
  const sdk = JSON.parse(await fs.readFile('sdk/package.json', 'utf8'))
  t.same(sdk.dependencies ?? {}, {}, 'no runtime dependencies')
  for (const [subpath, target] of Object.entries(sdk.exports as Record<string, { types: string; import: string }>)) {
    for (const file of [target.types, target.import]) t.ok(files.includes(file.replace(/^\.\//, '')), `${subpath} → ${file} is packed`)
  }
  const root = JSON.parse(await fs.readFile('package.json', 'utf8'))
  t.same(root.exports['./receiver'], { types: './sdk/dist/receiver/index.d.ts', import: './sdk/dist/receiver/index.js' }, "this package's own export points at the build")

  const project = await authorProject(t, tarball, { 'receiver.mjs': RECEIVER_JS })

  // a running server delivers to the author's receiver
  const app = await startApp(t, { SECRET_ROTATION_GRACE_MS: '0' })
  const port = await freePort()
  const registered = await app.request('POST', '/api/plugins', {
    name: 'My plugin',
    slug: 'my-plugin',
    webhook_url: `http://127.0.0.1:${port}/hook`,
    events: ['product.created'],
  })
  t.equal(registered.status, 201)
  const receiver = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, 'receiver.mjs'], {
    cwd: project,
    env: { ...process.env, PORT: String(port), WEBHOOK_SECRET: registered.body.secret },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => receiver.kill('SIGKILL'))
  let output = ''
  receiver.stdout.on('data', (chunk) => (output += chunk))
  receiver.stderr.on('data', (chunk) => (output += chunk))
  await waitFor(() => output.includes('listening'), { message: `the receiver starts: ${output}` })

  const tested = await app.request('POST', '/api/plugins/my-plugin/test')
  t.match(tested.body, { success: true, status_code: 204 }, 'the connectivity test is verified by the SDK')
  const product = await app.request('POST', '/api/products', { name: 'Lamp', price: 20 })
  t.equal(product.status, 201)
  await waitFor(() => /verified product\.created dlv_\d+/.test(output), { message: `product.created verified: ${output}` })
  t.match(output, /verified plugin\.test /)

  // signed with a secret the receiver does not hold (rotated, no grace window): refused by the same code
  const rotated = await app.request('POST', '/api/plugins/my-plugin/secret/rotate')
  t.equal(rotated.status, 200)
  const forged = await app.request('POST', '/api/plugins/my-plugin/test')
  t.match(forged.body, { success: false, status_code: 400 }, 'a delivery the SDK cannot verify is refused')
  t.match(output, /refused no_matching_signature/)
})

t.test('a TypeScript project type-checks against the installed declarations, and a type error in it is caught', async (t) => {
  const { tarball } = await sdkTarball(t)
  const project = await authorProject(t, tarball, {
    'handler.ts': HANDLER_TS,
    'app.ts': APP_TS,
    'broken.ts': HANDLER_TS.replace('return event.data.order_id', 'return event.data.product_id'),
    'tsconfig.json': TSCONFIG(path.join(ROOT, 'node_modules/@types')),
  })
  // one tsc run over both: the real check must pass the right file and catch the wrong one
  const checked = await run(process.execPath, [TSC, '-p', '.'], project)
  const errors = checked.output.split('\n').filter((line) => /error TS/.test(line))
  t.same(errors.filter((line) => !line.startsWith('broken.ts')), [], 'handler.ts and app.ts (./auth, ./store) type-check against the installed declarations')
  t.equal(errors.length, 1, `exactly one error: ${checked.output}`)
  t.match(errors[0], /^broken\.ts.*Property 'product_id' does not exist/, 'the field order.created does not have')
})
