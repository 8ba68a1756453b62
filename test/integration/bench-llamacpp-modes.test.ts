import {rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BenchJson} from '../../src/commands/bench.js'
import {LlamaCppEngine} from '../../src/engines/llamacpp/engine.js'
import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {ensureSyntheticModel} from '../../src/gguf/synth.js'
import {readResultFile} from '../../src/results/read.js'
import {tinyModelWorkdir, tinyQwen2} from '../helpers/tiny-models.js'

/**
 * Load modes and engines of `capplan bench` wired end to end on the tiny synthetic model: an open-loop level on
 * the embedded engine, and --engine openai against a REAL llama-server this test starts (synthetic prompts
 * through the server's /tokenize, a --duration level, /metrics on loopback, and --dataset text prompts).
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) console.warn('SKIPPED the --engine openai part of bench-llamacpp-modes: no llama-server binary.')

let work: string
let env: Record<string, string>

beforeAll(() => {
  ;({work, env} = tinyModelWorkdir('capplan-bench-modes-'))
})

afterAll(() => rmSync(work, {recursive: true, force: true}))

const bench = (args: string[]) =>
  execa('node', [bin, 'bench', '--model', 'tiny-qwen2', '--input-tokens', '16', '--output-tokens', '8', '--json', ...args], {cwd: work, env, reject: false})

describe('capplan bench --rate on the embedded engine', () => {
  it('records an open-loop level: load.kind rate, the requested count, the seed-derived schedule noted', async () => {
    const results = path.join(work, 'results-rate')
    const run = await bench(['--threads', '1', '--rate', '20', '--requests', '4', '--max-in-flight', '2', '--results-dir', results])
    expect(run.exitCode, run.stderr).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    const file = await readResultFile(payload.results[0]!.file)
    expect(file.engine.kind).toBe('embedded')
    expect(file.levels.map((level) => level.load)).toEqual([{kind: 'rate', value: 20}])
    expect(file.levels[0]!.requests).toHaveLength(4)
    for (const request of file.levels[0]!.requests) expect(request.outputTokens).toBe(8)
    // The warmup fills the in-flight cap (2), not a concurrency level.
    expect(file.notes).toContain('warmup: 2 request(s) of 8 output tokens at concurrency 2 before the first level, not recorded')
    expect(file.notes.some((note) => note.startsWith('rate 20: '))).toBe(true)
    expect(payload.results[0]!.levels[0]!.load).toEqual({kind: 'rate', value: 20})
  })
})

describe('capplan bench --sweep with an SLO no level can meet', () => {
  it('stops the sweep at the first level and costs the highest throughput, labeled as such', async () => {
    const results = path.join(work, 'results-sweep')
    // TTFT <= 0.001 ms: impossible, so concurrency 1 breaks the SLO and the sweep ends there.
    const run = await bench(['--threads', '1', '--sweep', '--requests', '2', '--slo', 'ttft=0.001ms', '--results-dir', results])
    expect(run.exitCode, run.stderr).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    const file = await readResultFile(payload.results[0]!.file)
    expect(file.levels.map((level) => level.load)).toEqual([{kind: 'concurrency', value: 1}])
    expect(file.status).toBe('complete')
    expect(file.notes.some((note) => note.startsWith('sweep stopped (slo): '))).toBe(true)
    expect(payload.cost).toHaveLength(1)
    expect(payload.cost[0]).toMatchObject({basis: 'highest-throughput', load: {kind: 'concurrency', value: 1}})
    expect(payload.cost[0]!.note).toMatch(/^no level met the SLO \(.+\); costed at the highest measured throughput instead$/)
    expect(payload.cost[0]!.totalTokensPerSecond).toBe(file.levels[0]!.summary.throughput.totalTokensPerS)
    // Human output says so too.
    const human = await execa(
      'node',
      [
        bin,
        'bench',
        '--model',
        'tiny-qwen2',
        '--input-tokens',
        '16',
        '--output-tokens',
        '8',
        '--threads',
        '1',
        '--concurrency',
        '1',
        '--requests',
        '2',
        '--slo',
        'ttft=0.001ms',
        '--results-dir',
        results,
      ],
      {cwd: work, env, reject: false},
    )
    expect(human.exitCode).toBe(0)
    expect(human.stdout).toMatch(/no level met the SLO \(.+\); costed at the highest measured throughput instead/)
    expect(human.stdout).toMatch(/Cost of tiny-qwen2 int4 at its best level \(concurrency 1, [\d.]+ total tok\/s\)/)
  })
})

describe.skipIf(serverBin === null)('capplan bench --engine openai against a running llama-server', () => {
  let server: LlamaCppEngine
  let endpoint: string

  beforeAll(async () => {
    const model = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', outFile: path.join(work, 'tiny-q4_0.gguf')})
    server = new LlamaCppEngine({modelPath: model.path, serverBin: serverBin!, threads: 1, maxConcurrency: 2, tokensPerSequence: 64, startupTimeoutMs: 120_000})
    await server.start()
    endpoint = server.info().endpoint!
  }, 180_000)

  afterAll(async () => server?.stop())

  it('synthetic token-id prompts via /tokenize, a --duration level, /metrics deltas on loopback', async () => {
    const results = path.join(work, 'results-openai')
    const run = await bench(['--engine', 'openai', '--endpoint', endpoint, '--concurrency', '2', '--duration', '2s', '--requests', '40', '--results-dir', results])
    expect(run.exitCode, run.stderr).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    const file = await readResultFile(payload.results[0]!.file)
    expect(file.engine).toMatchObject({kind: 'openai', gpuCount: 0, endpoint})
    expect(file.workload.promptSource).toBe('synthetic-token-ids')
    const [level] = file.levels
    expect(level!.load).toEqual({kind: 'concurrency', value: 2})
    expect(level!.requests.length).toBeGreaterThan(0)
    expect(level!.requests.length).toBeLessThanOrEqual(40)
    for (const request of level!.requests) {
      expect(request.error).toBeNull()
      expect(request.outputTokens).toBe(8)
      expect(request.inputTokens).toBe(16)
    }
    // Every finished request's tokens show up in the server's own counter between the two scrapes.
    expect(level!.serverMetrics, `no /metrics deltas; notes: ${JSON.stringify([...file.notes, ...(level!.telemetry?.notes ?? [])])}`).not.toBeNull()
    expect(level!.serverMetrics!.deltas['llamacpp:tokens_predicted_total']).toBe(8 * level!.requests.length)
    expect(file.notes.some((note) => note.startsWith('concurrency 2: ') && /duration|2 ?s|2000/.test(note))).toBe(true)
  })

  it("--dataset sends the file's text prompts and records the dataset", async () => {
    const dataset = path.join(work, 'prompts.jsonl')
    writeFileSync(dataset, Array.from({length: 12}, (_, i) => JSON.stringify({prompt: `Question ${i}: how many legs does a spider have?`})).join('\n') + '\n')
    const results = path.join(work, 'results-dataset')
    const run = await bench(['--engine', 'openai', '--endpoint', endpoint, '--concurrency', '1', '--requests', '3', '--dataset', dataset, '--results-dir', results])
    expect(run.exitCode, run.stderr).toBe(0)
    const file = await readResultFile((JSON.parse(run.stdout) as BenchJson).results[0]!.file)
    expect(file.workload).toMatchObject({promptSource: 'dataset', dataset})
    expect(file.levels[0]!.requests).toHaveLength(3)
    for (const request of file.levels[0]!.requests) expect(request.outputTokens).toBe(8)
  })

  it('refuses a dataset smaller than the run before starting a level', async () => {
    const dataset = path.join(work, 'small.jsonl')
    writeFileSync(dataset, `${JSON.stringify({prompt: 'one'})}\n${JSON.stringify({prompt: 'two'})}\n`)
    const run = await bench([
      '--engine',
      'openai',
      '--endpoint',
      endpoint,
      '--concurrency',
      '1',
      '--requests',
      '4',
      '--dataset',
      dataset,
      '--results-dir',
      path.join(work, 'r-small'),
    ])
    expect(run.exitCode).toBe(3)
    // warmup 1 + 4 measured = 5 prompts > 2
    expect(JSON.parse(run.stdout).error.message).toMatch(/holds 2 prompts but this run may need 5/)
  })
})
