import {describe, expect, it} from 'vitest'

import {CapplanError} from '../../../../src/lib/errors.js'
import {mergeResults} from '../../../../src/report/build/merge.js'
import type {LevelRecord, RequestRecord, ResultFile} from '../../../../src/results/schema.js'
import {summarizeLevel} from '../../../../src/stats/summarize.js'
import {sampleRequest, sampleResult} from '../../results/sample-result.js'

/**
 * report --merge (src/report/build/merge.ts): levels aligned by wall clock (createdAt + window), the overlap as
 * the window, loads summed, the requests that started in the overlap pooled. Hand-checked cases.
 */

const ID = '9f1c2a44-5b6d-4e7f-8a9b-0c1d2e3f4a5b'

function level(concurrency: number, window: {startMs: number; endMs: number}, requests: RequestRecord[]): LevelRecord {
  return {
    load: {kind: 'concurrency', value: concurrency},
    warmupRequests: 2,
    window,
    status: 'complete',
    requests,
    summary: summarizeLevel(requests, window),
    telemetry: null,
    serverMetrics: null,
  }
}

const request = (index: number, startMs: number, ttftMs: number) =>
  sampleRequest(index, {startMs, ttftMs, chunkOffsetsMs: [ttftMs, ttftMs + 100, ttftMs + 200, ttftMs + 300], e2eMs: ttftMs + 300})

// File a: t0 at 06:15:00.000, its level 01.000 .. 02.920 (wall clock: first start .. last end, as bench writes it). File b: t0 half a second later, 01.500 .. 03.500.
const a = sampleResult({
  createdAt: '2026-11-22T06:15:00.000Z',
  levels: [level(2, {startMs: 1000, endMs: 2920}, [request(0, 1000, 100), request(1, 1500, 120), request(2, 2500, 120)])],
})
const b = sampleResult({
  createdAt: '2026-11-22T06:15:00.500Z',
  levels: [
    level(2, {startMs: 1000, endMs: 3000}, [request(0, 1000, 140), request(1, 2000, 160), request(2, 2600, 160)]),
    level(4, {startMs: 4000, endMs: 5000}, [request(0, 4000, 100)]),
  ],
})

function refusal(run: () => unknown): CapplanError {
  try {
    run()
  } catch (error) {
    if (error instanceof CapplanError) return error
    throw error
  }
  throw new Error('expected a refusal')
}

describe('mergeResults', () => {
  it('two processes at concurrency 2, windows 01.0-02.92 and 01.5-03.5 -> concurrency 4, the 4 requests started in 01.5-02.92 over 1500-2960 ms: 16 tokens / 1.46 s = 10.959 tok/s, TTFT p50 130 ms', () => {
    const {result, notes, skippedLoads} = mergeResults(
      [
        {source: 'a.json', result: a},
        {source: 'b.json', result: b},
      ],
      ID,
    )
    expect(result.id).toBe(ID)
    expect(result.levels).toHaveLength(1)
    const merged = result.levels[0]!
    expect(merged.load).toEqual({kind: 'concurrency', value: 4})
    expect(merged.warmupRequests).toBe(4)
    // a's clock: the overlap 01.500 .. 02.920 is 1500 .. 2920 ms after a's t0. The window: the first included
    // start (1500) .. the last end (b's request at 2500 on a's clock, TTFT 160 + 300 = E2E 460: 2960).
    expect(merged.window).toEqual({startMs: 1500, endMs: 2960})
    // In: a's requests at 1500 and 2500; b's at 1000 and 2000 (= 1500 and 2500 on a's clock). Out: a's at 1000
    // (before the overlap) and b's at 2600 (03.100, after it).
    expect(merged.requests.map((r) => [r.index, r.startMs, r.ttftMs])).toEqual([
      [0, 1500, 120],
      [1, 1500, 140],
      [2, 2500, 120],
      [3, 2500, 160],
    ])
    expect(merged.summary.durationS).toBe(1.46)
    expect(merged.summary.throughput.outputTokensPerS).toBeCloseTo(16 / 1.46, 12)
    expect(merged.summary.requests).toEqual({completed: 4, failed: 0})
    // TTFTs 120, 120, 140, 160: p50 = (120 + 140) / 2 = 130.
    expect(merged.summary.ttftMs?.p50).toBe(130)
    expect(skippedLoads).toEqual(['concurrency 4'])
    expect(notes[1]).toBe(
      'concurrency 2 x 2 files -> concurrency 4: the windows overlap 2026-11-22T06:15:01.500Z .. 2026-11-22T06:15:02.920Z (1.420 s), 4 of 6 requests started in it; merged window their first start .. last end (1.460 s); WARNING: the overlap covers only a.json 74.0%, b.json 71.0% of these windows',
    )
    expect(result.notes).toContain('left out (not measured by every file): concurrency 4')
  })

  it('a file merged with itself: the same window, twice the throughput, the same latencies', () => {
    const {result} = mergeResults(
      [
        {source: 'a.json', result: a},
        {source: 'copy.json', result: a},
      ],
      ID,
    )
    const once = a.levels[0]!.summary
    const twice = result.levels[0]!.summary
    expect(result.levels[0]!.window).toEqual(a.levels[0]!.window)
    expect(twice.throughput.outputTokensPerS).toBeCloseTo(2 * once.throughput.outputTokensPerS, 12)
    expect(twice.ttftMs?.count).toBe(2 * once.ttftMs!.count)
    expect([twice.ttftMs?.p50, twice.ttftMs?.p99, twice.ttftMs?.mean]).toEqual([once.ttftMs?.p50, once.ttftMs?.p99, once.ttftMs?.mean])
  })

  it('refuses windows that do not overlap, other experiments, one file, no common load (exit 3, naming the file)', () => {
    const late: ResultFile = {...b, createdAt: '2026-11-22T06:15:05.000Z'}
    const apart = refusal(() =>
      mergeResults(
        [
          {source: 'a.json', result: a},
          {source: 'late.json', result: late},
        ],
        ID,
      ),
    )
    expect(apart.exitCode).toBe(3)
    expect(apart.message).toBe(
      '--merge: the concurrency 2 levels do not overlap in time: a.json 2026-11-22T06:15:01.000Z .. 2026-11-22T06:15:02.920Z, late.json 2026-11-22T06:15:06.000Z .. 2026-11-22T06:15:08.000Z.',
    )
    const int8: ResultFile = {...b, model: {...b.model, quant: 'int8'}}
    expect(
      refusal(() =>
        mergeResults(
          [
            {source: 'a.json', result: a},
            {source: 'int8.json', result: int8},
          ],
          ID,
        ),
      ).message,
    ).toBe('--merge: int8.json measured quantization int8, a.json int4: only files of one experiment merge into one level.')
    expect(refusal(() => mergeResults([{source: 'a.json', result: a}], ID)).message).toBe('--merge needs at least two result files (got 1).')
    const only4: ResultFile = {...b, levels: [b.levels[1]!]}
    expect(
      refusal(() =>
        mergeResults(
          [
            {source: 'a.json', result: a},
            {source: 'b.json', result: only4},
          ],
          ID,
        ),
      ).message,
    ).toBe('--merge: no load was measured by every file (a.json: concurrency 2; b.json: concurrency 4).')
  })
})
