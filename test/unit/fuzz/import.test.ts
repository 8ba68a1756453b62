import {mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import {type ProfileStore} from '../../../src/profiles/store.js'
import {type LoadedResult, loadAnyResult, parseAnyResult} from '../../../src/results/import/load.js'
import {MAX_RESULT_FILE_BYTES} from '../../../src/results/read.js'
import {resultFileSchema} from '../../../src/results/schema.js'
import {applyMutation, byteMutation, expectCapplanError, fixtureFiles, fuzzOptions, nonFiniteNumbers, returnsOrRefuses} from './fuzz-helpers.js'

/**
 * Issue 7 §3, importers: parseAnyResult (capplan files and every peer format, detected by content) fed arbitrary
 * JSON, recorded peer files cut short or with one byte changed, and recorded peer files with one field set to
 * an arbitrary value. Either results that pass the result-file schema (finite numbers only) or ONE
 * INVALID_RESULT naming the file: never a TypeError, never a result the rest of capplan would choke on.
 */

const recorded = fixtureFiles('test/fixtures/peers', /\.jsonl?$/)
const SOURCE = 'peer-under-test.json'

let store: ProfileStore
const context = () => ({capplanVersion: '0.1.0', command: ['capplan', 'import', 'fuzz'], store})
let dir: string

beforeAll(async () => {
  store = await loadProfiles()
  dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-fuzz-import-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Valid results, or one clear INVALID_RESULT naming the source. Returns what happened, for the callers' checks. */
function importsOrRefuses(text: string): LoadedResult[] | CapplanError {
  const outcome = returnsOrRefuses(() => parseAnyResult(text, SOURCE, context()), 'INVALID_RESULT', SOURCE)
  if (outcome instanceof CapplanError) return outcome
  expect(outcome.length).toBeGreaterThan(0)
  for (const loaded of outcome) {
    expect(loaded.source.startsWith(SOURCE)).toBe(true)
    expect(nonFiniteNumbers(loaded.result)).toEqual([])
    const parsed = resultFileSchema.safeParse(loaded.result)
    if (!parsed.success) throw new Error(`${loaded.format} import produced a result the schema refuses: ${JSON.stringify(parsed.error.issues.slice(0, 3))}`)
  }
  return outcome
}

/** Every path (object keys and array indexes) inside a JSON value, the root excluded. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return []
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value)
  return entries.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])])
}

function setAt(root: unknown, at: (string | number)[], value: unknown, remove: boolean): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>
  let parent = copy
  for (const key of at.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>
  const last = at.at(-1)!
  if (!remove) parent[last] = value
  else if (Array.isArray(parent)) parent.splice(Number(last), 1)
  else delete parent[last]
  return copy
}

/** Values that break hand-written arithmetic: zero, negatives, fractions, huge, wrong types, empty containers. */
const edgeValue = fc.oneof(
  fc.constantFrom(0, -1, 0.5, 1e308, -1e308, 2 ** 53, '', 'x', '0', null, true, [], {}, [0], [-1], 'inf', '20260101-000000'),
  fc.jsonValue({maxDepth: 2}),
)

describe('parseAnyResult on hostile input', () => {
  it('arbitrary JSON values and arbitrary text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue().map((value) => JSON.stringify(value)),
          fc.string({maxLength: 200}),
        ),
        (text) => {
          importsOrRefuses(text)
        },
      ),
      fuzzOptions(300),
    )
  })

  it.each(recorded.map(([name, bytes]) => [name, bytes] as const))('%s: cut short or one byte changed', (name, bytes) => {
    // The recorded file itself imports.
    expect(importsOrRefuses(bytes.toString('utf8'))).not.toBeInstanceOf(CapplanError)
    fc.assert(
      fc.property(byteMutation(bytes.length), (mutation) => {
        const outcome = importsOrRefuses(applyMutation(bytes, mutation).toString('utf8'))
        // A JSON document cut before its end is never accepted as a shorter result (JSON lines may be: a cut
        // at a line end leaves whole rows).
        if (mutation.kind === 'truncate' && !name.endsWith('.jsonl') && bytes.subarray(mutation.at).toString('utf8').trim() !== '') {
          expect(outcome).toBeInstanceOf(CapplanError)
        }
      }),
      fuzzOptions(120),
    )
  })

  it.each(recorded.map(([name, bytes]) => [name, bytes] as const))('%s: one field set to an edge value or removed', (name, bytes) => {
    const text = bytes.toString('utf8')
    const jsonLines = name.endsWith('.jsonl')
    const documents: unknown[] = jsonLines
      ? text
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as unknown)
      : [JSON.parse(text)]
    const targets = documents.flatMap((document, index) => pathsOf(document).map((at) => [index, at] as const))
    fc.assert(
      fc.property(fc.constantFrom(...targets), edgeValue, fc.boolean(), ([index, at], value, remove) => {
        const changed = documents.map((document, i) => (i === index ? setAt(document, at, value, remove) : document))
        importsOrRefuses(jsonLines ? changed.map((document) => JSON.stringify(document)).join('\n') : JSON.stringify(changed[0], null, 2))
      }),
      fuzzOptions(200),
    )
  })

  it('a file over the size limit is refused before it is read (sparse file: no disk used)', async () => {
    const huge = path.join(dir, 'huge.json')
    writeFileSync(huge, '')
    truncateSync(huge, MAX_RESULT_FILE_BYTES + 1)
    try {
      await loadAnyResult(huge, context())
      expect.unreachable()
    } catch (error) {
      expectCapplanError(error, 'INVALID_RESULT', huge)
      // Refused by its size (a read would have found 256 MiB of NUL bytes, "not valid JSON").
      expect((error as CapplanError).message).toBe(`${huge} is 256 MiB; capplan reads result files up to 256 MiB.`)
    }
  })
})

describe('reading from the disk', () => {
  it('regression (found reading the error paths, not by a property): a path through a file is NOT_FOUND (the raw ENOTDIR escaped)', async () => {
    const file = path.join(dir, 'plain.json')
    writeFileSync(file, '{}')
    const inside = path.join(file, 'run.json')
    try {
      await loadAnyResult(inside, context())
      expect.unreachable()
    } catch (error) {
      expectCapplanError(error, 'NOT_FOUND', `Result file ${inside} does not exist.`)
    }
  })
})

describe('regressions found by the properties above (each was a TypeError/RangeError or a schema-invalid result)', () => {
  const peer = (name: string) => JSON.parse(readFileSync(path.join('test/fixtures/peers', name), 'utf8')) as Record<string, unknown> & Record<number, Record<string, unknown>>
  const refusal = (value: unknown) => {
    try {
      parseAnyResult(JSON.stringify(value), SOURCE, context())
    } catch (error) {
      expectCapplanError(error, 'INVALID_RESULT', SOURCE)
      return (error as CapplanError).message
    }
    throw new Error('expected an INVALID_RESULT')
  }

  it('llama-bench: a fractional model_size is not a size (bytes recorded as unknown, was a schema-invalid result)', () => {
    // every row: the model is part of the configuration, so one damaged row alone would be another configuration
    const rows = peer('llama_bench.json')
    for (const row of rows as unknown as Record<string, unknown>[]) row['model_size'] = 0.5
    const [loaded] = importsOrRefuses(JSON.stringify(rows)) as LoadedResult[]
    expect(loaded!.result.model.bytes).toBeNull()
  })

  it('llama-bench: avg_ns 1e308 is refused naming avg_ns (the window was Infinity)', () => {
    const rows = peer('llama_bench.json')
    rows[1]!['avg_ns'] = 1e308
    expect(refusal(rows)).toBe(
      `${SOURCE}: avg_ns of pp64, tg32 for models/node-qwen2.5-0.5b-shape-q4_0.gguf adds up to 1e+308 ns, not a duration capplan can use (1 µs to ~31 years).`,
    )
  })

  it('vLLM: ttfts[0] = 1e308 s is refused naming the field (was a RangeError from the statistics)', () => {
    const run = peer('vllm_serve_detailed.json')
    ;(run['ttfts'] as number[])[0] = 1e308
    expect(refusal(run)).toContain(`${SOURCE} is not a vLLM bench serve result capplan understands: ttfts[0]: Too big`)
  })

  it('vLLM: start_times[0] = 1e308 is refused (startMs was Infinity); an empty model_id is refused', () => {
    const run = peer('vllm_serve_detailed.json')
    ;(run['start_times'] as number[])[0] = 1e308
    expect(refusal(run)).toContain('start_times[0]: Too big')
    const summary = peer('vllm_serve_summary.json')
    summary['model_id'] = ''
    expect(refusal(summary)).toContain('model_id: Too small')
  })

  it('GuideLLM: output_tokens 1e308 (was a RangeError) and streams 0 (a load of 0) are refused naming the field', () => {
    const report = peer('guidellm_benchmarks.json') as {
      benchmarks: {requests: {successful: Record<string, unknown>[]}; config: {strategy: Record<string, unknown>; backend: Record<string, unknown>}}[]
    }
    const huge = structuredClone(report)
    huge.benchmarks[0]!.requests.successful[0]!['output_tokens'] = 1e308
    expect(refusal(huge)).toContain(`${SOURCE} benchmarks[0] is not a GuideLLM generative benchmark capplan understands: requests.successful[0].output_tokens: Too big`)
    const idle = structuredClone(report)
    idle.benchmarks[0]!.config.strategy['streams'] = 0
    expect(refusal(idle)).toContain('config.strategy.streams: Too small')
    const unnamed = structuredClone(report)
    unnamed.benchmarks[0]!.config.backend['model'] = ''
    expect((importsOrRefuses(JSON.stringify(unnamed)) as LoadedResult[])[0]!.result.model.profile).toBe('unknown')
  })

  it('(not a regression: two fields changed at once) what no bound foresaw is still one INVALID_RESULT: an unknown strategy with no successful request (a load of 0 req/s)', () => {
    const report = peer('guidellm_benchmarks.json') as {benchmarks: {config: {strategy: Record<string, unknown>}; metrics: {request_totals: Record<string, unknown>}}[]}
    report.benchmarks[0]!.config.strategy['type_'] = 'x'
    report.benchmarks[0]!.metrics.request_totals['successful'] = 0
    expect(refusal(report)).toBe(
      `${SOURCE} holds values capplan cannot record as a guidellm import (a value out of range, or fields that contradict each other): levels[0].load.value: Too small: expected number to be >0`,
    )
  })
})
