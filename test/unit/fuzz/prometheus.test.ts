import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {parsePrometheusText, recordableSamples, sampleKey, serverMetricsFrom, summarizeServerMetrics} from '../../../src/telemetry/prometheus.js'
import {applyMutation, byteMutation, fixtureFiles, fuzzOptions, nonFiniteNumbers} from './fuzz-helpers.js'

/**
 * Issue 7 §3, Prometheus: parsePrometheusText is documented as tolerant (an unreadable line is skipped and
 * counted, never fatal: a scrape must not fail a benchmark), so the only acceptable outcome on ANY text is a
 * return. What it returns must be usable: names that are metric names, a skip count that adds up, and a
 * recorded part (what goes into a result file) of finite numbers only.
 */

const recorded = [...fixtureFiles('test/fixtures/llama-server', /^metrics_.*\.txt$/), ...fixtureFiles('test/fixtures/vllm', /^metrics_.*\.txt$/)]

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/** Parses without throwing, and the result is internally consistent. */
function parsesSanely(text: string): ReturnType<typeof parsePrometheusText> {
  const scrape = parsePrometheusText(text)
  const sampleLines = text.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#')).length
  expect(scrape.samples.length + scrape.skippedLines).toBe(sampleLines)
  for (const sample of scrape.samples) {
    expect(sample.name).toMatch(METRIC_NAME)
    for (const name of Object.keys(sample.labels)) expect(name).toMatch(METRIC_NAME)
  }
  expect(nonFiniteNumbers(recordableSamples(scrape))).toEqual([])
  return scrape
}

/** Counter keys of what a result file would record (the values the level deltas are made of). */
function counters(text: string): Record<string, number> {
  const record = recordableSamples(parsePrometheusText(text))
  return Object.fromEntries(Object.entries(record).filter(([key]) => /_total(\{|$)/.test(key)))
}

/** Exposition-format escaping of a label value (what prometheus_client writes). */
const escapeLabel = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')

describe('parsePrometheusText on hostile input', () => {
  it('arbitrary text (any unicode, CR/LF, braces, quotes): returns, never throws, and adds up', () => {
    const exposition = fc.array(
      fc.oneof(
        fc.constantFrom(
          'vllm:x',
          'llamacpp:y_total',
          '{',
          '}',
          '="',
          '"',
          ',',
          ' ',
          '\\',
          '\n',
          '\r\n',
          '# TYPE a counter',
          '# HELP',
          '1',
          '-2.5e3',
          '+Inf',
          'NaN',
          '1e308',
          '-1.7e308',
          'le="0.1"',
          '__proto__',
        ),
        fc.string({unit: 'binary', maxLength: 8}),
      ),
      {maxLength: 40},
    )
    const text = fc.oneof(
      fc.string({unit: 'binary', maxLength: 200}),
      exposition.map((parts) => parts.join('')),
    )
    fc.assert(
      fc.property(text, text, (before, after) => {
        parsesSanely(before)
        // The pair of scrapes a level records (before, after, their deltas): all finite, as the schema requires.
        expect(nonFiniteNumbers(serverMetricsFrom(before, after))).toEqual([])
        expect(nonFiniteNumbers(serverMetricsFrom(before, before))).toEqual([])
      }),
      fuzzOptions(200),
    )
  })

  it.each(recorded.map(([name, bytes]) => [name, bytes] as const))('%s with one byte truncated / replaced / inserted / deleted', (_name, bytes) => {
    const original = recordableSamples(parsePrometheusText(bytes.toString('utf8')))
    fc.assert(
      fc.property(byteMutation(bytes.length), (mutation) => {
        const text = applyMutation(bytes, mutation).toString('utf8')
        const record = recordableSamples(parsesSanely(text))
        if (mutation.kind === 'truncate') {
          // A cut scrape keeps the lines before the cut as they were; only the cut line may read differently
          // (a number cut short is still a number: the format has no way to tell).
          const differing = Object.keys(record).filter((key) => original[key] !== record[key])
          expect(differing.length).toBeLessThanOrEqual(1)
          return
        }
        // One changed byte touches one line (two when it adds or removes a line feed): every other recorded
        // value is read exactly as before.
        const keys = new Set([...Object.keys(original), ...Object.keys(record)])
        const changed = [...keys].filter((key) => original[key] !== record[key])
        expect(changed.length).toBeLessThanOrEqual(3)
      }),
      fuzzOptions(80),
    )
  })

  it.each(recorded.map(([name, bytes]) => [name, bytes] as const))('%s: counters unchanged by reordering lines, comments, blank lines and CRLF', (_name, bytes) => {
    const text = bytes.toString('utf8')
    const expected = counters(text)
    expect(Object.keys(expected).length).toBeGreaterThan(3)
    const lines = text.split('\n').filter((line) => line !== '')
    const comment = fc.oneof(
      fc.constantFrom('# HELP vllm:fake_total a comment', '# TYPE llamacpp:prompt_tokens_total gauge', '#', '   '),
      fc.string({unit: 'binary', maxLength: 20}).map((body) => `# ${body.replaceAll(/[\r\n]/g, ' ')}`),
    )
    fc.assert(
      fc.property(
        fc.shuffledSubarray(lines, {minLength: lines.length}),
        fc.array(fc.tuple(fc.nat({max: lines.length}), comment), {maxLength: 10}),
        fc.boolean(),
        (shuffled, inserts, crlf) => {
          const withComments = [...shuffled]
          for (const [at, line] of inserts) withComments.splice(at, 0, line)
          expect(counters(withComments.join(crlf ? '\r\n' : '\n') + '\n')).toEqual(expected)
        },
      ),
      fuzzOptions(100),
    )
  })

  it.each(recorded.map(([name, bytes]) => [name, bytes] as const))('%s: any values on a few sample lines, before and after: finite deltas and summary', (_name, bytes) => {
    const lines = bytes.toString('utf8').split('\n')
    const sampleLines = lines.flatMap((line, index) => (line.startsWith('vllm:') || line.startsWith('llamacpp:') ? [index] : []))
    const withValues = (values: Map<number, number>) => lines.map((line, i) => (values.has(i) ? line.replace(/ \S+$/, ` ${values.get(i)}`) : line)).join('\n')
    const value = fc.oneof(fc.double(), fc.constantFrom(1e308, -1.7e308, Number.MAX_VALUE, -Number.MAX_VALUE, 1e-300, 5e-324))
    const changes = fc.array(fc.tuple(fc.constantFrom(...sampleLines), value), {minLength: 1, maxLength: 3}).map((pairs) => new Map(pairs))
    fc.assert(
      fc.property(changes, changes, (before, after) => {
        const metrics = serverMetricsFrom(withValues(before), withValues(after))
        expect(nonFiniteNumbers(metrics)).toEqual([])
        // What report and compare show from them: finite or null.
        expect(nonFiniteNumbers(summarizeServerMetrics(metrics))).toEqual([])
      }),
      fuzzOptions(100),
    )
  })

  it('summarizeServerMetrics on any finite deltas (as a result file may hold): finite numbers or null', () => {
    // The names it reads, with and without labels; values from tiny to huge, of both signs.
    const names = [
      'llamacpp:prompt_tokens_total',
      'llamacpp:tokens_predicted_total',
      'llamacpp:n_decode_total',
      'llamacpp:tokens_predicted_seconds_total',
      'llamacpp:prompt_seconds_total',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
      'vllm:prefix_cache_hits_total',
      'vllm:prefix_cache_queries_total',
      'vllm:time_to_first_token_seconds_sum',
      'vllm:time_to_first_token_seconds_count',
      'vllm:e2e_request_latency_seconds_sum',
      'vllm:e2e_request_latency_seconds_count',
    ]
    const key = fc.tuple(fc.constantFrom(...names), fc.constantFrom('', '{engine="0"}', '{engine="1"}')).map(([name, labels]) => name + labels)
    const finite = fc.oneof(fc.double({noNaN: true, noDefaultInfinity: true}), fc.constantFrom(5e-324, 1e-300, 1e308, -1e308))
    fc.assert(
      fc.property(fc.constantFrom('llamacpp', 'vllm'), fc.dictionary(key, finite, {maxKeys: 12}), (source, deltas) => {
        expect(nonFiniteNumbers(summarizeServerMetrics({source, before: {}, after: {}, deltas}))).toEqual([])
      }),
      fuzzOptions(300),
    )
  })

  it('label values and names written in the exposition format read back exactly', () => {
    const labelName = fc.oneof(fc.constantFrom('engine', 'model_name', 'le', '__proto__', 'constructor', 'toString'), fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,6}$/))
    fc.assert(
      fc.property(fc.dictionary(labelName, fc.string({unit: 'binary', maxLength: 10}), {maxKeys: 4}), fc.integer({min: 0, max: 1e9}), (labels, value) => {
        const body = Object.entries(labels)
          .map(([name, text]) => `${name}="${escapeLabel(text)}"`)
          .join(',')
        const [sample] = parsePrometheusText(`vllm:requests_total{${body}} ${value}\n`).samples
        expect(sample).toBeDefined()
        expect({...sample!.labels}).toEqual({...labels})
        expect(Object.keys(sample!.labels).sort()).toEqual(Object.keys(labels).sort())
        expect(sample!.value).toBe(value)
        expect(Object.keys(recordableSamples({samples: [sample!], types: new Map(), skippedLines: 0}))).toEqual([sampleKey('vllm:requests_total', labels)])
      }),
      fuzzOptions(300),
    )
  })

  it('regression: a label named __proto__ is kept (it was silently dropped, merging two series into one key)', () => {
    // Found by the property above: labels[name] = value with name "__proto__" sets nothing on a plain object.
    const scrape = parsePrometheusText('vllm:x_total{__proto__="a"} 1\nvllm:x_total 2\n')
    expect(recordableSamples(scrape)).toEqual({'vllm:x_total{__proto__="a"}': 1, 'vllm:x_total': 2})
  })

  it('regression: values whose difference overflows a double give no delta (it was Infinity, which the result schema refuses)', () => {
    // Found by the any-value property above (counterexample: before -1.7e308, after 1e308).
    const metrics = serverMetricsFrom('llamacpp:n_decode_total -1.7e308\nllamacpp:prompt_tokens_total 5\n', 'llamacpp:n_decode_total 1e308\nllamacpp:prompt_tokens_total 12\n')
    expect(metrics.deltas).toEqual({'llamacpp:prompt_tokens_total': 7})
  })

  it('regression: a rate over a denormal duration is null, not -Infinity', () => {
    // Found by the summarizeServerMetrics property (counterexample below): -1e308 / 5e-324 overflowed.
    const summary = summarizeServerMetrics({
      source: 'llamacpp',
      before: {},
      after: {},
      deltas: {'llamacpp:prompt_tokens_total': -1e308, 'llamacpp:prompt_seconds_total': 5e-324},
    })
    expect(summary.serverPromptTokensPerS).toBeNull()
    // 5 tokens over 2 s is still 2.5 tok/s.
    expect(
      summarizeServerMetrics({source: 'llamacpp', before: {}, after: {}, deltas: {'llamacpp:prompt_tokens_total': 5, 'llamacpp:prompt_seconds_total': 2}})
        .serverPromptTokensPerS,
    ).toBe(2.5)
  })
})
