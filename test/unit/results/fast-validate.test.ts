import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {parseResultFile} from '../../../src/results/read.js'
import {certainlyMatchesResultFileSchema, certainlyMatchesResultFileV1Schema} from '../../../src/results/fast-validate.js'
import {type LevelRecord, type ResultFile, resultFileSchema, resultFileV1Schema} from '../../../src/results/schema.js'
import {serializeResultFile} from '../../../src/results/write.js'
import {summarizeLevel} from '../../../src/stats/summarize.js'
import {sampleLevel, sampleRequest, sampleResult} from './sample-result.js'

/** A level using every optional branch of the schema: failed request, chunkTokens, goodput, telemetry, /metrics, v3 records. */
function richLevel(): LevelRecord {
  const requests = [
    sampleRequest(0, {chunkTokens: [1, 2, 1, 0], cachedTokens: 64, session: {id: 0, turn: 1}}),
    sampleRequest(1, {cachedTokens: null}),
    sampleRequest(2, {ttftMs: null, e2eMs: null, countedTokens: 0, outputTokens: 0, chunkOffsetsMs: [], error: {kind: 'timeout', message: 'no token in 30 s'}}),
  ]
  const window = {startMs: 1000, endMs: 3000}
  return {
    load: {kind: 'rate', value: 2.5},
    warmupRequests: 0,
    window,
    status: 'partial',
    requests,
    summary: summarizeLevel(requests, window, {ttftMs: 150, tpotMs: 120}),
    telemetry: {
      gpuSamples: [{tMs: 1000, gpu: 0, powerW: 250.5, utilizationPct: 97, memoryUsedMiB: 20_000, smClockMHz: 1980, temperatureC: 61}],
      energyJ: 501,
      energySource: 'integrated',
      joulesPerOutputToken: 0.5,
      notes: ['one sample'],
    },
    serverMetrics: {source: 'llamacpp', before: {'llamacpp:tokens_predicted_total': 10}, after: {'llamacpp:tokens_predicted_total': 18}, deltas: {'llamacpp:tokens_predicted_total': 8}},
    cache: {intendedHitRate: 0.75, measuredHitRate: 0.25, cachedTokens: 64, promptTokens: 256, source: 'server-usage'},
    clientHealth: {
      eventLoopDelayMs: {count: 20, p50: 0.1, p99: 1.2, max: 3},
      gcPauseMs: {count: 2, p50: 1, p99: 2, max: 2, totalMs: 3},
      threadGcPauseMs: [{count: 4, p50: 0.5, p99: 1.5, max: 1.5, totalMs: 2.5}],
    },
  }
}

function richResult(): ResultFile {
  const base = sampleResult()
  return sampleResult({
    finishedAt: '2026-11-22T06:20:00.000+01:00',
    gpuProfile: 'h100-sxm',
    workload: {...base.workload, shape: {promptCache: 'on', seed: 1, prefix: {tokens: 384, groups: 2}, sessions: {turns: 3, thinkTimeMs: 500}, input: {kind: 'normal', mean: 128, stdev: 32, min: 16, max: 512}, output: {kind: 'histogram', file: 'h.json', bins: [{tokens: 64, weight: 2}]}, arrivals: {process: 'gamma', burstiness: 0.5, rampMs: 10_000}, trace: {file: 't.jsonl', sha256: 'a'.repeat(64), requests: 5, blockTokens: 512, replaySpeed: 2}}},
    host: {...base.host, gpus: [{vendor: 'NVIDIA', model: 'H100 80GB HBM3', vramMiB: 81_559, driver: '550.54'}]},
    levels: [sampleLevel(1, 3), richLevel()],
    status: 'complete',
    notes: ['a note'],
  })
}

/** Every path (object keys and array indexes) inside a JSON value, the root excluded. */
function pathsOf(value: unknown, prefix: PropertyKey[] = []): PropertyKey[][] {
  if (typeof value !== 'object' || value === null) return []
  const entries: [PropertyKey, unknown][] = Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value)
  return entries.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])])
}

type Mutation = {kind: 'set'; value: unknown} | {kind: 'delete'} | {kind: 'add-key'}

function mutate(root: unknown, path: PropertyKey[], mutation: Mutation): unknown {
  const copy = JSON.parse(JSON.stringify(root)) as Record<PropertyKey, unknown>
  let parent: Record<PropertyKey, unknown> = copy
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<PropertyKey, unknown>
  const last = path.at(-1)!
  if (mutation.kind === 'set') parent[last] = mutation.value
  else if (mutation.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1)
    else delete parent[last]
  } else {
    const target = parent[last]
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) (target as Record<string, unknown>)['extra'] = 1
    else parent[last] = [target, target]
  }
  return copy
}

// Values a hand-written check tends to get wrong: signs, zero, fractions, huge or unsafe integers, wrong types,
// strings that are valid elsewhere in the schema (enum members, a uuid, a date).
const edgeValues: unknown[] = [
  -1, -0.5, 0, 0.5, 1, 2 ** 53, 1e308, '', 'x', 'A'.repeat(64), 'a'.repeat(63), 'timeout', 'concurrency', 'int4', 'cpu', 'complete',
  '3b241101-e2bb-4255-8caf-4136c566a962', '2026-11-22T06:15:00Z', '2026-11-22', true, false, null, [], {}, [1], [-1], [0.5], ['x'], {count: 1},
]

describe('certainlyMatchesResultFileSchema (the reader fast path)', () => {
  it('is certain for valid files, so the fast path is actually taken (plain and rich)', () => {
    for (const result of [sampleResult(), richResult()]) {
      const data = JSON.parse(serializeResultFile(result)) as unknown
      expect(resultFileSchema.safeParse(data).success).toBe(true)
      expect(certainlyMatchesResultFileSchema(data)).toBe(true)
    }
  })

  it('is never more lenient than resultFileSchema: every path x every edge mutation (exhaustive)', () => {
    // One level (the rich one, every optional branch) keeps this to ~8,000 mutated files.
    const rich = JSON.parse(serializeResultFile({...richResult(), levels: [richLevel()]})) as unknown
    const mutations: Mutation[] = [...edgeValues.map((value) => ({kind: 'set' as const, value})), {kind: 'delete'}, {kind: 'add-key'}]
    let rejectedByBoth = 0
    let tried = 0
    for (const path of pathsOf(rich)) {
      for (const change of mutations) {
        const mutated = mutate(rich, path, change)
        const zodAccepts = resultFileSchema.safeParse(mutated).success
        if (certainlyMatchesResultFileSchema(mutated) && !zodAccepts) throw new Error(`fast check accepts what zod rejects: ${JSON.stringify(path)} ${JSON.stringify(change)}`)
        if (!zodAccepts) rejectedByBoth++
        tried++
      }
    }
    // The mutations really produce invalid files (most of them break the schema), so the check was exercised.
    expect(rejectedByBoth).toBeGreaterThan(tried / 2)
  })

  it('is never more lenient than resultFileSchema: random JSON values at random paths', () => {
    const rich = JSON.parse(serializeResultFile(richResult())) as unknown
    const paths = pathsOf(rich)
    fc.assert(
      fc.property(fc.nat({max: paths.length - 1}), fc.jsonValue(), (pathIndex, value) => {
        const mutated = mutate(rich, paths[pathIndex]!, {kind: 'set', value})
        if (certainlyMatchesResultFileSchema(mutated)) expect(resultFileSchema.safeParse(mutated).success).toBe(true)
      }),
      {numRuns: 500},
    )
  })

  it('returns the same result as zod for a valid file', () => {
    const text = serializeResultFile(richResult())
    expect(parseResultFile(text, 'rich.json')).toEqual(resultFileSchema.parse(JSON.parse(text)))
  })

  it('a violation deep in the bulky part is still reported with its field path', () => {
    const data = JSON.parse(serializeResultFile(richResult())) as ResultFile
    ;(data.levels[1]!.requests[0]!.chunkTokens as number[])[2] = 1.5
    expect(() => parseResultFile(JSON.stringify(data), 'bad.json')).toThrow(
      'bad.json does not match the result-file schema (version 3): levels[1].requests[0].chunkTokens[2]: expected non-negative integers, received 1.5',
    )
    const unordered = JSON.parse(serializeResultFile(richResult())) as ResultFile
    unordered.levels[0]!.window.endMs = 999
    try {
      parseResultFile(JSON.stringify(unordered), 'bad.json')
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(CapplanError)
      expect((error as CapplanError).message).toContain('levels[0].window.endMs: window ends before it starts')
    }
  })
})

describe('certainlyMatchesResultFileV1Schema (version 1 files, still read by the thousand)', () => {
  const v1 = () => {
    const data = JSON.parse(serializeResultFile({...richResult(), levels: [richLevel()]})) as Record<string, unknown>
    return {...data, schemaVersion: 1, capplan: {version: '0.1.0', command: "capplan bench --dataset 'a b.jsonl'"}}
  }

  it('is certain for a valid version 1 file, and only for version 1', () => {
    expect(resultFileV1Schema.safeParse(v1()).success).toBe(true)
    expect(certainlyMatchesResultFileV1Schema(v1())).toBe(true)
    expect(certainlyMatchesResultFileSchema(v1())).toBe(false)
    expect(certainlyMatchesResultFileV1Schema(JSON.parse(serializeResultFile(richResult())))).toBe(false)
  })

  it('is never more lenient than resultFileV1Schema: every path x every edge mutation', () => {
    const data = v1()
    const mutations: Mutation[] = [...edgeValues.map((value) => ({kind: 'set' as const, value})), {kind: 'delete'}, {kind: 'add-key'}]
    for (const path of pathsOf(data)) {
      for (const change of mutations) {
        const mutated = mutate(data, path, change)
        if (certainlyMatchesResultFileV1Schema(mutated) && !resultFileV1Schema.safeParse(mutated).success) {
          throw new Error(`fast check accepts what zod rejects: ${JSON.stringify(path)} ${JSON.stringify(change)}`)
        }
      }
    }
  })
})
