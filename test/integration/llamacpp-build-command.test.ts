import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'

// `capplan engine build` as a user runs it (node bin/run.js, after `npm run build`), against the build
// that llamacpp-build.test.ts makes (or an earlier run left in the cache).

const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const built = await findLlamaCppTool('llama-bench')
const distReady = existsSync(fileURLToPath(new URL('../../dist/commands/engine/build.js', import.meta.url)))
if (!distReady) console.warn('engine build command tests skipped: dist/ is not built (run `npm run build`)')

describe.skipIf(!distReady)('capplan engine build', () => {
  it('refuses --cuda on without nvcc: exit 4 and a JSON error naming the flag', async () => {
    const emptyBin = mkdtempSync(join(tmpdir(), 'capplan-no-nvcc-'))
    try {
      const run = await execa(process.execPath, [bin, 'engine', 'build', 'llama-bench', '--cuda', 'on', '--json'], {
        reject: false,
        env: {PATH: emptyBin, CAPPLAN_CACHE_DIR: emptyBin},
        extendEnv: false,
      })
      expect(run.exitCode).toBe(4)
      const payload = JSON.parse(run.stdout) as {error: {kind: string; message: string}}
      expect(payload.error.kind).toBe('NOT_FOUND')
      expect(payload.error.message).toContain('--cuda on')
      expect(payload.error.message).toContain('nvcc')
    } finally {
      rmSync(emptyBin, {recursive: true, force: true})
    }
  })

  it.skipIf(built === null)('reports an existing build without rebuilding (--json)', async () => {
    const run = await execa(process.execPath, [bin, 'engine', 'build', 'llama-bench', '--cuda', 'off', '--json'], {reject: false})
    expect(run.exitCode).toBe(0)
    const payload = JSON.parse(run.stdout) as {alreadyBuilt: boolean; backend: string; tools: Record<string, string>}
    expect(payload.alreadyBuilt).toBe(true)
    expect(payload.backend).toBe('cpu')
    expect(payload.tools['llama-bench']).toBe(built)
    expect(run.stderr).toBe('') // progress is silent under --json
  })
})
