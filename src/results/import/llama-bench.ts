/**
 * llama-bench (`-o json` / `-o jsonl`) -> a capplan result file. Rows are parsed by ./llama-bench-format.ts.
 *
 * What llama-bench measures: ONE stream (batch 1), a prompt-processing test (ppN: N prompt tokens) and a
 * generation test (tgN: N tokens one at a time), each repeated. There is no latency under load and no
 * per-request sample. The import turns one configuration into one level at concurrency 1 whose "request" is
 * ppN followed by tgN: time per request = pp time + tg time (avg_ns of each test), output tok/s = N_gen / that
 * time. That is the honest single-stream figure; a batched server serves many streams at once, so costing
 * this throughput over-states the cost (the report says so).
 */

import {invalidResult} from '../../lib/errors.js'
import {RESULT_SCHEMA_VERSION, type ResultFile} from '../schema.js'
import {contentUuid, type ImportContext, matchModelProfile, placeholderHost, quantFromFormat, throughputOnlySummary} from './common.js'
import {type LlamaBenchRow, llamaBenchTestName, parseLlamaBenchOutput} from './llama-bench-format.js'

/** Rows that share everything but the test (n_prompt / n_gen / depth) come from one configuration. */
function configurationKey(row: LlamaBenchRow): string {
  return JSON.stringify([
    row.model_filename, row.model_type, row.n_threads, row.n_gpu_layers, row.n_batch, row.n_ubatch,
    row.type_k, row.type_v, row.flash_attn, row.backends, row.build_commit, row.n_depth,
  ])
}

const nsToMs = (ns: number) => ns / 1e6
const fixed = (value: number, digits = 2) => String(Number(value.toFixed(digits)))

function importConfiguration(rows: LlamaBenchRow[], source: string, text: string, context: ImportContext, index: number): ResultFile {
  const first = rows[0]!
  const combined = rows.find((row) => row.n_prompt > 0 && row.n_gen > 0)
  const pp = rows.find((row) => row.n_prompt > 0 && row.n_gen === 0)
  const tg = rows.find((row) => row.n_gen > 0 && row.n_prompt === 0)
  if (combined === undefined && tg === undefined) {
    throw invalidResult(
      `${source} has no generation test (tgN or ppN+tgN) for ${first.model_filename} with ${first.n_threads} threads: only ${rows.map(llamaBenchTestName).join(', ')}.`,
      'Run llama-bench with -n 128 (the default) so there is output-token throughput to cost.',
    )
  }

  const notes: string[] = []
  let nPrompt: number
  let nGen: number
  let requestNs: number
  let repetitions: number
  if (combined !== undefined) {
    nPrompt = combined.n_prompt
    nGen = combined.n_gen
    requestNs = combined.avg_ns
    repetitions = Math.max(1, combined.samples_ns.length)
    notes.push(`converted: one single-stream request = the ${llamaBenchTestName(combined)} test, ${fixed(nsToMs(requestNs))} ms on average`)
  } else {
    nGen = tg!.n_gen
    nPrompt = pp?.n_prompt ?? 0
    requestNs = tg!.avg_ns + (pp?.avg_ns ?? 0)
    repetitions = Math.max(1, tg!.samples_ns.length)
    notes.push(
      pp === undefined
        ? `converted: one single-stream request = tg${nGen} alone (${fixed(nsToMs(requestNs))} ms); llama-bench ran no prompt test, so prompt processing is not accounted`
        : `converted: one single-stream request = pp${nPrompt} (${fixed(nsToMs(pp.avg_ns))} ms) + tg${nGen} (${fixed(nsToMs(tg!.avg_ns))} ms) = ${fixed(nsToMs(requestNs))} ms; ` +
            `TTFT ~ ${fixed(nsToMs(pp.avg_ns))} ms (prompt time), TPOT ~ ${fixed(1000 / tg!.avg_ts)} ms (1 / ${fixed(tg!.avg_ts)} tok/s), both at batch 1`,
    )
  }
  // avg_ns divides (tok/s = tokens / time) and multiplies (the window): 0 or 1e308 would give an Infinity.
  if (!(requestNs >= 1e3 && requestNs <= 1e18)) {
    throw invalidResult(
      `${source}: avg_ns of ${rows.map(llamaBenchTestName).join(', ')} for ${first.model_filename} adds up to ${requestNs} ns, not a duration capplan can use (1 µs to ~31 years).`,
      'The file is damaged or edited; re-run llama-bench with -o json or -o jsonl.',
    )
  }
  const requestS = requestNs / 1e9
  const decodeTokensPerS = tg?.avg_ts ?? null

  const formatName = /\b(I?Q\d\w*|F16|BF16|F32)\s*$/i.exec(first.model_type)?.[1]?.toUpperCase() ?? 'unknown'
  const match = matchModelProfile(first.model_filename, context.store)
  const quant = quantFromFormat(formatName)
  if (match === null) notes.push(`lacks: a known model: ${first.model_filename} (${first.model_type}) matches no model profile`)
  if (quant === null) notes.push(`lacks: a known quantization: "${formatName}" is recorded as fp16`)
  const gpuNames = first.gpu_info.trim() === '' ? [] : first.gpu_info.split(',').map((name) => name.trim()).filter((name) => name !== '')
  const usesGpu = gpuNames.length > 0 && first.n_gpu_layers !== 0 && !/^cpu$/i.test(first.backends.trim())

  notes.unshift(
    `imported from llama-bench: ${source}${rows.length > 1 ? ` (${rows.map(llamaBenchTestName).join(', ')})` : ''}, build ${first.build_commit} (${first.build_number})`,
  )
  notes.push(
    'lacks: latency under load (llama-bench runs one stream at batch 1), per-request samples, the host (hostname, memory, OS are placeholders; CPU and GPU names are llama-bench\'s)',
  )

  const summary = throughputOnlySummary({
    completed: repetitions,
    failed: 0,
    durationS: requestS * repetitions,
    outputTokensPerS: nGen / requestS,
    inputTokensPerS: nPrompt / requestS,
    requestsPerS: 1 / requestS,
    perUserTokensPerS: decodeTokensPerS,
  })
  const times = rows.map((row) => row.test_time).sort()
  const isoTime = (text: string | undefined) => (text !== undefined && !Number.isNaN(Date.parse(text)) ? new Date(text).toISOString() : new Date(0).toISOString())

  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: contentUuid(text, `llama-bench:${index}`),
    createdAt: isoTime(times[0]),
    finishedAt: isoTime(times.at(-1)),
    capplan: {version: context.capplanVersion, command: context.command},
    host: placeholderHost('llama-bench', {cpuModel: first.cpu_info, threads: first.n_threads, gpuNames}),
    engine: {
      kind: 'llamacpp',
      version: null,
      build: `${first.build_commit} (${first.build_number})`,
      backend: first.backends.toLowerCase(),
      threads: first.n_threads > 0 ? first.n_threads : null,
      gpuCount: usesGpu ? gpuNames.length : 0,
      // The llama-bench command line these rows correspond to (reconstructed: llama-bench does not record it).
      args: [
        'llama-bench', '-m', first.model_filename, '-t', String(first.n_threads),
        '-p', String(nPrompt), '-n', String(nGen), '-r', String(repetitions),
        '-b', String(first.n_batch), '-ub', String(first.n_ubatch), '-ngl', String(first.n_gpu_layers),
      ],
      endpoint: null,
    },
    model: {
      profile: match?.profile ?? (first.model_filename.split('/').at(-1) ?? 'unknown'),
      quant: quant ?? 'fp16',
      format: formatName,
      file: first.model_filename,
      repo: null,
      sha256: null,
      // A size in bytes is a whole number; anything else is not a size (recorded as unknown).
      bytes: Number.isSafeInteger(first.model_size) ? first.model_size : null,
      paramsB: first.model_n_params > 0 ? first.model_n_params / 1e9 : (match?.paramsB ?? 1),
      synthetic: false,
    },
    gpuProfile: null,
    workload: {
      profile: null,
      // A tg-only run has no prompt; the schema needs >= 1 (the note above says it is not accounted).
      inputTokens: Math.max(1, nPrompt),
      outputTokens: nGen,
      promptSource: 'synthetic-token-ids',
      dataset: null,
      seed: 0,
      ignoreEos: true,
    },
    levels: [
      {
        load: {kind: 'concurrency', value: 1},
        warmupRequests: 0,
        window: {startMs: 0, endMs: requestNs * repetitions / 1e6},
        status: 'complete',
        requests: [],
        summary,
        telemetry: null,
        serverMetrics: null,
      },
    ],
    status: 'complete',
    notes,
  }
}

/** One result per configuration in the file (a `-t 1,2` run gives two). */
export function importLlamaBench(text: string, source: string, context: ImportContext): ResultFile[] {
  const rows = parseLlamaBenchOutput(text, source)
  const groups = new Map<string, LlamaBenchRow[]>()
  for (const row of rows) {
    const key = configurationKey(row)
    groups.set(key, [...(groups.get(key) ?? []), row])
  }
  return [...groups.values()].map((group, index) => importConfiguration(group, source, text, context, index))
}
