import {mkdtempSync, readdirSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ResultFile} from '../../src/results/schema.js'
import {capplanInProcess} from '../helpers/cli.js'
import {type RecordedRequest, type ReplayServer, startReplayServer} from '../helpers/replay-server.js'

/**
 * `capplan bench --engine openai` (the real CLI) against a local OpenAI-compatible SSE server (the replay
 * server of test/helpers) that can send another number of tokens than max_tokens asks for; and the refusal
 * of --requests below --concurrency.
 */

const env = {CAPPLAN_CACHE_DIR: '/nonexistent/capplan-cache'}
const bench = (args: string[]) => capplanInProcess(['bench', ...args], {env})
const capplan = (args: string[]) => capplanInProcess(args, {env})

/** One OpenAI /v1/completions stream of `tokens` content events, then usage (completion_tokens = tokens) and [DONE]. */
function completionStream(tokens: number, promptTokens: number): {body: string; cuts: number[]} {
  const events: string[] = []
  for (let i = 0; i < tokens; i++) events.push(`data: {"choices":[{"text":"t${i}","index":0,"logprobs":null,"finish_reason":null}],"object":"text_completion"}\n\n`)
  events.push(
    `data: {"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"length"}],"object":"text_completion",` +
      `"usage":{"completion_tokens":${tokens},"prompt_tokens":${promptTokens},"total_tokens":${tokens + promptTokens}}}\n\n`,
  )
  events.push('data: [DONE]\n\n')
  const cuts: number[] = []
  let at = 0
  for (const event of events) cuts.push((at += Buffer.byteLength(event)))
  return {body: events.join(''), cuts}
}

let server: ReplayServer
/** Measured requests (max_tokens = --output-tokens; warmup asks for fewer) served so far, and how the next are answered. */
let measured = 0
/** Measured requests answered in full before the server starts answering `shortBy` tokens short. */
let fullFirst = 0
let shortBy = 0
const OUTPUT_TOKENS = 16

beforeAll(async () => {
  server = await startReplayServer()
  const json = (body: unknown) => ({headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
  server.route('GET /v1/models', json({object: 'list', data: [{id: 'test-model', object: 'model', owned_by: 'test'}]}))
  server.route('POST /tokenize', json({tokens: Array.from({length: 64}, (_, i) => 100 + i)}))
  server.route('POST /v1/completions', (request: RecordedRequest) => {
    const body = JSON.parse(request.body) as {max_tokens: number; prompt: number[]}
    // A server that runs short after a while: with --concurrency 1,2 --requests 4, the c=1 level is answered in full, c=2 short.
    const short = body.max_tokens === OUTPUT_TOKENS && ++measured > fullFirst
    const {body: sse, cuts} = completionStream(short ? body.max_tokens - shortBy : body.max_tokens, body.prompt.length)
    return {body: sse, chunks: cuts, delayMs: 3}
  })
})
afterAll(async () => {
  await server?.close()
})

describe('bench: token mismatch through --engine openai', () => {
  it('flags the level whose outputs were shorter than requested, in bench and in report, and costs only the consistent level', async () => {
    measured = 0
    fullFirst = 4
    shortBy = 4
    const results = mkdtempSync(path.join(tmpdir(), 'capplan-mismatch-'))
    const run = await bench([
      '--engine',
      'openai',
      '--endpoint',
      server.url,
      '--concurrency',
      '1,2',
      '--requests',
      '4',
      '--input-tokens',
      '8',
      '--output-tokens',
      '16',
      '--results-dir',
      results,
    ])
    expect(run.exitCode, run.stderr).toBe(0)
    const [name] = readdirSync(results).filter((file) => file.endsWith('.json'))
    const file = path.join(results, name!)
    const result = JSON.parse(readFileSync(file, 'utf8')) as ResultFile
    const short = result.levels[1]!.requests.filter((request) => request.outputTokens !== 16).length
    expect(short).toBe(4)
    expect(result.levels[0]!.requests.every((request) => request.outputTokens === 16)).toBe(true)
    // the level runner noted it in the file
    expect(
      result.notes.some(
        (note) => note.startsWith('concurrency 2: ') && note.includes(`token mismatch: ${short} of 4 requests returned a different output length than requested (16 tokens)`),
      ),
    ).toBe(true)

    // bench says it, and costs at concurrency 1 only
    expect(run.stdout).toMatch(
      new RegExp(
        `EXCLUDED from cost: .*${path.basename(file).replaceAll('.', '\\.')} level concurrency 2: token mismatch: ${short} of 4 requests returned a different output length than requested \\(16 tokens; returned 12\\)`,
      ),
    )
    expect(run.stdout).toMatch(/│ c=2 +│ 4\/0 EXCLUDED +│/)
    expect(run.stdout).toContain('Cost of qwen2.5-0.5b int4 at its operating point')
    expect(run.stdout).toMatch(/\(concurrency 1, [\d.]+ total tok\/s\)/)

    // report: the same flag, and the cost rests on concurrency 1
    const report = await capplan(['report', file, '--format', 'json'])
    expect(report.exitCode).toBe(0)
    const [entry] = (
      JSON.parse(report.stdout) as {
        results: {
          verification: {levels: {verdict: string; reason: string; tokenMismatch: {requests: number; of: number; requested: number; returned: number[]}}[]}
          operatingPoint: {levelIndex: number; kind: string}
        }[]
      }
    ).results
    expect(entry!.verification.levels[1]!.tokenMismatch).toEqual({requests: short, of: 4, requested: 16, returned: [12], distinct: 1})
    expect(entry!.verification.levels[1]!.reason).toBe(`token mismatch: ${short} of 4 requests returned a different output length than requested`)
    expect(entry!.operatingPoint.levelIndex).toBe(0)
    const table = await capplan(['report', file])
    expect(table.stdout).toContain(`EXCLUDED: token mismatch: ${short} of 4 requests returned a different output length than requested`)
  }, 180_000)

  it("--json carries each level's verification, and the cost is at the consistent level", async () => {
    measured = 0
    fullFirst = 4
    shortBy = 4
    const results = mkdtempSync(path.join(tmpdir(), 'capplan-mismatch-json-'))
    const json = await bench([
      '--engine',
      'openai',
      '--endpoint',
      server.url,
      '--concurrency',
      '1,2',
      '--requests',
      '4',
      '--input-tokens',
      '8',
      '--output-tokens',
      '16',
      '--results-dir',
      results,
      '--json',
    ])
    expect(json.exitCode, json.stderr).toBe(0)
    const payload = JSON.parse(json.stdout) as {
      results: {verification: {levels: {verdict: string; tokenMismatch: unknown}[]}}[]
      cost: {load: {value: number}; totalTokensPerSecond: number}[]
    }
    expect(payload.results[0]!.verification.levels.map((level) => level.verdict)).toEqual(['verified', 'excluded'])
    expect(payload.cost[0]!.load.value).toBe(1)
  }, 120_000)
})

describe('bench: loads as they are', () => {
  it('refuses --requests below --concurrency (INVALID_INPUT, exit 3), naming both flags, before anything is loaded', async () => {
    const run = await bench(['--requests', '2', '--concurrency', '1,8', '--json'])
    expect(run.exitCode).toBe(3)
    expect(JSON.parse(run.stdout).error).toMatchObject({
      kind: 'INVALID_INPUT',
      message: '--requests 2 is fewer than --concurrency 8: the level would never have more than 2 requests in flight, so it would not measure concurrency 8.',
    })
    const duration = await bench(['--duration', '10s', '--requests', '4', '--concurrency', '8', '--json'])
    expect(duration.exitCode).toBe(3)
    expect(JSON.parse(duration.stdout).error.message).toContain('--requests 4 (the cap on each --duration level) is fewer than --concurrency 8')
  }, 120_000)

  it('prints --rate levels as offered rates (req/s), in bench and in report', async () => {
    shortBy = 0
    const results = mkdtempSync(path.join(tmpdir(), 'capplan-rate-'))
    const run = await bench([
      '--engine',
      'openai',
      '--endpoint',
      server.url,
      '--rate',
      '20',
      '--requests',
      '3',
      '--input-tokens',
      '8',
      '--output-tokens',
      '8',
      '--results-dir',
      results,
    ])
    expect(run.exitCode, run.stderr).toBe(0)
    expect(run.stdout).toContain('measured (open loop: Poisson arrivals at N req/s)')
    expect(run.stdout).toMatch(/│ 20 req\/s +│/)
    expect(run.stdout).not.toMatch(/c=20|concurrency 20/)
    const [name] = readdirSync(results).filter((file) => file.endsWith('.json'))
    const table = await capplan(['report', path.join(results, name!)])
    expect(table.stdout).toMatch(/│ 20 req\/s( \*)? +│/)
    // the cost note names the offered rate as the operating point's load, like the table (it said "(rate 20)")
    expect(table.stdout).toContain('at the measured operating point (20 req/s) meeting')
    expect(table.stdout).not.toMatch(/c=20|concurrency 20/)
  }, 120_000)
})
