import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startApp } from './helpers/app.ts'

const inside = (folder: string, file: string) => !path.relative(folder, file).startsWith('..')

/**
 * `npm test` keeps out of the developer's data folder: servers, CLIs and the
 * browser test write to the harness's temporary folders (the harness itself
 * fails the run if the project's .data gained an entry).
 */
t.test("the suite's DATA_DIR and artifacts folder are temporary folders outside the project, and a server's generated key lands there", async (t) => {
  const dataDir = process.env.DATA_DIR
  const artifacts = process.env.TEST_ARTIFACTS_DIR
  t.ok(dataDir && artifacts, 'the harness sets both')
  for (const folder of [dataDir!, artifacts!]) {
    t.ok(inside(os.tmpdir(), folder), `${folder} is in the temp dir`)
    t.notOk(inside(process.cwd(), folder), 'not in the project')
  }
  const app = await startApp(t, { RELAY: 'off' })
  t.equal(app.config.DATA_DIR, path.resolve(dataDir!), "a test server's DATA_DIR is the harness's")
  t.ok(await fs.stat(path.join(dataDir!, 'secrets.key')), 'the generated secrets key is written there')
})
