import {existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {EVENT_LOOP_RESOLUTION_MS} from '../../src/telemetry/client-health.js'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BenchJson} from '../../src/commands/bench.js'
import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {readResultFile} from '../../src/results/read.js'
import {tinyModelWorkdir} from '../helpers/tiny-models.js'

/**
 * `capplan bench --engine llamacpp --synthetic` end to end (node bin/run.js after `npm run build`) against a
 * REAL llama-server (capplan's own build, found like the command finds it) serving the tiny synthesized model.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) console.warn('SKIPPED bench-llamacpp: no llama-server binary (run `capplan engine build` or set CAPPLAN_LLAMA_BIN_DIR).')

/** Live llama-server processes listening on `port` (from /proc: cmdline args are NUL-separated). */
function llamaServersOnPort(port: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let args: string[]
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
    } catch {
      continue
    }
    const portAt = args.indexOf('--port')
    if (args[0]?.endsWith('llama-server') && portAt !== -1 && args[portAt + 1] === port) pids.push(Number(entry))
  }
  return pids
}

describe.skipIf(serverBin === null)('capplan bench --engine llamacpp on a tiny synthetic model', () => {
  let work: string
  let env: Record<string, string>

  beforeAll(() => {
    ;({work, env} = tinyModelWorkdir('capplan-bench-llamacpp-', serverBin))
  })

  afterAll(() => rmSync(work, {recursive: true, force: true}))

  it('writes a llamacpp result file with usage-exact output tokens, /metrics deltas and the server log beside it; no server remains', async () => {
    const results = path.join(work, 'results')
    const run = await execa(
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
        '3',
        '--input-tokens',
        '32',
        '--output-tokens',
        '16',
        '--results-dir',
        results,
        '--json',
      ],
      {cwd: work, env, reject: false},
    )
    expect(run.exitCode, run.stderr).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    const file = await readResultFile(payload.results[0]!.file)
    expect(file.status).toBe('complete')
    expect(file.engine.kind).toBe('llamacpp')
    expect(file.engine.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(file.engine.args).toEqual(expect.arrayContaining(['--metrics', '-np', '2']))
    expect(file.model).toMatchObject({profile: 'tiny-qwen2', quant: 'int4', format: 'Q4_0', synthetic: true})
    expect(file.levels.map((level) => level.load)).toEqual([
      {kind: 'concurrency', value: 1},
      {kind: 'concurrency', value: 2},
    ])
    for (const level of file.levels) {
      expect(level.requests).toHaveLength(3)
      for (const request of level.requests) {
        expect(request.error).toBeNull()
        // From the server's usage: exactly --output-tokens with ignore_eos; the prompt is 32 token ids as sent.
        expect(request.outputTokens).toBe(16)
        expect(request.inputTokens).toBe(32)
      }
      // /metrics scraped around the level: 3 requests x 16 tokens = 48 predicted tokens in the window.
      expect(level.serverMetrics).not.toBeNull()
      expect(level.serverMetrics!.source).toBe('llamacpp')
      expect(level.serverMetrics!.deltas['llamacpp:tokens_predicted_total']).toBe(48)
      // capplan's own health over the level: the 10 ms event-loop monitor ran during it, GC pauses were watched.
      // A level shorter than two monitor periods (3 tiny requests on a quiet machine) may hold no sample: null, not 0.
      const windowMs = level.window.endMs - level.window.startMs
      if (windowMs >= 2 * EVENT_LOOP_RESOLUTION_MS) expect(level.clientHealth?.eventLoopDelayMs?.count).toBeGreaterThan(0)
      else expect(level.clientHealth?.eventLoopDelayMs === null || level.clientHealth!.eventLoopDelayMs!.count > 0).toBe(true)
      expect(level.clientHealth?.gcPauseMs).not.toBeNull()
    }
    // The server log is kept beside the result file under the same name.
    const log = payload.results[0]!.file.replace(/\.json$/, '.server.log')
    expect(existsSync(log)).toBe(true)
    expect(readFileSync(log, 'utf8')).toMatch(/server|llama/i)
    expect(readdirSync(results).sort()).toEqual([path.basename(payload.results[0]!.file), path.basename(log)].sort())
    // The server is gone once the command ends.
    const port = file.engine.args[file.engine.args.indexOf('--port') + 1]!
    expect(llamaServersOnPort(port)).toEqual([])
  })

  it('on Ctrl-C in the middle of a level: the server is gone, the file is "interrupted" with every finished request, exit 130', async () => {
    const results = path.join(work, 'results-sigint')
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
        '64',
        '--results-dir',
        results,
      ],
      {cwd: work, env, reject: false},
    )
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline && !(existsSync(results) && readdirSync(results).some((name) => name.endsWith('.json')))) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    // Find the server while it runs (its port comes from the result file's engine args).
    const [name] = readdirSync(results).filter((entry) => entry.endsWith('.json'))
    const running = await readResultFile(path.join(results, name!))
    const port = running.engine.args[running.engine.args.indexOf('--port') + 1]!
    expect(llamaServersOnPort(port)).toHaveLength(1)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    child.kill('SIGINT')
    const run = await child
    expect(run.exitCode).toBe(130)
    expect(run.stderr).toMatch(/Interrupted/)
    expect(llamaServersOnPort(port)).toEqual([])
    const file = await readResultFile(path.join(results, name!))
    expect(file.status).toBe('interrupted')
    expect(file.levels).toHaveLength(1)
    expect(file.levels[0]!.status).toBe('partial')
    expect(file.levels[0]!.requests.length).toBeGreaterThan(0)
    for (const request of file.levels[0]!.requests) {
      expect(request.error).toBeNull()
      expect(request.outputTokens).toBe(64)
    }
    expect(existsSync(path.join(results, name!.replace(/\.json$/, '.server.log')))).toBe(true)
  })
})
