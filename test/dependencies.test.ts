import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import t from 'tap'

// fastify's own dependency, so always installed
const semver = createRequire(import.meta.url)('semver') as { satisfies(version: string, range: string): boolean; minVersion(range: string): { version: string } | null }

/**
 * Every installed package supports the Node.js this project claims: what `npm ci`
 * would warn about as EBADENGINE (.ci/run fails on that warning too), checked
 * from the lockfile against the oldest release of each line we claim
 * (package.json engines) and the one running.
 */
t.test('every package in the lockfile supports the oldest Node.js of each line package.json engines claims, and the one running', async (t) => {
  const pkg = JSON.parse(await fs.readFile('package.json', 'utf8'))
  const lock = JSON.parse(await fs.readFile('package-lock.json', 'utf8')) as {
    packages: Record<string, { version?: string; engines?: { node?: string } | string[]; os?: string[]; cpu?: string[] }>
  }
  const claimed = (pkg.engines.node as string).split('||').map((range) => semver.minVersion(range)!.version)
  t.same(claimed.map((v) => v.split('.')[0]), ['20', '22'], 'we claim Node 20 and 22 on')
  t.ok(semver.satisfies(process.version, pkg.engines.node), `the running ${process.version} is one of them`)
  const installable = Object.entries(lock.packages).filter(
    ([name, entry]) => name.startsWith('node_modules/') && (!entry.os || entry.os.includes(process.platform)) && (!entry.cpu || entry.cpu.includes(process.arch)),
  )
  t.ok(installable.length > 100, `${installable.length} packages checked`)
  const refusing = installable
    .filter(([, entry]) => !Array.isArray(entry.engines) && entry.engines?.node)
    .filter(([, entry]) => {
      const range = (entry.engines as { node: string }).node
      return [...claimed, process.version].some((version) => !semver.satisfies(version, range))
    })
    .map(([name, entry]) => `${name.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${(entry.engines as { node: string }).node}`)
  t.same(refusing, [], 'none refuses any of them')
})

t.test('the install scripts npm runs are the reviewed ones (allowScripts), so npm has nothing to warn about', async (t) => {
  const pkg = JSON.parse(await fs.readFile('package.json', 'utf8'))
  const lock = JSON.parse(await fs.readFile('package-lock.json', 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> }
  const withScripts = Object.entries(lock.packages)
    .filter(([name, entry]) => name.startsWith('node_modules/') && entry.hasInstallScript)
    .map(([name]) => name.replace(/^.*node_modules\//, ''))
  t.ok(withScripts.includes('esbuild'), 'the lockfile records install scripts')
  t.same(withScripts.filter((name) => pkg.allowScripts?.[name] !== true), [], 'each is approved in package.json allowScripts')
})
