import {existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BenchJson} from '../../src/commands/bench.js'
import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {readResultFile} from '../../src/results/read.js'
import {DescendantWatcher, waitFor} from '../helpers/proc.js'
import {tinyModelWorkdir} from '../helpers/tiny-models.js'

/**
 * A REAL llama-server killed (SIGKILL) in the middle of level 1 of `capplan bench --engine llamacpp` (node
 * bin/run.js; needs `npm run build`), with --on-error stop and continue. The test finds the server among
 * capplan's descendants (/proc ppid links), waits until it has finished at least two level-1 requests (its own
 * /metrics counter), kills it, and afterwards checks the result file and that no process capplan started is
 * alive.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) console.warn('SKIPPED server-death: no llama-server binary (run `capplan engine build` or set CAPPLAN_LLAMA_BIN_DIR).')

const OUTPUT_TOKENS = 256
const REQUESTS = 40
// Warmup: as many requests as the highest concurrency, of min(output, 8) tokens.
const warmupTokens = (concurrencies: number[]) => Math.max(...concurrencies) * 8

/**
 * llama-server's counters: generated tokens (finished requests only) and requests being processed now; null
 * while it does not answer.
 */
async function serverCounters(port: string): Promise<{predicted: number; processing: number} | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, {signal: AbortSignal.timeout(2000)})).text()
    const predicted = text.match(/^llamacpp:tokens_predicted_total\s+(\S+)/m)
    const processing = text.match(/^llamacpp:requests_processing\s+(\S+)/m)
    return predicted === null || processing === null ? null : {predicted: Number(predicted[1]), processing: Number(processing[1])}
  } catch {
    return null
  }
}

/** Requests a llama-server log shows it started in a slot ("launch_slot_ ... processing task"), in order. */
function launchedTasks(logFile: string): number {
  return (readFileSync(logFile, 'utf8').match(/launch_slot_: .*processing task/g) ?? []).length
}

describe.skipIf(serverBin === null)('a llama-server that dies in the middle of a level', () => {
  let work: string
  let env: Record<string, string>
  let continuedFile: string | null = null

  beforeAll(() => {
    ;({work, env} = tinyModelWorkdir('capplan-server-death-', serverBin))
  })
  afterAll(() => rmSync(work, {recursive: true, force: true}))

  /** Bench at `concurrencies`; kill the server mid-level 1 once 2 requests finished and `inFlight` are being processed. */
  async function benchAndKill(onError: 'stop' | 'continue', concurrencies = [1, 2], inFlight = 1) {
    const results = path.join(work, `results-${onError}-${concurrencies.join('-')}`)
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
        concurrencies.join(','),
        '--requests',
        String(REQUESTS),
        '--input-tokens',
        '16',
        '--output-tokens',
        String(OUTPUT_TOKENS),
        '--on-error',
        onError,
        '--results-dir',
        results,
        '--json',
      ],
      {cwd: work, env, reject: false},
    )
    const watcher = new DescendantWatcher(child.pid!)
    try {
      // The result file exists from before the warmup; its engine args hold the server's port.
      const name = await waitFor(() => existsSync(results) && readdirSync(results).find((entry) => entry.endsWith('.json')), 120_000)
      expect(name, 'the result file never appeared').not.toBeNull()
      const running = await readResultFile(path.join(results, name!))
      const port = running.engine.args[running.engine.args.indexOf('--port') + 1]!
      // The server itself (capplan also runs the binary for --help / --version / --list-devices first).
      const server = await waitFor(() => watcher.servers().find((pid) => watcher.seen.get(pid)!.includes(port)), 10_000)
      expect(server).not.toBeNull()
      // Two level-1 requests done (the warmup's tokens + 2 x OUTPUT_TOKENS) and `inFlight` running, then the kill:
      // mid-level 1.
      const warmup = warmupTokens(concurrencies)
      let counters: {predicted: number; processing: number} | null = null
      const deadline = Date.now() + 120_000
      while (Date.now() < deadline) {
        counters = await serverCounters(port)
        if (counters !== null && counters.predicted >= warmup + 2 * OUTPUT_TOKENS && counters.processing >= inFlight) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(counters!.predicted).toBeGreaterThanOrEqual(warmup + 2 * OUTPUT_TOKENS)
      expect(counters!.processing).toBeGreaterThanOrEqual(inFlight)
      // Still in level 1: it has 40 x 256 tokens to generate.
      expect(counters!.predicted).toBeLessThan(warmup + REQUESTS * OUTPUT_TOKENS)
      process.kill(server!, 'SIGKILL')
      const run = await child
      watcher.poll()
      const resultPath = (JSON.parse(run.stdout) as BenchJson).results[0]!.file
      // Every request the killed server started in a slot during level 1 (its log, less the warmup's).
      const launchedInLevel1 = launchedTasks(resultPath.replace(/\.json$/, '.server.log')) - Math.max(...concurrencies)
      return {run, watcher, killed: server!, resultPath, file: await readResultFile(resultPath), launchedInLevel1}
    } finally {
      await watcher.endAll(child) // only does something if a failed expectation left capplan running
    }
  }

  function expectFailedLevel1(file: Awaited<ReturnType<typeof readResultFile>>, resultPath: string) {
    const level = file.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 1})
    expect(level.status).toBe('failed')
    const ok = level.requests.filter((request) => request.error === null)
    expect(ok.length).toBeGreaterThanOrEqual(2)
    expect(ok.length).toBeLessThan(REQUESTS)
    for (const request of ok) expect(request.outputTokens).toBe(OUTPUT_TOKENS)
    // The request the death broke (at most one at concurrency 1: the level stops before sending another) is
    // failed as an engine error naming the exit.
    const failed = level.requests.filter((r) => r.error !== null)
    expect(failed.length).toBeLessThanOrEqual(1)
    for (const request of failed) {
      expect(request.error!.kind).toBe('engine')
      expect(request.error!.message).toMatch(/^llama-server exited \(signal SIGKILL\): ./)
    }
    const note = file.notes.find((n) => n.startsWith('concurrency 1: llama-server exited (signal SIGKILL)'))
    expect(note, file.notes.join('\n')).toBeDefined()
    // The log named by its final name, beside the result file (bench moves it there when the run ends).
    expect(note).toContain(`(log: ${resultPath.replace(/\.json$/, '.server.log')}).`)
    expect(existsSync(resultPath.replace(/\.json$/, '.server.log'))).toBe(true)
    expect(note).toMatch(/Last log lines:\n./)
  }

  it('--on-error stop: level 1 is failed with its finished requests and the log tail, no level 2, exit 9, no process left', async () => {
    const {run, watcher, file, resultPath} = await benchAndKill('stop')
    expect(run.exitCode, run.stderr).toBe(9)
    expect(run.stderr).toMatch(/PARTIAL_RUN/)
    // --json: the payload carries the error object that says why the exit code is 9, naming the file.
    const {error} = JSON.parse(run.stdout) as {error?: {kind: string; exitCode: number; message: string}}
    expect(error).toMatchObject({kind: 'PARTIAL_RUN', exitCode: 9})
    expect(error!.message).toContain(resultPath)
    expectFailedLevel1(file, resultPath)
    expect(file.levels).toHaveLength(1)
    expect(file.status).toBe('failed')
    expect(watcher.servers()).toHaveLength(1)
    expect(await waitFor(() => watcher.survivors().length === 0, 5000), watcher.survivors().join('\n')).toBe(true)
  })

  it('concurrency 4, killed with 4 requests in flight: all 4 are recorded failed with the finished ones (recorded = sent)', async () => {
    const {run, file, resultPath, launchedInLevel1} = await benchAndKill('stop', [4], 4)
    expect(run.exitCode, run.stderr).toBe(9)
    const level = file.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 4})
    expect(level.status).toBe('failed')
    const ok = level.requests.filter((request) => request.error === null)
    const failed = level.requests.filter((request) => request.error !== null)
    expect(ok.length).toBeGreaterThanOrEqual(2)
    for (const request of ok) expect(request.outputTokens).toBe(OUTPUT_TOKENS)
    // The 4 in flight at the kill (a request sent after it, refused, would be a 5th failure).
    expect(failed.length, JSON.stringify(failed.map((request) => request.error))).toBeGreaterThanOrEqual(4)
    for (const request of failed) {
      expect(request.error!.kind).toBe('engine')
      expect(request.error!.message).toMatch(/^llama-server exited \(signal SIGKILL\): ./)
      // Cut off by the death, not by the user.
      expect(request.error!.message).not.toMatch(/interrupted|stopped by the caller/)
    }
    // Every request sent is in the file: indices 0..n-1 with no hole, and at least every one the server started.
    expect(level.requests.map((request) => request.index)).toEqual(Array.from({length: level.requests.length}, (_, i) => i))
    expect(level.requests.length).toBeGreaterThanOrEqual(launchedInLevel1)
    expect(level.requests.length).toBe(ok.length + failed.length)
    expect(level.summary.requests.failed).toBe(failed.length)
    expect(
      file.notes.some((note) =>
        note.startsWith(
          `concurrency 4: the engine died during this level, which ends as failed with the ${level.requests.length} request(s) it sent (${failed.length} failed)`,
        ),
      ),
    ).toBe(true)
    expect(existsSync(resultPath.replace(/\.json$/, '.server.log'))).toBe(true)
  })

  it('--on-error continue: the server is restarted and level 2 is complete, exit 9, no process left', async () => {
    const {run, watcher, killed, file, resultPath} = await benchAndKill('continue')
    continuedFile = resultPath
    expect(run.exitCode, run.stderr).toBe(9)
    expectFailedLevel1(file, resultPath)
    expect(file.levels).toHaveLength(2)
    const level2 = file.levels[1]!
    expect(level2.status).toBe('complete')
    expect(level2.requests).toHaveLength(REQUESTS)
    for (const request of level2.requests) {
      expect(request.error).toBeNull()
      expect(request.outputTokens).toBe(OUTPUT_TOKENS)
    }
    // The new server's /metrics start from zero: level 2's delta is its own 40 x 256 tokens.
    expect(level2.serverMetrics!.deltas['llamacpp:tokens_predicted_total']).toBe(REQUESTS * OUTPUT_TOKENS)
    expect(file.status).toBe('partial')
    expect(file.notes.some((note) => note.startsWith('engine restarted after its exit during concurrency 1 (--on-error continue)'))).toBe(true)
    // Two servers: the killed one and its replacement; both gone now.
    const servers = watcher.servers()
    expect(servers).toHaveLength(2)
    expect(servers).toContain(killed)
    expect(await waitFor(() => watcher.survivors().length === 0, 5000), watcher.survivors().join('\n')).toBe(true)
    // One server log beside the result file, holding both servers' runs.
    const log = readFileSync(resultPath.replace(/\.json$/, '.server.log'), 'utf8')
    expect(log.match(/^=== capplan /gm)).toHaveLength(2)
  })

  it('--resume of that file: a NEW file with level 2 copied as it was and level 1 measured again, the old file untouched', async () => {
    expect(continuedFile, 'needs the --on-error continue test before it').not.toBeNull()
    const before = readFileSync(continuedFile!, 'utf8')
    const old = await readResultFile(continuedFile!)
    const child = execa('node', [bin, 'bench', '--resume', continuedFile!, '--json'], {cwd: work, env, reject: false})
    const watcher = new DescendantWatcher(child.pid!)
    const run = await child
    watcher.stop()
    expect(run.exitCode, run.stderr).toBe(0)
    const resumedPath = (JSON.parse(run.stdout) as BenchJson).results[0]!.file
    expect(resumedPath).not.toBe(continuedFile)
    expect(path.dirname(resumedPath)).toBe(path.dirname(continuedFile!))
    expect(readFileSync(continuedFile!, 'utf8')).toBe(before)
    const resumed = await readResultFile(resumedPath)
    expect(resumed.status).toBe('complete')
    expect(resumed.notes).toContain(`resumed from ${continuedFile}: its complete level(s) concurrency 2 copied as measured there; the others measured again in this run`)
    expect(resumed.levels.map((level) => [level.load.value, level.status])).toEqual([
      [1, 'complete'],
      [2, 'complete'],
    ])
    expect(resumed.levels[1]).toEqual(old.levels[1])
    expect(resumed.levels[0]!.requests).toHaveLength(REQUESTS)
    for (const request of resumed.levels[0]!.requests) expect(request.outputTokens).toBe(OUTPUT_TOKENS)
    // The same model, quantization and workload as the file it resumes; only the missing level in the command.
    expect(resumed.model).toEqual(old.model)
    expect(resumed.workload).toEqual(old.workload)
    const {command} = resumed.capplan
    expect(command[command.indexOf('--concurrency') + 1]).toBe('1')
    expect(await waitFor(() => watcher.survivors().length === 0, 5000), watcher.survivors().join('\n')).toBe(true)
  })
})
