import {readFileSync} from 'node:fs'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {loadProfiles} from '../../../src/profiles/load.js'
import type {ProfileStore} from '../../../src/profiles/store.js'
import {importedFormat} from '../../../src/report/build/result-report.js'
import {parseAnyResult} from '../../../src/results/import/load.js'
import {parseResultFile} from '../../../src/results/read.js'
import type {ResultFile} from '../../../src/results/schema.js'
import {formatValue, peakInFlight, summaryDisagreements, verifyResult} from '../../../src/results/verify.js'
import {summarizeLevel} from '../../../src/stats/summarize.js'
import {sampleRequest, sampleResult} from './sample-result.js'

/**
 * results/verify.ts on real files: a committed capplan run (results/), the capplan and peer fixtures
 * (test/fixtures/peers), each tampered one field at a time.
 */
const repo = path.resolve(import.meta.dirname, '..', '..', '..')
const REAL = 'results/20261122T075225Z_vm_cpu_qwen2.5-0.5b_int4_embedded.json'
const real = (): ResultFile => parseResultFile(readFileSync(path.join(repo, REAL), 'utf8'), REAL)
const verify = (result: ResultFile, file = REAL) => verifyResult(file, result, {importedFrom: importedFormat(result)})
/** A peer fixture as capplan imports it (the first result it holds). */
const imported = (file: string): ResultFile =>
  parseAnyResult(readFileSync(path.join(repo, file), 'utf8'), file, {capplanVersion: '0.1.0', command: ['capplan', 'report'], store})[0]!.result

let store: ProfileStore
beforeAll(async () => {
  store = await loadProfiles()
})

describe('verifyResult on real files', () => {
  it('verifies every committed result and the capplan fixtures: each stored summary is what its records give', () => {
    const files = [
      ...['20261122T074935Z_vm_cpu_qwen2.5-0.5b_int4_embedded.json', '20261122T081941Z_vm_cpu_qwen2.5-0.5b_int4_llamacpp.json'].map((f) => `results/${f}`),
      'test/fixtures/peers/capplan-embedded-int4.json',
      'test/fixtures/peers/capplan-embedded-fp16.json',
      REAL,
    ]
    for (const file of files) {
      const verification = verify(parseResultFile(readFileSync(path.join(repo, file), 'utf8'), file), file)
      expect(verification.verdict, file).toBe('verified')
      for (const level of verification.levels) {
        expect(level.problems, file).toEqual([])
        expect(level.warnings, file).toEqual([])
        // every closed-loop level had its concurrency in flight
        expect(level.peakInFlight, file).toBe(level.load.value)
      }
    }
  })

  it('marks imported peer files without records "summary only", and verifies vLLM per-request imports', () => {
    const verdicts: Record<string, string> = {}
    for (const name of ['llama_bench.json', 'vllm_serve_summary.json', 'vllm_serve_detailed.json', 'guidellm_benchmarks.json']) {
      const file = path.join('test/fixtures/peers', name)
      const verification = verify(imported(file), file)
      verdicts[name] = verification.verdict
      for (const level of verification.levels) expect(level.verdict, name).not.toBe('excluded')
    }
    expect(verdicts).toEqual({
      'llama_bench.json': 'summary-only',
      'vllm_serve_summary.json': 'summary-only',
      'vllm_serve_detailed.json': 'verified',
      // GuideLLM's summary keeps its own totals (and no ITL) next to a sample of requests
      'guidellm_benchmarks.json': 'summary-only',
    })
    const llama = imported('test/fixtures/peers/llama_bench.json')
    expect(verify(llama, 'lb.json').levels[0]!.problems).toEqual(['lb.json level concurrency 1: summary only, not verifiable (imported from llama-bench without per-request records)'])
  })
})

describe('verifyResult: each tampering named by file, level and field', () => {
  it('throughput x1e6 on concurrency 4', () => {
    const result = real()
    result.levels[2]!.summary.throughput.outputTokensPerS *= 1e6
    const level = verify(result).levels[2]!
    expect(level.verdict).toBe('excluded')
    expect(level.disagreements.map((d) => d.field)).toEqual(['throughput.outputTokensPerS'])
    expect(level.problems).toEqual([`${REAL} level concurrency 4: stored throughput.outputTokensPerS 5.018e7 but its 8 requests give 50.1775`])
    expect(level.reason).toBe('its stored summary disagrees with its 8 requests (throughput.outputTokensPerS)')
    // the other levels are untouched
    expect(verify(result).levels.map((l) => l.verdict)).toEqual(['verified', 'verified', 'excluded'])
  })

  it('TTFT raised on concurrency 2', () => {
    const result = real()
    const ttft = result.levels[1]!.summary.ttftMs!
    ttft.p95 *= 10
    const level = verify(result).levels[1]!
    expect(level.verdict).toBe('excluded')
    expect(level.problems).toEqual([`${REAL} level concurrency 2: stored ttftMs.p95 ${formatValue(ttft.p95)} but its 4 requests give ${formatValue(ttft.p95 / 10)}`])
  })

  it('every request removed, and half of them removed', () => {
    const none = real()
    none.levels[2]!.requests = []
    expect(verify(none).levels[2]!.problems).toEqual([
      `${REAL} level concurrency 4: stored requests.completed 8 and requests.failed 0 but the level stores no request records: its summary cannot be recomputed`,
    ])
    const half = real()
    half.levels[2]!.requests.splice(4)
    const level = verify(half).levels[2]!
    expect(level.verdict).toBe('excluded')
    expect(level.problems[0]).toBe(`${REAL} level concurrency 4: stored requests.completed 8 but its 4 requests give 4`)
    expect(level.disagreements.map((d) => d.field)).toContain('throughput.outputTokensPerS')
  })

  it('a level duplicated: both copies excluded', () => {
    const result = real()
    result.levels.push(structuredClone(result.levels[1]!))
    const verification = verify(result)
    expect(verification.levels.map((l) => l.verdict)).toEqual(['verified', 'excluded', 'verified', 'excluded'])
    expect(verification.levels[1]!.problems).toEqual([
      `${REAL} level concurrency 2: the file holds 2 levels at this load (levels #2, #4): which one measured it cannot be told, so none is costed`,
    ])
  })

  it('records made impossible (first token after the last) even with a summary recomputed to match them', () => {
    const result = real()
    const level = result.levels[0]!
    const request = level.requests[0]!
    request.ttftMs = request.e2eMs! * 10
    request.chunkOffsetsMs[0] = request.ttftMs
    level.summary = summarizeLevel(level.requests, level.window)
    const verified = verify(result).levels[0]!
    expect(verified.verdict).toBe('excluded')
    expect(verified.problems.join('\n')).toContain(`${REAL} level concurrency 1: 1 request record(s) have their first token after their last (request 0: ttftMs`)
    expect(verified.reason).toContain('impossible request records (TTFT > E2E)')
  })

  it('a token mismatch: outputs shorter than the run asked for (the summary agrees with them)', () => {
    const result = real()
    const level = result.levels[1]!
    for (const request of level.requests.slice(0, 3)) request.outputTokens = request.countedTokens = 48
    for (const request of level.requests.slice(0, 3)) request.chunkTokens = [...Array<number>(47).fill(1), 1, ...Array<number>(request.chunkOffsetsMs.length - 48).fill(0)]
    level.summary = summarizeLevel(level.requests, level.window)
    const verified = verify(result).levels[1]!
    expect(verified.verdict).toBe('excluded')
    expect(verified.tokenMismatch).toEqual({requests: 3, of: 4, requested: 64, returned: [48], distinct: 1})
    expect(verified.problems).toEqual([
      `${REAL} level concurrency 2: token mismatch: 3 of 4 requests returned a different output length than requested (64 tokens; returned 48): ` +
        'the throughput and the input:output ratio of the cost would rest on lengths the run did not ask for, so it is not costed',
    ])
  })

  it('with an output length distribution each request is checked against its lengths, not the nominal mean', () => {
    const result = real()
    const level = result.levels[1]!
    // The run asked for uniform 48-64 (recorded mean 56): 48 and 64 are fine, 40 is not.
    result.workload.outputTokens = 56
    const fixed = {kind: 'fixed' as const, tokens: 32}
    result.workload.shape = {
      promptCache: 'on',
      seed: 1,
      prefix: null,
      sessions: null,
      input: fixed,
      output: {kind: 'uniform', min: 48, max: 64},
      arrivals: {process: 'closed', burstiness: null, rampMs: null},
      trace: null,
    }
    const setLength = (index: number, tokens: number) => {
      const request = level.requests[index]!
      request.outputTokens = request.countedTokens = tokens
      request.chunkTokens = [...Array<number>(tokens).fill(1), ...Array<number>(request.chunkOffsetsMs.length - tokens).fill(0)]
    }
    setLength(0, 48)
    setLength(1, 64)
    level.summary = summarizeLevel(level.requests, level.window)
    const inRange = verify(result).levels[1]!
    expect(inRange.tokenMismatch).toBeNull()
    expect(inRange.verdict).toBe('verified')
    setLength(2, 40)
    level.summary = summarizeLevel(level.requests, level.window)
    const outside = verify(result).levels[1]!
    expect(outside.verdict).toBe('excluded')
    expect(outside.tokenMismatch).toEqual({requests: 1, of: 4, requested: 56, allowed: '48-64 (uniform)', returned: [40], distinct: 1})
    expect(outside.problems[0]).toContain('token mismatch: 1 of 4 requests returned a different output length than requested (48-64 (uniform) tokens; returned 40)')
    // A histogram: only its bins' lengths
    result.workload.shape.output = {kind: 'histogram', file: 'h.json', bins: [{tokens: 40, weight: 1}, {tokens: 48, weight: 1}, {tokens: 64, weight: 2}]}
    expect(verify(result).levels[1]!.tokenMismatch).toBeNull()
    result.workload.shape.output = {kind: 'histogram', file: 'h.json', bins: [{tokens: 48, weight: 1}, {tokens: 64, weight: 2}]}
    expect(verify(result).levels[1]!.tokenMismatch).toMatchObject({requests: 1, allowed: "one of the histogram's 2 lengths", returned: [40]})
    // A replayed trace: the lengths are in the trace file, not here: not checked (not a mismatch)
    result.workload.shape.trace = {file: 't.jsonl', sha256: 'a'.repeat(64), requests: 4, blockTokens: 512, replaySpeed: 1}
    expect(verify(result).levels[1]!.tokenMismatch).toBeNull()
    expect(verify(result).levels[1]!.verdict).toBe('verified')
  })

  it('flags (without excluding) streamed counts unlike the server\'s; excludes a concurrency never reached', () => {
    const result = sampleResult()
    const level = result.levels[0]!
    level.load.value = 2
    level.requests[0]!.outputTokens = 5 // the server said 5, 4 were streamed; the workload asked for 4
    result.workload.ignoreEos = false
    level.summary = summarizeLevel(level.requests, level.window)
    const verified = verifyResult('x.json', result, {importedFrom: null}).levels[0]!
    expect(verified.verdict).toBe('verified')
    expect(verified.peakInFlight).toBe(2)
    expect(verified.warnings).toEqual([
      "x.json level concurrency 2: 1 of 2 requests streamed a different number of tokens than the server reported (e.g. request 0: 4 streamed, 5 reported); throughput uses the server's count",
    ])
    // --requests 2 --concurrency 8 as an older capplan recorded it: 2 in flight at most
    level.load.value = 8
    const unreached = verifyResult('x.json', result, {importedFrom: null}).levels[0]!
    expect(unreached.verdict).toBe('excluded')
    expect(unreached.reason).toBe('only 2 requests for concurrency 8')
    expect(unreached.problems).toEqual([
      'x.json level concurrency 8: only 2 requests stored, fewer than its concurrency: never more than 2 in flight, so it did not measure concurrency 8 and is not costed',
    ])
    // enough requests, sent one after another: the records show 1 in flight
    level.load.value = 2
    level.requests = [sampleRequest(0, {startMs: 1000}), sampleRequest(1, {startMs: 1400}), sampleRequest(2, {startMs: 1800})]
    level.summary = summarizeLevel(level.requests, level.window)
    const serial = verifyResult('x.json', result, {importedFrom: null}).levels[0]!
    expect(serial.reason).toBe('peak in flight 1 < concurrency 2')
    expect(serial.problems).toEqual(['x.json level concurrency 2: never had more than 1 request in flight (3 requests stored): it did not measure concurrency 2, so it is not costed'])
  })

  it('an imported file with impossible summary values is excluded, not only "summary only"', () => {
    const file = 'test/fixtures/peers/vllm_serve_summary.json'
    const result = imported(file)
    result.levels[0]!.summary.throughput.totalTokensPerS *= 3
    const level = verify(result, file).levels[0]!
    expect(level.verdict).toBe('excluded')
    expect(level.problems[0]).toMatch(/^test\/fixtures\/peers\/vllm_serve_summary.json level concurrency 2: stored throughput.totalTokensPerS .* is not inputTokensPerS \+ outputTokensPerS/)
  })
})

describe('the pieces', () => {
  it('compares floats with a relative tolerance of 1e-6 and counts exactly', () => {
    const requests = [sampleRequest(0), sampleRequest(1)]
    const stored = summarizeLevel(requests, {startMs: 1000, endMs: 3000})
    const near = structuredClone(stored)
    near.throughput.outputTokensPerS *= 1 + 5e-7
    expect(summaryDisagreements(near, stored)).toEqual([])
    near.throughput.outputTokensPerS *= 1 + 5e-6
    expect(summaryDisagreements(near, stored).map((d) => d.field)).toEqual(['throughput.outputTokensPerS'])
    const counted = structuredClone(stored)
    counted.errors = {http: 1}
    expect(summaryDisagreements(counted, stored)).toEqual([{field: 'errors.http', stored: 1, recomputed: 0}])
  })

  it('a level whose requests all failed before any content is not called "never in flight" (their ends are unknown)', () => {
    const result = sampleResult()
    const level = result.levels[0]!
    level.load.value = 2
    level.requests = level.requests.map((request) => ({...request, ttftMs: null, e2eMs: null, outputTokens: 0, countedTokens: 0, chunkOffsetsMs: [], error: {kind: 'http', message: '500'}}))
    level.summary = summarizeLevel(level.requests, level.window)
    const verified = verifyResult('x.json', result, {importedFrom: null}).levels[0]!
    expect(verified.peakInFlight).toBe(0)
    expect(verified.verdict).toBe('verified')
    // with fewer records than the concurrency the load was never reached, whatever their ends
    level.load.value = 4
    expect(verifyResult('x.json', result, {importedFrom: null}).levels[0]!.reason).toBe('only 2 requests for concurrency 4')
  })

  it('peak in flight: ends before starts at the same instant, requests without content left out', () => {
    const at = (startMs: number, e2eMs: number | null) => sampleRequest(0, {startMs, e2eMs})
    expect(peakInFlight([at(0, 10), at(10, 10), at(20, 10)])).toBe(1)
    expect(peakInFlight([at(0, 10), at(5, 10), at(6, 1), at(30, null)])).toBe(3)
  })

  it('formats values as the messages print them', () => {
    expect([formatValue(1e12), formatValue(21.9123456), formatValue(0), formatValue(2.5e-5), formatValue(null)]).toEqual(['1e12', '21.9123', '0', '2.5e-5', 'null'])
  })
})
