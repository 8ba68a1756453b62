import {chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {readResultFile} from '../../src/results/read.js'
import {DescendantWatcher, waitFor} from '../helpers/proc.js'
import {tinyModelWorkdir} from '../helpers/tiny-models.js'

/**
 * Ctrl-C / SIGTERM while llama-server is STARTING (`capplan bench --engine llamacpp --synthetic`, node bin/run.js;
 * needs `npm run build`): exit 130 as at any other moment, no process left, nothing left in --results-dir (no
 * hidden server log, no temp file; a result file only if something was measured). Before the fix: exit 8
 * ENGINE_FAILURE "llama-server exited before it was ready ... check the model file", and a hidden
 * .capplan-server-*.log left behind.
 *
 * 1. In the health wait for sure: --server-bin is a wrapper that sleeps 30 s before exec'ing the real
 *    llama-server when asked to serve (-m), so the signal lands while capplan waits for GET /health.
 * 2. The real llama-server, the signal sent as soon as its log shows it loading: it may land in the load or a
 *    moment later (the tiny model loads fast); either way the same rules hold.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) console.warn('SKIPPED interrupt-startup: no llama-server binary (run `capplan engine build` or set CAPPLAN_LLAMA_BIN_DIR).')

describe.skipIf(serverBin === null)('an interruption while llama-server starts', () => {
  let work: string
  let env: Record<string, string>
  let slowServer: string

  beforeAll(() => {
    ;({work, env} = tinyModelWorkdir('capplan-interrupt-startup-', serverBin))
    slowServer = path.join(work, 'slow-llama-server')
    writeFileSync(slowServer, `#!/bin/sh\ncase " $* " in *" -m "*) echo "slow-llama-server: loading" >&2; sleep 30 ;; esac\nexec ${serverBin} "$@"\n`)
    chmodSync(slowServer, 0o755)
  })
  afterAll(() => rmSync(work, {recursive: true, force: true}))

  /** The hidden server log bench writes into --results-dir until the result file exists. */
  const serverLogIn = (results: string) => (existsSync(results) ? readdirSync(results).find((name) => name.startsWith('.capplan-server-')) : undefined)

  async function benchAndInterrupt(name: string, extra: string[], signal: NodeJS.Signals, loading: RegExp) {
    const results = path.join(work, `results-${name}`)
    const child = execa(
      'node',
      [
        bin,
        'bench',
        '--engine',
        'llamacpp',
        '--synthetic',
        '--model',
        'tiny-qwen2',
        '--threads',
        '1',
        '--concurrency',
        '1,2',
        '--requests',
        '100000',
        '--input-tokens',
        '16',
        '--output-tokens',
        '256',
        '--results-dir',
        results,
        ...extra,
      ],
      {cwd: work, env, reject: false},
    )
    const watcher = new DescendantWatcher(child.pid!)
    try {
      // The server was spawned (its log exists) and says it is loading.
      const log = await waitFor(
        () => {
          const file = serverLogIn(results)
          return file !== undefined && loading.test(readFileSync(path.join(results, file), 'utf8')) ? file : null
        },
        120_000,
        10,
      )
      expect(log, 'the server never started loading').not.toBeNull()
      // The watcher polls on its own timer: let it see the server before the signal (CI once signalled first,
      // and the "seen serving" check below then failed with nothing wrong in capplan).
      await waitFor(
        () => {
          watcher.poll()
          return [...watcher.seen.values()].some((args) => args.some((arg) => arg.endsWith('llama-server')) && args.includes('--port')) ? true : null
        },
        5000,
        10,
      )
      const sentAt = Date.now()
      child.kill(signal)
      const run = await child
      watcher.poll()
      return {run, watcher, results, exitMs: Date.now() - sentAt}
    } finally {
      await watcher.endAll(child)
    }
  }

  function expectNothingLeft(run: {exitCode?: number | undefined; stderr: string}, watcher: DescendantWatcher) {
    expect(run.exitCode, run.stderr).toBe(130)
    expect(run.stderr).toMatch(/Interrupted/)
    expect(run.stderr).not.toMatch(/model file|ENGINE_FAILURE|exited before it was ready/)
    // The server (or the wrapper standing for it) was seen serving, and nothing capplan started is left.
    expect([...watcher.seen.values()].some((args) => args.some((arg) => arg.endsWith('llama-server')) && args.includes('--port'))).toBe(true)
    expect(watcher.survivors(), watcher.survivors().join('\n')).toEqual([])
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} in the health wait: exit 130, no process, nothing in --results-dir`, async () => {
      const {run, watcher, results, exitMs} = await benchAndInterrupt(`slow-${signal}`, ['--server-bin', slowServer], signal, /slow-llama-server: loading/)
      expectNothingLeft(run, watcher)
      expect(run.stderr).toMatch(/Nothing was measured yet/)
      // The wait ended at the signal, not when the wrapper would have started the server (30 s).
      expect(exitMs).toBeLessThan(15_000)
      expect(readdirSync(results)).toEqual([])
    })
  }

  it('SIGINT while the real llama-server loads: exit 130, no process, a result file only if something was measured', async () => {
    const {run, watcher, results} = await benchAndInterrupt('real', [], 'SIGINT', /llama_model_load|load_model|loading model/)
    expectNothingLeft(run, watcher)
    const left = readdirSync(results)
    const files = left.filter((entry) => entry.endsWith('.json'))
    if (files.length === 0) {
      expect(left).toEqual([])
      expect(run.stderr).toMatch(/Nothing was measured yet/)
    } else {
      // The load was quicker than the signal: a level was measured and is kept, with its server log beside it.
      expect(files).toHaveLength(1)
      expect(left.sort()).toEqual([files[0]!, files[0]!.replace(/\.json$/, '.server.log')].sort())
      const file = await readResultFile(path.join(results, files[0]!))
      expect(file.status).toBe('interrupted')
      expect(file.levels.length).toBeGreaterThan(0)
      expect(file.levels[0]!.requests.length).toBeGreaterThan(0)
    }
  })
})
