#!/usr/bin/env node
// `npm run bench`: capplan's own numbers, each printed as a ratio to its target from one run (the machine is
// shared and noisy, so no number is compared across runs):
//   1. decode: the embedded engine's single-stream decode tok/s next to llama-bench's tg on the same GGUF
//      file and thread count (target >= 0.95). Runs are interleaved in pairs (embedded then llama-bench,
//      round after round) so background load hits both sides of a pair alike: the ratio reported is the
//      median of the per-pair ratios; medians and bests (load only ever slows a run) are shown too.
//   2. report: `capplan report` over 1,000 result files vs reading + parsing them (target <= 3x).
//   3. loadgen: the load generator's ceiling (tok/s ingested on one core from 256 local SSE streams, target
//      >= 100k) and its ITL timing error against a source emitting every 10 ms at 64 streams (p99 <= 1 ms).
//      Then issue 17's two comparisons, each with its targets' verdict (MET / MISSED, the distance and why):
//      the ITL error against the Python yardstick (perf/yardstick.py) at 64 and 256 streams, every engine path
//      including `capplan bench --engine openai` as a process timed from its result file, interleaved; and the
//      ceiling with one client thread against one worker thread per core (>= 1.8x), interleaved.
//   4. accuracy: at concurrency 1 against the real llama-server: capplan's decode tok/s vs the server's own
//      timings (within 3%) and vs llama-bench tg on the same file (>= 0.95).
//   5. soak: capplan bench at concurrency 64 against a source failing 10% of requests: failures by kind,
//      summary vs the successful requests, RSS at the start and end, live-heap trend.
//   6. planner: leave-one-out accuracy of the deployment search's ESTIMATED throughput over the calibration
//      set, every calibration row through the sanity check, the full search's time next to `capplan --version`.
//
//   npm run bench -- [--quant q4_0,q8_0] [--rounds 3] [--tokens 64] [--threads N] [--json]
//                    [--llama-bench PATH] [--flash-attn auto|on|off] [--model qwen2.5-0.5b] [--engine project|fallback]
//                    [--skip-decode] [--skip-report] [--skip-loadgen] [--skip-accuracy] [--skip-soak] [--skip-planner]
//                    [--soak-minutes 3] [--accuracy-rounds 3] [--report-files 1000]
//
// `npm run bench` builds dist/ (the CLI that the report and soak sections run as a process) and dist-perf/
// (this directory and the src/ modules it imports, compiled by tsconfig.perf.json), then runs
// dist-perf/perf/run.js.

// libuv's pool is created on first use; above 1 thread it slowed the embedded decode on 2 cores. Set it
// before anything can start the pool, as bin/run.js does, hence the dynamic imports below.
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '1'

const {parseArgs} = await import('node:util')
const si = (await import('systeminformation')).default
const {median} = await import('simple-statistics')

const {loadProfiles} = await import('../src/profiles/load.js')
const {ensureSyntheticModel} = await import('../src/gguf/synth.js')
const {runLlamaBench} = await import('../src/engines/llamacpp/llama-bench.js')
const {findLlamaCppTool} = await import('../src/engines/llamacpp/build.js')
// The project's embedded engine (default), or this directory's minimal node-llama-cpp loop (--engine fallback).
const {measureDecodeTokensPerSecond: projectMeasure} = await import('../src/engines/embedded.js')
const fallback = await import('./embedded-decode.js')

const QUANT_LEVEL = {q4_0: 'int4', q8_0: 'int8', f16: 'fp16'} as const
type Quant = keyof typeof QUANT_LEVEL
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
    engine: {type: 'string', default: 'project'},
    json: {type: 'boolean', default: false},
    'skip-decode': {type: 'boolean', default: false},
    'skip-report': {type: 'boolean', default: false},
    'skip-loadgen': {type: 'boolean', default: false},
    'skip-accuracy': {type: 'boolean', default: false},
    'skip-soak': {type: 'boolean', default: false},
    'skip-planner': {type: 'boolean', default: false},
    'soak-minutes': {type: 'string', default: '3'},
    'accuracy-rounds': {type: 'string', default: '3'},
    'report-files': {type: 'string', default: '1000'},
  },
})

const fail = (message: string): never => {
  process.stderr.write(`bench: ${message}\n`)
  process.exit(1)
}
const positive = (name: 'rounds' | 'tokens' | 'threads' | 'accuracy-rounds' | 'report-files') => {
  const value = Number(flags[name])
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer (got ${flags[name]})`)
  return value
}
const rounds = positive('rounds')
const tokens = positive('tokens')
const threads = flags.threads === undefined ? (await si.cpu()).physicalCores : positive('threads')
const flashAttentionSetting = flags['flash-attn']
if (flashAttentionSetting !== 'auto' && flashAttentionSetting !== 'on' && flashAttentionSetting !== 'off') fail('--flash-attn must be auto, on or off')
const flashAttention = ({auto: 'auto', on: true, off: false} as const)[flashAttentionSetting as 'auto' | 'on' | 'off']
// llama-bench's -fa takes 0/1 (and "auto" in newer builds); keep both sides on the same setting.
const llamaBenchFa = {auto: 'auto', on: '1', off: '0'}[flashAttentionSetting as 'auto' | 'on' | 'off']
const quants = flags.quant.split(',').map((q) => q.trim().toLowerCase())
for (const q of quants) if (!(q in QUANT_LEVEL)) fail(`unknown quant ${q}; use ${Object.keys(QUANT_LEVEL).join(', ')}`)
if (flags.engine !== 'project' && flags.engine !== 'fallback') fail('--engine must be project or fallback')
const measureEmbedded = flags.engine === 'project' ? projectMeasure : fallback.measureDecodeTokensPerSecond

const log = (line: string) => process.stderr.write(`${line}\n`)
// The section formatters return lines (or one string).
const text = (formatted: string | string[]) => (Array.isArray(formatted) ? formatted.join('\n') : formatted)

if (!flags['skip-decode']) {
  const llamaBench =
    flags['llama-bench'] ??
    (await findLlamaCppTool('llama-bench')) ??
    fail('llama-bench not found: build it with `./bin/run.js engine build llama-bench` (offline, ~25 min on 2 cores)')

  const profile = (await loadProfiles()).get('model', flags.model)
  log(`bench: ${flags.model}, ${tokens} decode tokens, ${threads} thread(s), flash-attn ${flashAttentionSetting}, ${rounds} interleaved round(s)`)
  log(`bench: embedded = ${flags.engine === 'project' ? 'src/engines/embedded.ts' : 'perf/embedded-decode.ts'}; llama-bench = ${llamaBench}`)

  const results = []
  for (const quant of quants as Quant[]) {
    const synth = await ensureSyntheticModel({profile, quant: QUANT_LEVEL[quant]})
    log(`bench: ${quant} model ${synth.path} (${(synth.bytes / 2 ** 20).toFixed(0)} MiB${synth.reused ? ', reused' : ''})`)
    const embedded: number[] = []
    const reference: number[] = []
    for (let round = 1; round <= rounds; round++) {
      const e = await measureEmbedded(synth.path, {threads, tokens, flashAttention})
      embedded.push(e.tokensPerSecond)
      const rows = await runLlamaBench({
        binary: llamaBench,
        modelPath: synth.path,
        threads,
        nPrompt: 0,
        nGen: tokens,
        repetitions: 1,
        extraArgs: ['-fa', llamaBenchFa],
      })
      const tg = rows.find((row) => row.n_gen === tokens && row.n_prompt === 0) ?? fail(`llama-bench returned no tg${tokens} row`)
      reference.push(tg.avg_ts)
      log(`  round ${round}: embedded ${embedded.at(-1)!.toFixed(1)} tok/s, llama-bench ${tg.avg_ts.toFixed(1)} tok/s`)
    }
    results.push({
      quant,
      modelFile: synth.path,
      threads,
      tokens,
      embeddedTokensPerSecond: median(embedded),
      llamaBenchTokensPerSecond: median(reference),
      ratio: median(embedded.map((e, i) => e / reference[i]!)),
      embeddedBest: Math.max(...embedded),
      llamaBenchBest: Math.max(...reference),
      ratioOfBest: Math.max(...embedded) / Math.max(...reference),
      embeddedSamples: embedded,
      llamaBenchSamples: reference,
    })
  }

  const load = (await import('node:os')).loadavg()[0]!.toFixed(2)
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({target: TARGET_RATIO, loadAverage: load, flashAttention: flashAttentionSetting, embeddedEngine: flags.engine, results}, null, 2)}\n`,
    )
  } else {
    const pad = (value: string, width: number) => value.padStart(width)
    console.log(`\n${'quant'.padEnd(6)}${pad('embedded tok/s', 16)}${pad('llama-bench tok/s', 19)}${pad('ratio', 8)}${pad('best: emb / l-b / ratio', 26)}`)
    for (const r of results) {
      const verdict = r.ratio >= TARGET_RATIO ? 'ok' : `below target ${TARGET_RATIO}`
      const best = `${r.embeddedBest.toFixed(1)} / ${r.llamaBenchBest.toFixed(1)} / ${r.ratioOfBest.toFixed(3)}`
      console.log(
        `${r.quant.padEnd(6)}${pad(r.embeddedTokensPerSecond.toFixed(1), 16)}${pad(r.llamaBenchTokensPerSecond.toFixed(1), 19)}${pad(r.ratio.toFixed(3), 8)}${pad(best, 26)}  ${verdict}`,
      )
    }
    console.log(
      `(tok/s: medians of ${rounds} interleaved rounds; ratio: median of per-round ratios; tg${tokens}, ${threads} threads; 1-min load average during the run: ${load})`,
    )
  }
}

// Issue 5's target: `capplan report --format json` over 1,000 realistic result files within 3x of just
// reading + JSON.parse-ing them (both as fresh processes, interleaved; perf/report-bench.ts).
if (!flags['skip-report']) {
  const {runReportBench, formatReportBench} = await import('./report-bench.js')
  const summary = await runReportBench({files: positive('report-files'), rounds: 5})
  if (flags.json) process.stdout.write(`${JSON.stringify({reportBench: summary}, null, 2)}\n`)
  else console.log(`\n${formatReportBench(summary)}`)
}

// Issue 4 §5: the load generator's own ceiling and timing error (perf/loadgen-bench.ts, perf/sse-source.ts).
if (!flags['skip-loadgen']) {
  const {runLoadgenBench, formatLoadgenBench, compareWithYardstick, formatItlComparison, compareCeilingThreads, formatCeilingThreads} = await import('./loadgen-bench.js')
  const summary = await runLoadgenBench()
  if (flags.json) process.stdout.write(`${JSON.stringify({loadgen: summary}, null, 2)}\n`)
  else console.log(`\n${text(formatLoadgenBench(summary))}`)
  // Issue 17: capplan's ITL error against the Python yardstick, interleaved in the same rounds.
  const comparison = await compareWithYardstick()
  if (flags.json) process.stdout.write(`${JSON.stringify({itlVsYardstick: comparison}, null, 2)}\n`)
  else console.log(`\n${text(formatItlComparison(comparison))}`)
  // Issue 17: the ceiling with one client thread and with one worker thread per core, interleaved.
  const ceilingThreads = await compareCeilingThreads({threads: [1, Math.max(2, (await import('node:os')).cpus().length)]})
  if (flags.json) process.stdout.write(`${JSON.stringify({ceilingThreads}, null, 2)}\n`)
  else console.log(`\n${text(formatCeilingThreads(ceilingThreads))}`)
}

// Issue 4 §5: accuracy at concurrency 1 against the real llama-server and llama-bench (perf/server-accuracy.ts).
if (!flags['skip-accuracy']) {
  const {runServerAccuracy, formatServerAccuracy} = await import('./server-accuracy.js')
  const summary = await runServerAccuracy({
    rounds: positive('accuracy-rounds'),
    ...(flags.threads === undefined ? {} : {threads}),
    ...(flags['llama-bench'] === undefined ? {} : {llamaBench: flags['llama-bench']}),
  })
  if (flags.json) process.stdout.write(`${JSON.stringify({accuracy: summary}, null, 2)}\n`)
  else console.log(`\n${text(formatServerAccuracy(summary))}`)
}

// Issue 7 §5: the soak (perf/soak.ts): memory stays flat, failures counted by kind, summary = successes.
if (!flags['skip-soak']) {
  const {runSoak, formatSoak} = await import('./soak.js')
  const minutes = Number(flags['soak-minutes'])
  if (!(minutes > 0)) fail(`--soak-minutes must be a positive number (got ${flags['soak-minutes']})`)
  const summary = await runSoak({durationMs: Math.round(minutes * 60_000), log})
  if (flags.json) process.stdout.write(`${JSON.stringify({soak: summary}, null, 2)}\n`)
  else console.log(`\n${text(formatSoak(summary))}`)
}

// Issue 14 §3: the deployment search's accuracy (leave-one-out over the calibration set) and speed (perf/planner-bench.ts).
if (!flags['skip-planner']) {
  const {runPlannerBench, formatPlannerBench} = await import('./planner-bench.js')
  const summary = await runPlannerBench({rounds: 5})
  if (flags.json) process.stdout.write(`${JSON.stringify({planner: summary}, null, 2)}\n`)
  else console.log(`\n${text(formatPlannerBench(summary))}`)
}
