#!/usr/bin/env node
// `npm run bench`: the embedded engine's single-stream decode tok/s next to llama-bench's tg on the same
// GGUF file and thread count, as a ratio (target >= 0.95). Runs are interleaved in pairs (embedded then
// llama-bench, round after round) so background load hits both sides of a pair alike: the ratio reported is
// the median of the per-pair ratios; medians and bests (background load only ever slows a run) are shown too.
//
//   node bench/run.js [--quant q4_0,q8_0] [--rounds 3] [--tokens 64] [--threads N] [--json]
//                     [--llama-bench PATH] [--flash-attn auto|on|off] [--model qwen2.5-0.5b]
//
// Imports the compiled project from dist/ (npm run bench builds it first).

// libuv's pool is created on first use; above 1 thread it slowed the embedded decode on 2 cores. Set it
// before anything can start the pool, as bin/run.js does, hence the dynamic imports below.
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '1'

const {existsSync} = await import('node:fs')
const {parseArgs} = await import('node:util')
const si = (await import('systeminformation')).default
const {median} = await import('simple-statistics')

const dist = new URL('../dist/', import.meta.url)
const {loadProfiles} = await import(new URL('profiles/load.js', dist).href)
const {ensureSyntheticModel} = await import(new URL('gguf/synth.js', dist).href)
const {runLlamaBench} = await import(new URL('engines/llama-bench.js', dist).href)
const {findLlamaCppTool} = await import(new URL('engines/llamacpp-build.js', dist).href)

// The project's embedded engine when it is built; this directory's minimal node-llama-cpp loop otherwise.
const embeddedUrl = new URL('engines/embedded.js', dist)
const embeddedModule = existsSync(embeddedUrl) ? await import(embeddedUrl.href) : {}
const projectMeasure = embeddedModule.measureDecodeTokensPerSecond
const fallback = await import('./embedded-decode.js')

const QUANT_LEVEL = {q4_0: 'int4', q8_0: 'int8', f16: 'fp16'}
const TARGET_RATIO = 0.95

const {values: flags} = parseArgs({
  options: {
    quant: {type: 'string', default: 'q4_0,q8_0'},
    model: {type: 'string', default: 'qwen2.5-0.5b'},
    rounds: {type: 'string', default: '3'},
    tokens: {type: 'string', default: '64'},
    threads: {type: 'string'},
    'llama-bench': {type: 'string'},
    'flash-attn': {type: 'string', default: 'off'},
    engine: {type: 'string', default: projectMeasure === undefined ? 'fallback' : 'project'},
    json: {type: 'boolean', default: false},
    'skip-report': {type: 'boolean', default: false},
    'report-files': {type: 'string', default: '1000'},
  },
})

const fail = (message) => {
  process.stderr.write(`bench: ${message}\n`)
  process.exit(1)
}
const positive = (name) => {
  const value = Number(flags[name])
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer (got ${flags[name]})`)
  return value
}
const rounds = positive('rounds')
const tokens = positive('tokens')
const threads = flags.threads === undefined ? (await si.cpu()).physicalCores : positive('threads')
const flashAttention = {auto: 'auto', on: true, off: false}[flags['flash-attn']]
if (flashAttention === undefined) fail('--flash-attn must be auto, on or off')
// llama-bench's -fa takes 0/1 (and "auto" in newer builds); keep both sides on the same setting.
const llamaBenchFa = {auto: 'auto', on: '1', off: '0'}[flags['flash-attn']]
const quants = flags.quant.split(',').map((q) => q.trim().toLowerCase())
for (const q of quants) if (!(q in QUANT_LEVEL)) fail(`unknown quant ${q}; use ${Object.keys(QUANT_LEVEL).join(', ')}`)
if (flags.engine === 'project' && projectMeasure === undefined) fail('--engine project: dist/engines/embedded.js has no measureDecodeTokensPerSecond')
const measureEmbedded = flags.engine === 'project' ? projectMeasure : fallback.measureDecodeTokensPerSecond

const llamaBench = flags['llama-bench'] ?? (await findLlamaCppTool('llama-bench'))
if (llamaBench === null) fail('llama-bench not found: build it with `./bin/run.js engine build llama-bench` (offline, ~25 min on 2 cores)')

const log = (line) => process.stderr.write(`${line}\n`)
const profile = (await loadProfiles()).get('model', flags.model)
log(`bench: ${flags.model}, ${tokens} decode tokens, ${threads} thread(s), flash-attn ${flags['flash-attn']}, ${rounds} interleaved round(s)`)
log(`bench: embedded = ${flags.engine === 'project' ? 'dist/engines/embedded.js' : 'bench/embedded-decode.js'}; llama-bench = ${llamaBench}`)

const results = []
for (const quant of quants) {
  const synth = await ensureSyntheticModel({profile, quant: QUANT_LEVEL[quant]})
  log(`bench: ${quant} model ${synth.path} (${(synth.bytes / 2 ** 20).toFixed(0)} MiB${synth.reused ? ', reused' : ''})`)
  const embedded = []
  const reference = []
  for (let round = 1; round <= rounds; round++) {
    const e = await measureEmbedded(synth.path, {threads, tokens, flashAttention})
    embedded.push(typeof e === 'number' ? e : e.tokensPerSecond)
    const rows = await runLlamaBench({
      binary: llamaBench,
      modelPath: synth.path,
      threads,
      nPrompt: 0,
      nGen: tokens,
      repetitions: 1,
      extraArgs: ['-fa', llamaBenchFa],
    })
    const tg = rows.find((row) => row.n_gen === tokens && row.n_prompt === 0)
    if (tg === undefined) fail(`llama-bench returned no tg${tokens} row`)
    reference.push(tg.avg_ts)
    log(`  round ${round}: embedded ${embedded.at(-1).toFixed(1)} tok/s, llama-bench ${tg.avg_ts.toFixed(1)} tok/s`)
  }
  results.push({
    quant,
    modelFile: synth.path,
    threads,
    tokens,
    embeddedTokensPerSecond: median(embedded),
    llamaBenchTokensPerSecond: median(reference),
    ratio: median(embedded.map((e, i) => e / reference[i])),
    embeddedBest: Math.max(...embedded),
    llamaBenchBest: Math.max(...reference),
    ratioOfBest: Math.max(...embedded) / Math.max(...reference),
    embeddedSamples: embedded,
    llamaBenchSamples: reference,
  })
}

const load = (await import('node:os')).loadavg()[0].toFixed(2)
if (flags.json) {
  process.stdout.write(`${JSON.stringify({target: TARGET_RATIO, loadAverage: load, flashAttention: flags['flash-attn'], embeddedEngine: flags.engine, results}, null, 2)}\n`)
} else {
  const pad = (text, width) => String(text).padStart(width)
  console.log(`\n${'quant'.padEnd(6)}${pad('embedded tok/s', 16)}${pad('llama-bench tok/s', 19)}${pad('ratio', 8)}${pad('best: emb / l-b / ratio', 26)}`)
  for (const r of results) {
    const verdict = r.ratio >= TARGET_RATIO ? 'ok' : `below target ${TARGET_RATIO}`
    const best = `${r.embeddedBest.toFixed(1)} / ${r.llamaBenchBest.toFixed(1)} / ${r.ratioOfBest.toFixed(3)}`
    console.log(`${r.quant.padEnd(6)}${pad(r.embeddedTokensPerSecond.toFixed(1), 16)}${pad(r.llamaBenchTokensPerSecond.toFixed(1), 19)}${pad(r.ratio.toFixed(3), 8)}${pad(best, 26)}  ${verdict}`)
  }
  console.log(`(tok/s: medians of ${rounds} interleaved rounds; ratio: median of per-round ratios; tg${tokens}, ${threads} threads; 1-min load average during the run: ${load})`)
}

// Issue 5's target: `capplan report --format json` over 1,000 realistic result files within 3x of just
// reading + JSON.parse-ing them (both as fresh processes, interleaved; bench/report-bench.js).
if (!flags['skip-report']) {
  const {runReportBench, formatReportBench} = await import('./report-bench.js')
  const summary = await runReportBench({files: positive('report-files'), rounds: 5})
  if (flags.json) process.stdout.write(`${JSON.stringify({reportBench: summary}, null, 2)}\n`)
  else console.log(`\n${formatReportBench(summary)}`)
}
