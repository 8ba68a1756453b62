import {describe, expect, it} from 'vitest'

import {levelSummarySchema, type RequestRecord} from '../../../src/results/schema.js'
import {chunkGapsMs, summarizeLevel, tokenGapsMs} from '../../../src/stats/summarize.js'

/** Hand-built requests; every number below is derived from these by hand. */
function request(index: number, fields: Partial<RequestRecord>): RequestRecord {
  return {
    index,
    startMs: 1000 + index,
    ttftMs: null,
    e2eMs: null,
    inputTokens: 10,
    outputTokens: 0,
    countedTokens: 0,
    chunkOffsetsMs: [],
    chunkTokens: null,
    error: null,
    ...fields,
  }
}

// A: 4 one-token chunks.               TPOT = (400 - 100) / (4 - 1) = 100; gaps 100, 100, 100
const A = request(0, {ttftMs: 100, e2eMs: 400, outputTokens: 4, countedTokens: 4, chunkOffsetsMs: [100, 200, 300, 400]})
// B: last chunk carries 3 tokens.       TPOT = (350 - 50) / (5 - 1) = 75; chunk gaps 60, 240;
//    token gaps 60, then 240 / 3 = 80 three times
const B = request(1, {
  ttftMs: 50,
  e2eMs: 350,
  outputTokens: 5,
  countedTokens: 5,
  chunkOffsetsMs: [50, 110, 350],
  chunkTokens: [1, 1, 3],
})
// C: one output token -> no TPOT, no gap.
const C = request(2, {ttftMs: 30, e2eMs: 30, outputTokens: 1, countedTokens: 1, chunkOffsetsMs: [30]})
// D: HTTP failure, nothing streamed.
const D = request(3, {error: {kind: 'http', message: 'HTTP 500'}})
// E: timed out after streaming 3 tokens -> excluded from every latency and throughput figure.
const E = request(4, {
  ttftMs: 500,
  e2eMs: 2000,
  outputTokens: 3,
  countedTokens: 3,
  chunkOffsetsMs: [500, 1000, 2000],
  error: {kind: 'timeout', message: 'no event for 60 s'},
})
// F: the engine reported 3 tokens, the stream showed 2 -> mismatch. TPOT = (280 - 80) / (3 - 1) = 100; gap 200
const F = request(5, {ttftMs: 80, e2eMs: 280, outputTokens: 3, countedTokens: 2, chunkOffsetsMs: [80, 280]})

const requests = [A, B, C, D, E, F]
const window = {startMs: 1000, endMs: 3000} // 2 s

describe('chunkGapsMs / tokenGapsMs', () => {
  it('a 3-token chunk contributes one chunk gap but three token gaps of gap / 3', () => {
    expect(chunkGapsMs(B)).toEqual([60, 240])
    expect(tokenGapsMs(B)).toEqual([60, 80, 80, 80])
  })

  it('one-token chunks: per token = per chunk; a single chunk has no gap', () => {
    expect(tokenGapsMs(A)).toEqual(chunkGapsMs(A))
    expect(chunkGapsMs(C)).toEqual([])
  })
})

describe('summarizeLevel', () => {
  const summary = summarizeLevel(requests, window)

  it('counts completed and failed requests, failures by kind', () => {
    expect(summary.requests).toEqual({completed: 4, failed: 2})
    expect(summary.errors).toEqual({http: 1, timeout: 1})
  })

  it('throughput: sums over successful requests / window (2 s)', () => {
    expect(summary.durationS).toBe(2)
    // output 4 + 5 + 1 + 3 = 13 (E's 3 tokens excluded) -> 6.5 tok/s; input 4 x 10 = 40 -> 20 tok/s
    expect(summary.throughput).toEqual({
      outputTokensPerS: 6.5,
      inputTokensPerS: 20,
      totalTokensPerS: 26.5,
      requestsPerS: 2,
    })
  })

  it('TTFT over successful requests: [30, 50, 80, 100]', () => {
    const ttft = summary.ttftMs!
    expect(ttft.count).toBe(4)
    expect(ttft.mean).toBe(65) // 260 / 4
    expect(ttft.p50).toBe(65) // h = 1.5 -> 50 + 0.5 * 30
    expect(ttft.p90).toBeCloseTo(94, 10) // h = 2.7 -> 80 + 0.7 * 20
    expect(ttft.p99).toBeCloseTo(99.4, 10) // h = 2.97 -> 80 + 0.97 * 20
    expect([ttft.min, ttft.max]).toEqual([30, 100])
  })

  it('TPOT excludes the 1-token request C: [75, 100, 100]; per-user speed = 1000 / median', () => {
    const tpot = summary.tpotMs!
    expect(tpot.count).toBe(3)
    expect(tpot.mean).toBeCloseTo(275 / 3, 12)
    expect(tpot.p50).toBe(100) // h = 1 -> x[1]
    expect(tpot.min).toBe(75)
    expect(summary.perUserTokensPerS).toBe(10) // 1000 ms / 100 ms per token
  })

  it('ITL per chunk vs per token differ when a chunk holds several tokens', () => {
    // per chunk: A 100,100,100 + B 60,240 + F 200 -> sorted [60,100,100,100,200,240]
    const perChunk = summary.itlMsPerChunk!
    expect(perChunk.count).toBe(6)
    expect(perChunk.mean).toBeCloseTo(800 / 6, 12)
    expect(perChunk.p50).toBe(100) // h = 2.5 -> 100 + 0.5 * 0
    expect(perChunk.p90).toBeCloseTo(220, 10) // h = 4.5 -> 200 + 0.5 * 40
    // per token: A 100 x3 + B 60, 80, 80, 80 + F 200 -> sorted [60,80,80,80,100,100,100,200]
    const perToken = summary.itlMsPerToken!
    expect(perToken.count).toBe(8)
    expect(perToken.mean).toBe(100) // 800 / 8: same total time, spread over tokens
    expect(perToken.p50).toBe(90) // h = 3.5 -> 80 + 0.5 * 20
    expect(perToken.p90).toBeCloseTo(130, 10) // h = 6.3 -> 100 + 0.3 * 100
    expect(perToken.max).toBe(200)
  })

  it('E2E over successful requests: [30, 280, 350, 400]', () => {
    expect(summary.e2eMs!.mean).toBe(265) // 1060 / 4
    expect(summary.e2eMs!.p50).toBe(315) // h = 1.5 -> 280 + 0.5 * 70
  })

  it('flags the token mismatch of F and still uses the reported count', () => {
    expect(summary.tokenMismatches).toBe(1)
  })

  it('no SLO -> goodput null; the summary is schema-valid', () => {
    expect(summary.goodput).toBeNull()
    expect(levelSummarySchema.safeParse(summary).success).toBe(true)
  })

  it('goodput: requests meeting every threshold, per second and as a share of all requests', () => {
    // ttft <= 90 and tpot <= 90: A fails ttft (100), B passes (50, 75), C passes (30, no TPOT),
    // F fails tpot (100), D and E failed -> 2 good of 6
    const slo = {ttftMs: 90, tpotMs: 90}
    const goodput = summarizeLevel(requests, window, slo).goodput!
    expect(goodput.slo).toEqual(slo)
    expect(goodput.requests).toBe(2)
    expect(goodput.requestsPerS).toBe(1) // 2 / 2 s
    expect(goodput.outputTokensPerS).toBe(3) // (5 + 1) / 2 s
    expect(goodput.fraction).toBeCloseTo(1 / 3, 12)
  })

  it('an empty level: zero throughput, null distributions, no division by zero', () => {
    const empty = summarizeLevel([], {startMs: 5, endMs: 5}, {e2eMs: 1000})
    expect(empty.durationS).toBe(0)
    expect(empty.throughput.outputTokensPerS).toBe(0)
    expect(empty.ttftMs).toBeNull()
    expect(empty.itlMsPerToken).toBeNull()
    expect(empty.perUserTokensPerS).toBeNull()
    expect(empty.goodput).toMatchObject({requests: 0, fraction: 0})
    expect(levelSummarySchema.safeParse(empty).success).toBe(true)
  })
})
