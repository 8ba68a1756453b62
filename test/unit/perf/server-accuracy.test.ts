import {describe, expect, it} from 'vitest'

import * as bench from '../../../perf/server-accuracy.js'
import type {LlamaServerTimings} from '../../../src/engines/http/protocols.js'
import {decodeTokensPerSecond} from '../../../src/engines/http/protocols.js'
import type {RequestRecord} from '../../../src/results/schema.js'
import {requestTpotMs} from '../../../src/stats/slo.js'

/**
 * The pure arithmetic of perf/server-accuracy.ts. Its two speed definitions are also checked against the project's own
 * (requestTpotMs, decodeTokensPerSecond) so the bench cannot drift from what a result file holds.
 */

function record(overrides: Partial<RequestRecord> & Pick<RequestRecord, 'index'>): RequestRecord {
  return {
    startMs: 0,
    ttftMs: 100,
    e2eMs: 1360,
    inputTokens: 32,
    outputTokens: 64,
    countedTokens: 64,
    chunkOffsetsMs: [],
    chunkTokens: null,
    error: null,
    ...overrides,
  }
}

function timings(predictedTokens: number, predictedMs: number): LlamaServerTimings {
  return {promptTokens: 32, promptMs: 50, predictedTokens, predictedMs, cachedTokens: 0, draftTokens: null, draftAccepted: null}
}

describe('perf/server-accuracy: the per-request speeds', () => {
  it('client decode tok/s = (n - 1) over first -> last content = 1000 / the project TPOT', () => {
    // 64 tokens, first content at 100 ms, last at 1360 ms: 63 tokens in 1260 ms = 50 tok/s.
    const r = record({index: 0})
    expect(bench.clientDecodeTokensPerSecond(r)).toBeCloseTo(50, 12)
    // Same as the inverse of src/stats requestTpotMs: (1360 - 100) / 63 = 20 ms -> 50 tok/s.
    expect(requestTpotMs(r)).toBe(20)
    expect(1000 / requestTpotMs(r)!).toBeCloseTo(bench.clientDecodeTokensPerSecond(r)!, 12)
  })

  it('client: a failed request, one token, or no content gives null', () => {
    expect(bench.clientDecodeTokensPerSecond(record({index: 0, error: {kind: 'http', message: 'HTTP 500'}}))).toBeNull()
    expect(bench.clientDecodeTokensPerSecond(record({index: 0, outputTokens: 1}))).toBeNull()
    expect(bench.clientDecodeTokensPerSecond(record({index: 0, ttftMs: null, e2eMs: null}))).toBeNull()
  })

  it('server: predicted_n counts the first token, so the correction is (n - 1) / predicted_ms', () => {
    // The recorded fixture's numbers (completion_stream_ids.sse): predicted_n 32, predicted_ms 547.746.
    // llama-server printed predicted_per_second 58.421239041453525 = 32 / 0.547746 s (raw, biased by 32/31);
    // corrected: 31 / 0.547746 s = 56.5955...
    const t = timings(32, 547.746)
    expect(bench.serverRawTokensPerSecond(t)).toBeCloseTo(58.421239041453525, 9)
    expect(bench.serverDecodeTokensPerSecond(t)).toBeCloseTo(31000 / 547.746, 12)
    expect(bench.serverDecodeTokensPerSecond(t)).toBeCloseTo(56.5955, 3)
    // raw / corrected = n / (n - 1) = 32 / 31
    expect(bench.serverRawTokensPerSecond(t)! / bench.serverDecodeTokensPerSecond(t)!).toBeCloseTo(32 / 31, 12)
    // Identical to the project's own correction.
    expect(bench.serverDecodeTokensPerSecond(t)).toBe(decodeTokensPerSecond(t))
    expect(bench.serverDecodeTokensPerSecond(timings(1, 10))).toBeNull()
    expect(bench.serverDecodeTokensPerSecond(timings(5, 0))).toBeNull()
  })
})

describe("perf/server-accuracy: llama-bench in the client's statistic", () => {
  it('1000 / median ms per token over the repetitions, not avg_ts (a mean)', () => {
    // Repetitions at 60, 50 and 20 tok/s: ms/token 16.667, 20, 50 -> median 20 -> 50 tok/s.
    // avg_ts = (60 + 50 + 20) / 3 = 43.33: one slow repetition costs the mean 13%, the median nothing.
    expect(bench.llamaBenchMedianTokensPerSecond([60, 50, 20], 130 / 3)).toBeCloseTo(50, 12)
    // Even count: ms/token 16.667 and 20 -> median 18.333 -> 54.545 tok/s (= 2 / (1/60 + 1/50), harmonic mean).
    expect(bench.llamaBenchMedianTokensPerSecond([60, 50], 55)).toBeCloseTo(1000 / ((1000 / 60 + 1000 / 50) / 2), 12)
    // No samples: avg_ts as given.
    expect(bench.llamaBenchMedianTokensPerSecond([], 61.5)).toBe(61.5)
  })
})

describe('perf/server-accuracy: one round', () => {
  it('pairs each record with its own server timings and forms the ratios', () => {
    // Request 0: client 63 tokens / 1.260 s = 50 tok/s; server 63 / 1.2348 s = 51.0204 tok/s.
    // Request 1: client 63 / (1300 - 40) ms... e2e 1300, ttft 40 -> 1260 ms -> 50 tok/s; server 63 / 1.26 s = 50.
    // Request 2: client 63 / (1500 - 240) ms = 50 tok/s; server 63 / 1.2474 s = 50.5051 tok/s.
    const records = [record({index: 0}), record({index: 1, ttftMs: 40, e2eMs: 1300}), record({index: 2, ttftMs: 240, e2eMs: 1500})]
    const serverTimingsByIndex = new Map([
      [0, timings(64, 1234.8)],
      [1, timings(64, 1260)],
      [2, timings(64, 1247.4)],
    ])
    const round = bench.roundAccuracy({records, serverTimingsByIndex, perUserTokensPerS: 50, llamaBenchTokensPerSecond: 52, llamaBenchSamples: [51, 53.5, 51.5]})
    // server median of {51.0204, 50, 50.5051} = 50.5051 (= 63000 / 1247.4)
    expect(round.serverTokensPerSecond).toBeCloseTo(63000 / 1247.4, 9)
    // raw server median: 64000 / 1247.4 = 51.3067
    expect(round.serverRawTokensPerSecond).toBeCloseTo(64000 / 1247.4, 9)
    expect(round.clientTokensPerSecond).toBe(50)
    // client / server = 50 / 50.5051 = 0.9900 (= 1247.4 / 1260)
    expect(round.clientServerRatio).toBeCloseTo(1247.4 / 1260, 12)
    // paired ratios: 1234.8/1260 = 0.98, 1260/1260 = 1, 1247.4/1260 = 0.99 -> median 0.99
    expect(round.pairedClientServerRatio).toBeCloseTo(0.99, 12)
    // client / llama-bench = 50 / 52 = 0.961538...
    expect(round.clientLlamaBenchRatio).toBeCloseTo(50 / 52, 12)
    expect(round.serverLlamaBenchRatio).toBeCloseTo(63000 / 1247.4 / 52, 12)
    expect([round.requests, round.failed, round.missingTimings, round.tokenMismatches]).toEqual([3, 0, 0, 0])
    // Fastest: all three requests decode at 50 tok/s (20 ms/token); llama-bench's fastest repetition 53.5.
    expect(round.clientFastestRequest).toBeCloseTo(50, 12)
    expect(round.llamaBenchFastestRun).toBe(53.5)
  })

  it('even request count: both sides use 1000 / median(ms per token), so identical timings give exactly 1', () => {
    // Two requests, 63 decode steps each: 20 ms/token (1260 ms) and 30 ms/token (1890 ms), the same on both clocks.
    // median ms/token = 25 -> 40 tok/s on both sides. (The median of tok/s, (50 + 33.33) / 2 = 41.67, would put
    // the server 4% above an identical client: the two forms must not be mixed.)
    const records = [record({index: 0, ttftMs: 100, e2eMs: 1360}), record({index: 1, ttftMs: 100, e2eMs: 1990})]
    const serverTimingsByIndex = new Map([
      [0, timings(64, 1260)],
      [1, timings(64, 1890)],
    ])
    const round = bench.roundAccuracy({records, serverTimingsByIndex, perUserTokensPerS: null, llamaBenchTokensPerSecond: 40})
    expect(round.clientTokensPerSecond).toBeCloseTo(40, 12)
    expect(round.serverTokensPerSecond).toBeCloseTo(40, 12)
    expect(round.clientServerRatio).toBeCloseTo(1, 12)
    expect(round.pairedClientServerRatio).toBeCloseTo(1, 12)
    // raw = median of n / ms: (64000/1260 + 64000/1890) / 2 = (50.7937 + 33.8624) / 2 = 42.328
    expect(round.serverRawTokensPerSecond).toBeCloseTo((64000 / 1260 + 64000 / 1890) / 2, 9)
  })

  it('counts failed requests, requests without timings and token-count mismatches', () => {
    const records = [
      record({index: 0}),
      record({index: 1, error: {kind: 'dropped', message: 'lost its connection'}, ttftMs: null, e2eMs: null}),
      record({index: 2}),
      record({index: 3, outputTokens: 63, e2eMs: 1340}),
    ]
    // Request 2 has no timings; request 3's server counted 64 while the client recorded 63.
    const serverTimingsByIndex = new Map([
      [0, timings(64, 1260)],
      [3, timings(64, 1260)],
    ])
    const round = bench.roundAccuracy({records, serverTimingsByIndex, perUserTokensPerS: null, llamaBenchTokensPerSecond: 50})
    expect([round.requests, round.failed, round.missingTimings, round.tokenMismatches]).toEqual([4, 1, 1, 1])
    // No summary figure given: the client is the median of the per-request values 50, 50, 62/1.24 = 50 -> 50.
    expect(round.clientTokensPerSecond).toBeCloseTo(50, 12)
    expect(round.serverTokensPerSecond).toBeCloseTo(50, 12)
  })
})

describe('perf/server-accuracy: medians over rounds and verdicts', () => {
  it('median: odd count = the middle value, even = mean of the two middle ones, none = null', () => {
    expect(bench.median([3, 1, 2])).toBe(2)
    expect(bench.median([4, 1, 3, 2])).toBe(2.5)
    expect(bench.median([])).toBeNull()
    expect(bench.median([Number.NaN, 5])).toBe(5)
  })

  it('reports the median of per-round ratios, not the ratio of medians', () => {
    // Rounds (client, llama-bench): (40, 44) -> 0.90909, (57, 62) -> 0.91935, (60, 61.5) -> 0.97561.
    // Median of per-round ratios = 0.91935; the ratio of medians would be 57 / 61.5 = 0.92683 (different pairs).
    const rounds = [
      {clientTokensPerSecond: 40, llamaBenchTokensPerSecond: 44, clientLlamaBenchRatio: 40 / 44, clientServerRatio: 0.99},
      {clientTokensPerSecond: 57, llamaBenchTokensPerSecond: 62, clientLlamaBenchRatio: 57 / 62, clientServerRatio: 1.01},
      {clientTokensPerSecond: 60, llamaBenchTokensPerSecond: 61.5, clientLlamaBenchRatio: 60 / 61.5, clientServerRatio: 1.0},
    ]
    const summary = bench.summarizeRounds(rounds)
    expect(summary.clientLlamaBenchRatio).toBeCloseTo(57 / 62, 12)
    expect(summary.clientLlamaBenchRatio).not.toBeCloseTo(57 / 61.5, 3)
    expect(summary.clientTokensPerSecond).toBe(57)
    expect(summary.llamaBenchTokensPerSecond).toBe(61.5)
    expect(summary.clientServerRatio).toBe(1.0)
    // No fastest-request fields given: the bests fall back to the round figures; 60 / 62 = 0.96774.
    expect([summary.clientBest, summary.llamaBenchBest]).toEqual([60, 62])
    expect(summary.bestRatio).toBeCloseTo(60 / 62, 12)
    // With them, the fastest request and the fastest repetition over all rounds win: 63 / 64 = 0.984375.
    const withFastest = bench.summarizeRounds([
      {...rounds[0], clientFastestRequest: 63, llamaBenchFastestRun: 50},
      {...rounds[1], clientFastestRequest: 58, llamaBenchFastestRun: 64},
    ])
    expect([withFastest.clientBest, withFastest.llamaBenchBest, withFastest.bestRatio]).toEqual([63, 64, 63 / 64])
    // 0.91935 < 0.95: missed; |1.0 - 1| <= 0.03: ok.
    expect([summary.clientServerPass, summary.clientLlamaBenchPass]).toEqual([true, false])
  })

  it("targets: client/server within 3% either side, client/llama-bench >= 0.95 (the issue author's numbers)", () => {
    // Issue 4: client 57.4, server 58.3, llama-bench 61.5 tok/s -> 57.4/58.3 = 0.98456 (ok), 57.4/61.5 = 0.93333 (missed).
    const issue = bench.summarizeRounds([{clientServerRatio: 57.4 / 58.3, clientLlamaBenchRatio: 57.4 / 61.5}])
    expect([issue.clientServerPass, issue.clientLlamaBenchPass]).toEqual([true, false])
    expect(bench.summarizeRounds([{clientServerRatio: 1.031, clientLlamaBenchRatio: 0.95}])).toMatchObject({clientServerPass: false, clientLlamaBenchPass: true})
    expect(bench.summarizeRounds([{clientServerRatio: 0.969, clientLlamaBenchRatio: 0.9499}])).toMatchObject({clientServerPass: false, clientLlamaBenchPass: false})
    expect(bench.summarizeRounds([])).toMatchObject({clientServerRatio: null, clientServerPass: false, clientLlamaBenchPass: false})
    expect([bench.CLIENT_SERVER_TOLERANCE, bench.LLAMA_BENCH_TARGET]).toEqual([0.03, 0.95])
  })
})
