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
import {contentUuid, type ImportContext, matchModelProfile, modelNameFromPath, placeholderHost, quantFromFormat, throughputOnlySummary} from './common.js'
import {type LlamaBenchRow, llamaBenchTestName, parseLlamaBenchOutput} from './llama-bench-format.js'

/** The fields of one TEST (which test, when, and its timings): every other field is the configuration. */
const testFields = new Set(['n_prompt', 'n_gen', 'n_depth', 'test', 'test_time', 'avg_ns', 'stddev_ns', 'avg_ts', 'stddev_ts', 'samples_ns', 'samples_ts'])

/**
 * Rows that share every field but the test's own (n_prompt / n_gen / depth / timings) come from one
 * configuration. Every other field counts, whatever the llama-bench version or fork adds (backends, devices,
 * gpu_info, split_mode, mla_attn, ...): rows that differ only by backend or device are never merged.
 */
function configurationKey(row: LlamaBenchRow): string {
  const entries = Object.entries(row).filter(([key]) => !testFields.has(key)).sort(([a], [b]) => (a < b ? -1 : 1))
  return JSON.stringify([entries, row.n_depth])
}

/**
 * The GGUF type in llama-bench's model_type ("qwen2 7B Q4_K - Medium", "llama 7B mostly Q4_0",
 * "deepseek2 671B IQ4_K_R4 - 4.5 bpw", "llama 8B BF16") as a format name: "Q4_K - Medium" -> "Q4_K_M",
 * "Q5_K - Small" -> "Q5_K_S"; "unknown" when there is none.
 */
export function ggufTypeFromModelType(modelType: string): string {
  const match = /\b((?:I|T)?Q\d(?:_[A-Z0-9]+)*|MXFP4|BF16|F16|F32)\b(?:\s*-\s*(Small|Medium|Large|Extra Small|XS|XXS|S|M|L))?/i.exec(modelType)
  if (match === null) return 'unknown'
  const type = match[1]!.toUpperCase()
  const size = match[2]
  if (size === undefined || !/^(I|T)?Q\d_K$/.test(type)) return type
  const suffix: Record<string, string> = {small: 'S', medium: 'M', large: 'L', s: 'S', m: 'M', l: 'L'}
  return `${type}_${suffix[size.toLowerCase()] ?? size.toUpperCase()}`
}

const nsToMs = (ns: number) => ns / 1e6
const fixed = (value: number, digits = 2) => String(Number(value.toFixed(digits)))

/** One single-stream request: a ppN+tgN test, or a tgN test with the ppN test it is paired with (if any). */
interface TestPair {
  combined?: LlamaBenchRow
  pp?: LlamaBenchRow
  tg?: LlamaBenchRow
}

/**
 * The requests of one configuration. Several prompt and generation sizes (-p 128,512 -n 64,256) give several
 * results, never only the first: each ppN+tgN row is one; tg rows are paired with pp rows in order when
 * there are as many of each, with the one pp row when there is one, else taken alone (the unpaired pp rows
 * are named in the notes).
 */
function pairTests(rows: LlamaBenchRow[]): {pairs: TestPair[]; unpaired: LlamaBenchRow[]} {
  const combined = rows.filter((row) => row.n_prompt > 0 && row.n_gen > 0)
  const pps = rows.filter((row) => row.n_prompt > 0 && row.n_gen === 0)
  const tgs = rows.filter((row) => row.n_gen > 0 && row.n_prompt === 0)
  const pairs: TestPair[] = combined.map((row) => ({combined: row}))
  let unpaired: LlamaBenchRow[] = []
  if (pps.length === tgs.length) tgs.forEach((tg, index) => pairs.push({tg, pp: pps[index]!}))
  else if (pps.length === 1) tgs.forEach((tg) => pairs.push({tg, pp: pps[0]!}))
  else {
    tgs.forEach((tg) => pairs.push({tg}))
    unpaired = pps
  }
  if (tgs.length === 0 && combined.length > 0) unpaired = pps
  return {pairs, unpaired}
}

function importConfiguration(
  rows: LlamaBenchRow[],
  pair: TestPair,
  unpaired: LlamaBenchRow[],
  source: string,
  text: string,
  context: ImportContext,
  index: number,
): ResultFile {
  const first = rows[0]!
  const {combined, pp, tg} = pair
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

  const formatName = ggufTypeFromModelType(first.model_type)
  const modelName = modelNameFromPath(first.model_filename)
  const match = matchModelProfile(modelName, context.store)
  const quant = quantFromFormat(formatName)
  if (match === null) notes.push(`lacks: a known model: ${first.model_filename} (${first.model_type}) matches no model profile`)
  if (quant !== null) notes.push(`converted: model_type "${first.model_type}" is GGUF type ${formatName} (${quant})`)
  const depth = (combined ?? tg)!.n_depth
  if (depth > 0) {
    notes.push(`converted: run at depth ${depth} (llama-bench -d ${depth}: ${depth} tokens already in the KV cache before each test); the workload's input tokens are depth + prompt = ${depth + nPrompt}`)
  }
  if (unpaired.length > 0) notes.push(`lacks: a pairing for ${unpaired.map(llamaBenchTestName).join(', ')} (as many pp as tg tests, or one pp test, are paired): not used here`)
  if (quant === null) notes.push(`lacks: a known quantization: "${formatName}" is recorded as fp16`)
  const gpuNames = first.gpu_info.trim() === '' ? [] : first.gpu_info.split(',').map((name) => name.trim()).filter((name) => name !== '')
  const usesGpu = gpuNames.length > 0 && first.n_gpu_layers !== 0 && !/^cpu$/i.test(first.backends.trim())

  notes.unshift(
    `imported from llama-bench: ${source} (${[combined, pp, tg].filter((row): row is LlamaBenchRow => row !== undefined).map(llamaBenchTestName).join(' + ')}), build ${first.build_commit} (${first.build_number})`,
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
  const times = [combined, pp, tg].filter((row): row is LlamaBenchRow => row !== undefined).map((row) => row.test_time).sort()
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
        ...(depth > 0 ? ['-d', String(depth)] : []),
      ],
      endpoint: null,
    },
    model: {
      profile: match?.profile ?? (modelName.includes('/') && modelName !== first.model_filename ? modelName : (first.model_filename.split(/[\\/]/).at(-1) ?? 'unknown')),
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
      inputTokens: Math.max(1, depth + nPrompt),
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

/** One result per configuration and test pair in the file (a `-t 1,2` run gives two, `-p 128,512` two). */
export function importLlamaBench(text: string, source: string, context: ImportContext): ResultFile[] {
  const rows = parseLlamaBenchOutput(text, source)
  const groups = new Map<string, LlamaBenchRow[]>()
  for (const row of rows) {
    const key = configurationKey(row)
    groups.set(key, [...(groups.get(key) ?? []), row])
  }
  const results: ResultFile[] = []
  for (const group of groups.values()) {
    const {pairs, unpaired} = pairTests(group)
    if (pairs.length === 0) {
      const first = group[0]!
      throw invalidResult(
        `${source} has no generation test (tgN or ppN+tgN) for ${first.model_filename} with ${first.n_threads} threads: only ${group.map(llamaBenchTestName).join(', ')}.`,
        'Run llama-bench with -n 128 (the default) so there is output-token throughput to cost.',
      )
    }
    for (const pair of pairs) results.push(importConfiguration(group, pair, unpaired, source, text, context, results.length))
  }
  return results
}
