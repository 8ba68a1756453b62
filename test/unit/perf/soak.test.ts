import {describe, expect, it} from 'vitest'

import * as soak from '../../../perf/soak.js'
import type {SourceStats} from '../../../perf/sse-source.js'
import type {RequestRecord, ResultFile} from '../../../src/results/schema.js'
import {summarizeLevel} from '../../../src/stats/summarize.js'

/**
 * The pure parts of perf/soak.ts. The recomputed summary is also checked against the project's own
 * summarizeLevel, so the soak's independent arithmetic cannot drift from what a result file holds.
 */

type SourceFailed = SourceStats['failed']

const MiB = 2 ** 20

describe('parseVmRssBytes', () => {
  it('reads VmRSS in kB as bytes', () => {
    // 150000 kB x 1024 = 153,600,000 bytes
    expect(soak.parseVmRssBytes('Name:\tnode\nVmPeak:\t  900000 kB\nVmRSS:\t  150000 kB\nThreads:\t11\n')).toBe(153_600_000)
  })
  it('is null without a VmRSS line (a zombie)', () => {
    expect(soak.parseVmRssBytes('Name:\tnode\nState:\tZ (zombie)\n')).toBeNull()
  })
})

describe('rssReport', () => {
  // One sample per second for 0..12 s; the level runs from 2 s to 10 s.
  const seconds = Array.from({length: 13}, (_, s) => s)

  it('start, end, max, ratio and the slope over the middle half of a steady 1 MiB/s growth', () => {
    const report = soak.rssReport(
      seconds.map((s) => ({tMs: s * 1000, bytes: (100 + s) * MiB})),
      {startMs: 2000, endMs: 10_000},
    )!
    // In the level: s = 2..10 (9 samples): start 102 MiB, end 110 MiB, max 110 MiB, ratio 110 / 102.
    expect(report.startBytes).toBe(102 * MiB)
    expect(report.endBytes).toBe(110 * MiB)
    expect(report.maxBytes).toBe(110 * MiB)
    expect(report.endOverStart).toBe(110 / 102)
    expect(report.samples).toBe(9)
    // Middle half of 2..10 s = 4..8 s (5 samples); 1 MiB per second = 60 MB per minute.
    expect(report.middleSamples).toBe(5)
    expect(report.slopeMBPerMin).toBeCloseTo(60, 9)
  })

  it('a spike in the middle raises the max but not the slope (it is symmetric about the middle)', () => {
    const report = soak.rssReport(
      seconds.map((s) => ({tMs: s * 1000, bytes: (s === 6 ? 150 : 100) * MiB})),
      {startMs: 2000, endMs: 10_000},
    )!
    // Points (4,100) (5,100) (6,150) (7,100) (8,100): sum (x - 6)(y - mean) = 20 + 10 + 0 - 10 - 20 = 0.
    expect(report.maxBytes).toBe(150 * MiB)
    expect(report.endOverStart).toBe(1)
    expect(report.slopeMBPerMin).toBeCloseTo(0, 12)
  })

  it('null without samples in the level; no slope from fewer than 2 middle samples', () => {
    expect(soak.rssReport([{tMs: 0, bytes: MiB}], {startMs: 1000, endMs: 2000})).toBeNull()
    const short = soak.rssReport(
      [
        {tMs: 1000, bytes: MiB},
        {tMs: 2000, bytes: 2 * MiB},
      ],
      {startMs: 1000, endMs: 2000},
    )!
    expect(short.middleSamples).toBe(0)
    expect(short.slopeMBPerMin).toBeNull()
    expect(short.endOverStart).toBe(2)
  })
})

describe('parseGcTrace and liveHeapTrend', () => {
  // Lines of a real `node --trace-gc bin/run.js bench ... --json` on this machine, with capplan's JSON between them.
  const trace = [
    '[27424:0x120835c0]      107 ms: Scavenge 4.4 (4.5) -> 3.7 (5.5) MB, 4.02 / 0.01 ms  (average mu = 1.000, current mu = 1.000) allocation failure; ',
    '[27424:0x120835c0]     3007 ms: Mark-Compact 42.0 (70.3) -> 32.0 (70.8) MB, 187.78 / 0.31 ms  (+ 61.4 ms in 13 steps since start of marking, biggest step 60.2 ms, walltime since start of marking 359 ms) (average mu = 0.899, current mu = 0.899) finalize incremental marking via stack guard; GC in old space requested',
    '{',
    '  "results": []',
    '[27424:0x120835c0]    37903 ms: Mark-Compact 128.4 (160.3) -> 36.7 (156.3) MB, 14.76 / 4.81 ms  (+ 27.9 ms in 308 steps since start of marking, biggest step 1.9 ms, walltime since start of marking 58 ms) (average mu = 0.992, current mu = 0.999) finalize incremental marking via task; GC in old space requested',
    '[27424:0x120835c0]    79328 ms: Mark-Compact 148.7 (181.4) -> 39.3 (181.2) MB, 18.55 / 5.13 ms  (+ 19.4 ms in 215 steps since start of marking, biggest step 0.6 ms, walltime since start of marking 53 ms) (average mu = 0.997, current mu = 0.999) finalize incremental marking via task; GC in old space requested',
    '}',
  ].join('\n')

  it('keeps the full GCs (live heap after each) and returns every other line untouched', () => {
    const {fullGcs, rest} = soak.parseGcTrace(trace)
    expect(fullGcs).toEqual([
      {tMs: 3007, beforeMB: 42, liveMB: 32, reservedMB: 70.8, forced: false, isolate: '27424:0x120835c0'},
      {tMs: 37_903, beforeMB: 128.4, liveMB: 36.7, reservedMB: 156.3, forced: false, isolate: '27424:0x120835c0'},
      {tMs: 79_328, beforeMB: 148.7, liveMB: 39.3, reservedMB: 181.2, forced: false, isolate: '27424:0x120835c0'},
    ])
    expect(JSON.parse(rest)).toEqual({results: []})
  })

  it('marks a full GC forced by gc() (reason "testing", from node --expose-gc --trace-gc)', () => {
    const forced =
      '[21820:0x3696ce80]       81 ms: Mark-Compact 7.6 (9.9) -> 6.5 (15.4) MB, 8.43 / 0.00 ms  (average mu = 1.000, current mu = 1.000) testing; GC in old space requested'
    expect(soak.parseGcTrace(forced).fullGcs).toEqual([{tMs: 81, beforeMB: 7.6, liveMB: 6.5, reservedMB: 15.4, forced: true, isolate: '21820:0x3696ce80'}])
  })

  it("keeps only the main isolate's full GCs: the one gc() was forced on", () => {
    const twoIsolates = [
      '[900:0x1111]     5000 ms: Mark-Compact 60.0 (90.0) -> 47.8 (90.0) MB, 10.0 / 0.0 ms  (average mu = 1.000, current mu = 1.000) testing; GC in old space requested',
      '[900:0x2222]     6000 ms: Mark-Compact 5.0 (6.0) -> 4.5 (6.0) MB, 1.0 / 0.0 ms  (average mu = 1.000, current mu = 1.000) allocation failure; GC in old space requested',
      '[900:0x1111]     7000 ms: Mark-Compact 62.0 (90.0) -> 51.0 (90.0) MB, 10.0 / 0.0 ms  (average mu = 1.000, current mu = 1.000) finalize incremental marking via task; GC in old space requested',
    ].join('\n')
    const kept = soak.mainIsolateGcs(soak.parseGcTrace(twoIsolates).fullGcs)
    expect(kept.map((gc) => [gc.tMs, gc.liveMB])).toEqual([
      [5000, 47.8],
      [7000, 51],
    ])
    // With no forced GC the first isolate seen is the main one.
    expect(soak.mainIsolateGcs(soak.parseGcTrace(twoIsolates.replace(' testing;', ' allocation failure;')).fullGcs)).toHaveLength(2)
  })

  it('fits the live heap trend after the first tenth of the level, from 3 points over 20 s', () => {
    const {fullGcs} = soak.parseGcTrace(trace)
    // Level 0..100,000 ms: the GC at 3,007 ms is in the level but inside its first tenth (warm-up), so the fit
    // uses 37,903 and 79,328 ms plus a third point: (90,000 ms, 40.5 MB).
    const points = [...fullGcs, {tMs: 90_000, liveMB: 40.5}]
    const report = soak.liveHeapTrend(points, {startMs: 0, endMs: 100_000})
    expect(report).toMatchObject({points: 4, fittedPoints: 3, firstMB: 32, lastMB: 40.5})
    // Least squares over x = 0.631717, 1.322133, 1.5 min; y = 36.7, 39.3, 40.5 MB:
    // mean x = 1.151283, mean y = 38.833333; Sxy = sum (x - mx)(y - my) = 1.108409 + 0.079730 + 0.581195 = 1.769334;
    // Sxx = 0.269950 + 0.029190 + 0.121603 = 0.420743 -> 1.769334 / 0.420743 = 4.2053 MB/min
    const x = [37_903 / 60_000, 79_328 / 60_000, 1.5]
    const y = [36.7, 39.3, 40.5]
    const mx = (x[0]! + x[1]! + x[2]!) / 3
    const my = (y[0]! + y[1]! + y[2]!) / 3
    const sxy = x.reduce((sum, xi, i) => sum + (xi - mx) * (y[i]! - my), 0)
    const sxx = x.reduce((sum, xi) => sum + (xi - mx) ** 2, 0)
    expect(report.slopeMBPerMin).toBeCloseTo(sxy / sxx, 9)
    expect(report.slopeMBPerMin).toBeCloseTo(4.2053, 3)
  })

  it('has no trend from 2 points, or from points less than 20 s apart', () => {
    const {fullGcs} = soak.parseGcTrace(trace)
    expect(soak.liveHeapTrend(fullGcs, {startMs: 0, endMs: 100_000}).slopeMBPerMin).toBeNull()
    const close = [
      {tMs: 20_000, liveMB: 30},
      {tMs: 25_000, liveMB: 31},
      {tMs: 35_000, liveMB: 32},
    ]
    expect(soak.liveHeapTrend(close, {startMs: 0, endMs: 100_000}).slopeMBPerMin).toBeNull()
  })
})

describe('source failures in capplan kinds', () => {
  const before: SourceStats = {requests: 64, completed: 59, failed: {'http-500': 1, drop: 2, malformed: 1, 'error-event': 1}, contentChunks: 400, tokensSent: 400}
  const after: SourceStats = {requests: 1112, completed: 993, failed: {'http-500': 24, drop: 30, malformed: 33, 'error-event': 32}, contentChunks: 62_000, tokensSent: 62_000}

  it('maps each injected kind to the kind stream-client.ts assigns', () => {
    expect(soak.SOURCE_TO_CAPPLAN_KIND).toEqual({'http-500': 'http', drop: 'dropped', malformed: 'stream-error', 'error-event': 'stream-error'})
  })

  it('the level = stats at its end - stats at its start, then counted in capplan kinds', () => {
    const level = soak.statsDelta(before, after)
    // 1112 - 64 = 1048 requests; 993 - 59 = 934 completed; failures 23, 28, 32, 31 (sum 114 = 1048 - 934).
    expect(level).toEqual({requests: 1048, completed: 934, failed: {'http-500': 23, drop: 28, malformed: 32, 'error-event': 31}, contentChunks: 61_600, tokensSent: 61_600})
    // malformed + error-event = 32 + 31 = 63 stream errors; zero counts are left out.
    expect(soak.expectedCapplanErrors(level.failed)).toEqual({http: 23, dropped: 28, 'stream-error': 63})
    expect(soak.expectedCapplanErrors({'http-500': 0, drop: 3, malformed: 0, 'error-event': 0})).toEqual({dropped: 3})
  })

  it('compares per kind over both sides: a kind only capplan saw is a mismatch', () => {
    const expected = {http: 23, dropped: 28, 'stream-error': 63}
    expect(soak.compareErrors({http: 23, dropped: 28, 'stream-error': 63}, expected).match).toBe(true)
    const off = soak.compareErrors({http: 23, dropped: 27, 'stream-error': 63, timeout: 1}, expected)
    expect(off.match).toBe(false)
    expect(off.rows).toEqual([
      {kind: 'dropped', capplan: 27, source: 28},
      {kind: 'http', capplan: 23, source: 23},
      {kind: 'stream-error', capplan: 63, source: 63},
      {kind: 'timeout', capplan: 1, source: 0},
    ])
  })
})

describe('percentile (numpy default, linear between closest ranks)', () => {
  it('interpolates', () => {
    // n = 4: p50 -> h = 1.5 -> 2 + 0.5 x (3 - 2) = 2.5; p90 -> h = 2.7 -> 3 + 0.7 x (4 - 3) = 3.7
    expect(soak.percentile([4, 1, 3, 2], 0.5)).toBe(2.5)
    expect(soak.percentile([4, 1, 3, 2], 0.9)).toBeCloseTo(3.7, 12)
    expect(soak.percentile([7], 0.5)).toBe(7)
  })
})

function request(index: number, ttftMs: number | null, chunkOffsetsMs: number[], error: RequestRecord['error'] = null): RequestRecord {
  return {
    index,
    startMs: index * 100,
    ttftMs,
    e2eMs: chunkOffsetsMs.at(-1) ?? null,
    inputTokens: 32,
    outputTokens: error === null ? chunkOffsetsMs.length : 0,
    countedTokens: chunkOffsetsMs.length,
    chunkOffsetsMs,
    chunkTokens: null,
    error,
  }
}

describe('recomputeSummary and compareSummary', () => {
  // A: TTFT 100, E2E 500, 5 tokens -> TPOT (500 - 100) / 4 = 100. B: TTFT 200, E2E 800, 4 tokens -> TPOT 600 / 3 = 200.
  // C: HTTP 500, no tokens. Window 0..2000 ms = 2 s.
  const requests = [
    request(0, 100, [100, 200, 300, 400, 500]),
    request(1, 200, [200, 400, 600, 800]),
    request(2, null, [], {kind: 'http', message: 'POST /v1/completions: HTTP 500'}),
  ]
  const window = {startMs: 0, endMs: 2000}

  it('recomputes from the successful requests only', () => {
    expect(soak.recomputeSummary({requests, window})).toEqual({
      completed: 2,
      failed: 1,
      errors: {http: 1},
      durationS: 2,
      outputTokensPerS: 4.5, // (5 + 4) / 2 s
      inputTokensPerS: 32, // (32 + 32) / 2 s: the failed request's prompt is not counted
      totalTokensPerS: 36.5,
      requestsPerS: 1,
      ttftMs: {count: 2, mean: 150, p50: 150},
      tpotMs: {count: 2, mean: 150, p50: 150},
      e2eMs: {count: 2, mean: 650, p50: 650},
    })
  })

  it("equals the project's summarizeLevel, and finds a stored number off by 1e-6", () => {
    const stored = summarizeLevel(requests, window)
    const recomputed = soak.recomputeSummary({requests, window})
    expect(soak.compareSummary(stored, recomputed)).toMatchObject({match: true, maxRelativeDiff: 0})
    const tampered = {...stored, throughput: {...stored.throughput, outputTokensPerS: 4.5 * (1 + 1e-6)}}
    const off = soak.compareSummary(tampered, recomputed)
    expect(off.match).toBe(false)
    expect(off.worstField).toBe('throughput.outputTokensPerS')
    // |4.5(1 + 1e-6) - 4.5| / (4.5(1 + 1e-6)) = 1e-6 / (1 + 1e-6)
    expect(off.maxRelativeDiff).toBeCloseTo(1e-6 / (1 + 1e-6), 15)
    const miscounted = soak.compareSummary({...stored, errors: {dropped: 1}}, recomputed)
    expect(miscounted).toMatchObject({match: false, worstField: 'errors', maxRelativeDiff: Number.POSITIVE_INFINITY})
  })
})

describe('small helpers', () => {
  it('reads the warmup failure count from the notes bench writes', () => {
    expect(soak.warmupFailuresFromNotes(['llama.cpp threads: 2', 'warmup: 5 request(s) failed: POST /v1/completions: HTTP 500'])).toBe(5)
    expect(soak.warmupFailuresFromNotes(['warmup: 64 request(s) of 8 output tokens at concurrency 64 before the first level, not recorded'])).toBe(0)
  })

  it('caps requests at twice the pace the source allows, plus one round', () => {
    // 64 tokens x 15 ms = 960 ms per request; 2 x 64 x 180,000 / 960 = 24,000; + 64
    expect(soak.requestCap({concurrency: 64, durationMs: 180_000, outputTokens: 64, intervalMs: 15})).toBe(24_064)
    // 4 tokens per chunk: 16 chunks x 15 ms = 240 ms; 2 x 64 x 180,000 / 240 = 96,000; + 64
    expect(soak.requestCap({concurrency: 64, durationMs: 180_000, outputTokens: 64, tokensPerChunk: 4, intervalMs: 15})).toBe(96_064)
  })

  it('writes distinct JSONL prompts of the asked length', () => {
    const lines = soak
      .datasetLines(3, 20)
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as {prompt: string}).prompt)
    // "0 soak prompt " is 14 characters; 6 letters from the cycle (shifted by the index) make 20.
    expect(lines).toEqual(['0 soak prompt abcdef', '1 soak prompt bcdefg', '2 soak prompt cdefgh'])
  })
})

describe('checkSoak', () => {
  // A level whose file agrees with the source: 2 ok, 1 HTTP 500 (plus a warmup of 2 with 1 drop).
  const requests = [
    request(0, 100, [100, 200, 300, 400, 500]),
    request(1, 200, [200, 400, 600, 800]),
    request(2, null, [], {kind: 'http', message: 'POST /v1/completions: HTTP 500'}),
  ]
  const window = {startMs: 0, endMs: 2000}
  const summary = summarizeLevel(requests, window)
  const result = {
    status: 'complete',
    notes: [
      'warmup: 1 request(s) failed: POST /v1/completions lost its connection',
      'concurrency 2: duration 2s reached after 3 requests; 1-minute load average at the end 1.00',
    ],
    levels: [{load: {kind: 'concurrency', value: 2}, status: 'complete', window, requests, summary}],
  } as unknown as ResultFile
  const stats = (requests: number, completed: number, failed: Partial<SourceFailed>): SourceStats => ({
    requests,
    completed,
    failed: {'http-500': 0, drop: 0, malformed: 0, 'error-event': 0, ...failed},
    contentChunks: 0,
    tokensSent: 0,
  })
  // The soak's clock: the level started at 0 and ended at 40 s.
  const atStart = {tMs: 0, stats: stats(2, 1, {drop: 1})}
  const atEnd = {tMs: 40_000, stats: stats(5, 3, {drop: 1, 'http-500': 1})}
  const every5s = Array.from({length: 9}, (_, k) => k * 5000)
  const input = {
    result,
    resultPath: '/tmp/x.json',
    exit: {code: 0, signal: null},
    scrapes: [atStart, atEnd],
    finalStats: atEnd.stats,
    samples: every5s.map((tMs, k) => ({tMs, bytes: (100 + k) * MiB})),
    // A full GC forced every 5 s: the live heap grows 0.001 MB per 5 s = 0.012 MB/min, below the 3 records'
    // ~700 bytes of JSON per 2 s window = ~0.02 MB/min.
    fullGcs: every5s.map((tMs, k) => ({tMs, beforeMB: 60, liveMB: 40 + 0.001 * k, reservedMB: 80, forced: true, isolate: '1:0x1'})),
    options: {concurrency: 2, durationMs: 2000, inputTokens: 32, outputTokens: 5, intervalMs: 15, failRate: 0.1, seed: 1, probeEveryMs: 5000},
    cap: 10,
    promptSource: 'tokens',
  }

  it('passes every check when the file and the source agree', () => {
    const checked = soak.checkSoak(input)
    expect(checked.checks.filter((c) => !c.ok)).toEqual([])
    expect(checked.ok).toBe(true)
    expect(soak.formatSoak(checked)).toContain('failures by kind (capplan / source): http 1/1')
  })

  it('fails the by-kind and count checks when the source injected a failure capplan did not record', () => {
    const extraDrop = {...atEnd, stats: stats(6, 3, {drop: 2, 'http-500': 1})}
    const checked = soak.checkSoak({...input, scrapes: [atStart, extraDrop], finalStats: extraDrop.stats})
    expect(checked.ok).toBe(false)
    expect(checked.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([
      'requests recorded = requests the source served in the level',
      'failures by kind = failures injected by kind',
    ])
    expect(soak.formatSoak(checked)).toContain('[FAIL] failures by kind = failures injected by kind: dropped 0/1, http 1/1')
  })

  it("fails on Node's listener-leak warning in capplan's stderr (as printed before stream-client raised the limit)", () => {
    const stderr =
      '(node:27424) MaxListenersExceededWarning: Possible EventTarget memory leak detected. 11 abort listeners added to [AbortSignal]. MaxListeners is 10. Use events.setMaxListeners() to increase limit\n'
    const checked = soak.checkSoak({...input, stderr})
    expect(checked.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['no memory-leak warning from Node on stderr'])
  })

  it('fails the memory checks when the live heap and RSS grow 1 MiB every 5 s', () => {
    const fullGcs = every5s.map((tMs, k) => ({tMs, beforeMB: 60, liveMB: 40 + k, reservedMB: 80, forced: true, isolate: '1:0x1'}))
    const checked = soak.checkSoak({...input, fullGcs, samples: every5s.map((tMs, k) => ({tMs, bytes: (100 + 8 * k) * MiB}))})
    // RSS 100 -> 164 MiB = x1.64; live heap +12 MB/min against ~0.02 MB/min of records.
    expect(checked.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([
      'RSS at the end < 1.5 x RSS at the level start (a full GC forced every 5 s)',
      'live heap (after full GCs) grows no faster than the request records it keeps',
    ])
  })

  it('fails (not passes) the live-heap check when there are too few full GCs to see a trend', () => {
    const checked = soak.checkSoak({...input, fullGcs: [], options: {...input.options, probeEveryMs: 0}})
    const failed = checked.checks.filter((c) => !c.ok)
    expect(failed.map((c) => c.name)).toEqual(['live heap (after full GCs) grows no faster than the request records it keeps'])
    expect(failed[0]!.detail).toContain('too few full GCs')
  })

  it('fails on exit code 9 for a level with successful requests (bench documents 0 there)', () => {
    const checked = soak.checkSoak({...input, exit: {code: 9, signal: null}})
    expect(checked.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['exit code 0'])
  })
})
