import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ENTRY = fileURLToPath(new URL('./client/main.ts', import.meta.url))

let bundled: Promise<string> | undefined

/**
 * The dashboard's script: its TypeScript bundled and minified in memory by
 * esbuild, once per process (about 20 ms), when the server starts. Nothing is
 * written to disk, so a fresh clone needs no build step.
 */
export function dashboardScript(): Promise<string> {
  bundled ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  })
    .then((result) => result.outputFiles[0]!.text)
    .catch((error: unknown) => {
      // not cached: the next start tries again
      bundled = undefined
      throw error
    })
  return bundled
}
