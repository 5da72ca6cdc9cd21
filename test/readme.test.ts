import t from 'tap'
import fs from 'node:fs/promises'
import { configTable } from '../src/cli/config-table.ts'

t.test('the README\'s configuration table is the one the config schema makes', async (t) => {
  const readme = await fs.readFile('README.md', 'utf8')
  const match = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme)
  t.ok(match, 'the README has the table markers')
  t.equal(match?.[1], configTable(), 'run `npm run docs:config` and paste its output between the markers')
})
