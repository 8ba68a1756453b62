import {readFileSync, rmSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BenchJson} from '../../src/commands/bench.js'
import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {traceIntendedCached} from '../../src/loadgen/shape.js'
import {parseTrace} from '../../src/loadgen/trace.js'
import {readResultFile} from '../../src/results/read.js'
import type {ResultFile} from '../../src/results/schema.js'
import {percentileSorted} from '../../src/stats/distribution.js'
import {tinyModelWorkdir} from '../helpers/tiny-models.js'

/**
 * Issue 15, part 2: shaped workloads against a REAL llama-server (capplan's build) serving the tiny synthesized
 * model, end to end through `capplan bench` (after `npm run build`). The numbers are printed for the record.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const traceFile = path.join(repo, 'test', 'fixtures', 'traces', 'synthetic-mooncake.jsonl')
const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) console.warn('SKIPPED workload-shapes: no llama-server binary (run `capplan engine build` or set CAPPLAN_LLAMA_BIN_DIR).')

const p50 = (values: number[]) =>
  percentileSorted(
    [...values].sort((a, b) => a - b),
    0.5,
  )

describe.skipIf(serverBin === null)('bench workload shapes on llama-server (tiny synthetic model)', () => {
  let work: string
  let env: Record<string, string>

  beforeAll(() => {
    ;({work, env} = tinyModelWorkdir('capplan-workload-', serverBin))
  })
  afterAll(() => rmSync(work, {recursive: true, force: true}))

  async function bench(name: string, args: string[], engine: string[] = ['--engine', 'llamacpp', '--synthetic', '--concurrency', '1']): Promise<ResultFile> {
    const run = await execa('node', [bin, 'bench', ...engine, '--model', 'tiny-qwen2', '--threads', '1', '--results-dir', path.join(work, name), '--json', ...args], {
      cwd: work,
      env,
      reject: false,
    })
    expect(run.exitCode, `${run.stderr}\n${run.stdout}`).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    return readResultFile(payload.results[0]!.file)
  }

  it('a 384-token shared prefix of 512-token prompts: TTFT p50 below the unique-prompt control, measured hit rate about 75%', async () => {
    const common = ['--requests', '8', '--input-tokens', '512', '--output-tokens', '4']
    const control = await bench('control', common)
    const shared = await bench('shared', [...common, '--prefix-tokens', '384', '--prefix-groups', '1'])
    expect(control.workload.shape).toBeUndefined()
    expect(shared.workload.shape).toMatchObject({promptCache: 'on', prefix: {tokens: 384, groups: 1}, input: {kind: 'fixed', tokens: 512}})
    const controlTtft = p50(control.levels[0]!.requests.map((r) => r.ttftMs!))
    const sharedTtft = p50(shared.levels[0]!.requests.map((r) => r.ttftMs!))
    const cache = shared.levels[0]!.cache!
    console.log(
      `shared prefix 384/512, 8 requests at c=1: TTFT p50 control ${controlTtft.toFixed(1)} ms, shared ${sharedTtft.toFixed(1)} ms (ratio ${(sharedTtft / controlTtft).toFixed(2)}); hit rate intended ${cache.intendedHitRate}, measured ${cache.measuredHitRate?.toFixed(4)} (${cache.cachedTokens}/${cache.promptTokens}, ${cache.source})`,
    )
    expect(shared.levels[0]!.requests.every((r) => r.inputTokens === 512 && typeof r.cachedTokens === 'number')).toBe(true)
    // The warmup drew the same prefix, so every measured request is a hit of exactly the 384 shared tokens.
    expect(cache.intendedHitRate).toBe(0.75)
    expect(cache.source).toBe('server-usage')
    expect(Math.abs(cache.measuredHitRate! - 0.75)).toBeLessThan(0.05)
    expect(sharedTtft).toBeLessThan(controlTtft * 0.8)
  })

  it('multi-turn sessions: TTFT grows with the turn when the cache is off, far less when it is on', async () => {
    // Six short turns, so the last turn's conversation (928 tokens) is almost six times what it prefills with
    // the cache on (160): the gap stays wide even where attention over the cached context dominates the tiny
    // model's prefill (both sides pay that part; only the off side pays the full prompt's weights and attention).
    const common = ['--requests', '24', '--turns', '6', '--input-tokens', '128', '--output-tokens', '32']
    const off = await bench('turns-off', [...common, '--prompt-cache', 'off'])
    const on = await bench('turns-on', [...common, '--prompt-cache', 'on'])
    const turns = [0, 1, 2, 3, 4, 5]
    const byTurn = (file: ResultFile) => turns.map((turn) => p50(file.levels[0]!.requests.filter((r) => r.session!.turn === turn).map((r) => r.ttftMs!)))
    const offTurns = byTurn(off)
    const onTurns = byTurn(on)
    const prompts = turns.map((turn) => 128 * (turn + 1) + 32 * turn)
    console.log(
      `6 turns of 128 new + 32 answer tokens (prompts ${prompts.join(', ')}), 4 sessions at c=1: TTFT p50 by turn, cache off ${offTurns.map((t) => t.toFixed(1)).join(' / ')} ms; cache on ${onTurns.map((t) => t.toFixed(1)).join(' / ')} ms; last turn on/off ${(onTurns[5]! / offTurns[5]!).toFixed(2)}, growth turn 1->5 on/off ${((onTurns[5]! - onTurns[1]!) / (offTurns[5]! - offTurns[1]!)).toFixed(2)}; measured hit rate off ${off.levels[0]!.cache!.measuredHitRate?.toFixed(3)}, on ${on.levels[0]!.cache!.measuredHitRate?.toFixed(3)} (intended ${on.levels[0]!.cache!.intendedHitRate?.toFixed(3)})`,
    )
    expect(off.workload.shape?.promptCache).toBe('off')
    expect(on.levels[0]!.requests.map((r) => r.inputTokens)).toEqual(Array.from({length: 24}, (_, i) => prompts[i % 6]))
    // Off: every turn prefills the whole conversation, so turn 6 (928 tokens) is far slower than turn 1 (128).
    expect(offTurns[5]!).toBeGreaterThan(offTurns[0]! * 2)
    // On: each later turn prefills only the answer stand-in and the new part (160 tokens).
    expect(onTurns[5]!).toBeLessThan(offTurns[5]! * 0.7)
    expect(onTurns[5]! - onTurns[1]!).toBeLessThan((offTurns[5]! - offTurns[1]!) * 0.7)
    expect(off.levels[0]!.cache!.measuredHitRate).toBe(0)
  })

  it('replays the synthetic Mooncake trace: its lengths exactly, its shared blocks served from the cache', async () => {
    const file = await bench(
      'trace',
      ['--trace', traceFile, '--trace-block-tokens', '64', '--replay-speed', '4', '--max-in-flight', '2'],
      ['--engine', 'llamacpp', '--synthetic'],
    )
    const trace = parseTrace(readFileSync(traceFile, 'utf8'), traceFile)
    const level = file.levels[0]!
    expect(file.workload.shape).toMatchObject({promptCache: 'on', arrivals: {process: 'trace'}, trace: {requests: 16, blockTokens: 64, replaySpeed: 4}})
    expect(level.requests.map((r) => [r.inputTokens, r.outputTokens])).toEqual(trace.map((t) => [t.inputLength, t.outputLength]))
    const intended = traceIntendedCached(trace, 64).reduce((a, b) => a + b, 0) / trace.reduce((a, t) => a + t.inputLength, 0)
    console.log(
      `trace replay (16 requests, 2 slots, x4): hit rate intended ${intended.toFixed(3)}, measured ${level.cache!.measuredHitRate?.toFixed(3)}; ${file.notes.find((n) => n.includes('trace replay')) ?? ''}`,
    )
    expect(level.cache!.intendedHitRate).toBeCloseTo(intended, 10)
    expect(level.cache!.measuredHitRate!).toBeGreaterThan(0.2)
    // Due at its timestamp / 4 from the level's start: request 15 at (last - first) / 4 ms after request 0.
    const scheduled = level.requests.map((r) => r.startMs - level.requests[0]!.startMs)
    expect(scheduled.at(-1)!).toBeGreaterThanOrEqual((trace.at(-1)!.timestampMs - trace[0]!.timestampMs) / 4 - 5)
  })

  it('the embedded engine runs the shapes too: a prefix with length distributions under bursty ramped arrivals, and sessions', async () => {
    const embedded = ['--engine', 'embedded', '--synthetic']
    const shaped = await bench(
      'embedded-prefix',
      [
        '--rate',
        '4',
        '--burstiness',
        '0.5',
        '--ramp-up',
        '1s',
        '--requests',
        '8',
        '--prefix-tokens',
        '48',
        '--input-dist',
        'uniform:64,96',
        '--output-dist',
        'normal:8,2,4,12',
      ],
      embedded,
    )
    const level = shaped.levels[0]!
    expect(shaped.workload.shape).toMatchObject({
      promptCache: 'on',
      prefix: {tokens: 48, groups: 1},
      input: {kind: 'uniform', min: 64, max: 96},
      arrivals: {process: 'gamma', burstiness: 0.5, rampMs: 1000},
    })
    for (const r of level.requests) {
      expect(r.inputTokens).toBeGreaterThanOrEqual(64)
      expect(r.inputTokens).toBeLessThanOrEqual(96)
      expect(r.outputTokens).toBeGreaterThanOrEqual(4)
      expect(r.outputTokens).toBeLessThanOrEqual(12)
    }
    expect(new Set(level.requests.map((r) => r.inputTokens)).size).toBeGreaterThan(1)
    expect(level.cache!.source).toBe('server-usage')
    expect(level.cache!.measuredHitRate!).toBeGreaterThan(0)
    const turns = await bench('embedded-turns', ['--concurrency', '2', '--requests', '6', '--turns', '3', '--input-tokens', '32', '--output-tokens', '8'], embedded)
    const requests = turns.levels[0]!.requests
    expect(requests.map((r) => r.session)).toEqual([0, 1, 2, 3, 4, 5].map((i) => ({id: i % 2, turn: Math.floor(i / 2)})))
    expect(requests.map((r) => r.inputTokens)).toEqual([32, 32, 72, 72, 112, 112])
    console.log(
      `embedded: prefix 48 of 64..96 measured hit ${level.cache!.measuredHitRate?.toFixed(3)} (intended ${level.cache!.intendedHitRate?.toFixed(3)}); 3 turns measured hit ${turns.levels[0]!.cache!.measuredHitRate?.toFixed(3)} (intended ${turns.levels[0]!.cache!.intendedHitRate?.toFixed(3)})`,
    )
  })
})
