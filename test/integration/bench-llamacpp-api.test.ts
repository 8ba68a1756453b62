import {rmSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BenchJson} from '../../src/commands/bench.js'
import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {readResultFile} from '../../src/results/read.js'
import {DescendantWatcher, listeningAddresses, waitFor} from '../helpers/proc.js'
import {tinyModelWorkdir} from '../helpers/tiny-models.js'

/**
 * `capplan bench --engine llamacpp --api v1-completions` and `--host` against the REAL llama-server (capplan's
 * own build) serving the tiny synthesized model, run as `node bin/run.js` (needs `npm run build`). While
 * capplan runs, the test finds its llama-server among capplan's descendants (/proc) and reads the address
 * it listens on from /proc/net/tcp.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) console.warn('SKIPPED bench-llamacpp-api: no llama-server binary (run `capplan engine build` or set CAPPLAN_LLAMA_BIN_DIR).')

describe.skipIf(serverBin === null)('capplan bench --engine llamacpp: --api v1-completions and --host', () => {
  let work: string
  let env: Record<string, string>

  beforeAll(() => {
    ;({work, env} = tinyModelWorkdir('capplan-bench-api-', serverBin))
  })
  afterAll(() => rmSync(work, {recursive: true, force: true}))

  /** Runs capplan bench; meanwhile records the addresses its llama-server listens on. */
  async function benchWatched(args: string[], results: string) {
    const child = execa(
      'node',
      [bin, 'bench', '--engine', 'llamacpp', '--synthetic', '--model', 'tiny-qwen2', '--threads', '1', '--results-dir', results, '--json', ...args],
      {cwd: work, env, reject: false},
    )
    const watcher = new DescendantWatcher(child.pid!)
    const listening = new Map<number, string[]>()
    const sampler = setInterval(() => {
      for (const pid of watcher.servers()) {
        const args = watcher.seen.get(pid)!
        const port = Number(args[args.indexOf('--port') + 1])
        const addresses = listeningAddresses(port)
        if (addresses.length > 0) listening.set(port, addresses)
      }
    }, 50)
    const run = await child
    clearInterval(sampler)
    watcher.stop()
    return {run, watcher, listening}
  }

  it("--api v1-completions: exact output lengths from the usage, /metrics delta = the client's count, the API in the notes; bound to 127.0.0.1 only", async () => {
    const results = path.join(work, 'results-v1')
    const {run, watcher, listening} = await benchWatched(
      ['--api', 'v1-completions', '--concurrency', '1,2', '--requests', '3', '--input-tokens', '32', '--output-tokens', '16'],
      results,
    )
    expect(run.exitCode, run.stderr).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    const file = await readResultFile(payload.results[0]!.file)
    expect(file.status).toBe('complete')
    expect(file.notes).toContain('requests sent to POST /v1/completions (--api v1-completions)')
    expect(file.levels).toHaveLength(2)
    for (const level of file.levels) {
      expect(level.requests).toHaveLength(3)
      for (const request of level.requests) {
        expect(request.error).toBeNull()
        // The server's usage (OpenAI shape, on the finishing chunk) says exactly --output-tokens.
        expect(request.outputTokens).toBe(16)
        expect(request.inputTokens).toBe(32)
        // OpenAI chunks do not say how many tokens they hold: llama-server holds back a token that ends in an
        // incomplete UTF-8 sequence and sends it with the next, so the chunk count may be lower (never higher).
        expect(request.countedTokens).toBeGreaterThan(0)
        expect(request.countedTokens).toBeLessThanOrEqual(16)
      }
      // ... and the summary flags every such request instead of trusting the chunks.
      expect(level.summary.tokenMismatches).toBe(level.requests.filter((request) => request.countedTokens !== request.outputTokens).length)
      const clientCount = level.requests.reduce((sum, request) => sum + request.outputTokens, 0)
      expect(clientCount).toBe(48) // 3 requests x 16 tokens
      expect(level.serverMetrics!.deltas['llamacpp:tokens_predicted_total']).toBe(clientCount)
    }
    // One llama-server, seen listening on its port at 127.0.0.1 (0100007F) and nowhere else; gone now.
    expect(watcher.servers()).toHaveLength(1)
    const port = Number(file.engine.args[file.engine.args.indexOf('--port') + 1])
    expect(listening.get(port)).toEqual(['0100007F'])
    expect(watcher.survivors()).toEqual([])
  })

  it('--host 0.0.0.0: warns that the server is reachable, it listens on every interface (00000000), capplan connects to 127.0.0.1', async () => {
    const results = path.join(work, 'results-host')
    const {run, watcher, listening} = await benchWatched(
      ['--host', '0.0.0.0', '--concurrency', '1', '--requests', '2', '--input-tokens', '16', '--output-tokens', '64'],
      results,
    )
    expect(run.exitCode, run.stderr).toBe(0)
    expect(run.stderr.replace(/\s*\n\s*/g, ' ')).toMatch(/--host 0\.0\.0\.0: the llama-server server capplan starts will be reachable from the network/)
    const file = await readResultFile((JSON.parse(run.stdout) as BenchJson).results[0]!.file)
    const port = Number(file.engine.args[file.engine.args.indexOf('--port') + 1])
    expect(file.engine.args[file.engine.args.indexOf('--host') + 1]).toBe('0.0.0.0')
    expect(file.engine.endpoint).toBe(`http://127.0.0.1:${port}`)
    expect(listening.get(port)).toEqual(['00000000'])
    expect(file.levels[0]!.requests.every((request) => request.error === null && request.outputTokens === 64)).toBe(true)
    expect(await waitFor(() => watcher.survivors().length === 0, 5000)).toBe(true)
  })
})
