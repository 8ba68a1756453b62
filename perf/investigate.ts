#!/usr/bin/env node
// What limits the embedded/llama-bench decode ratio? Interleaves, on one GGUF file and thread count:
//   embedded  wall   node-llama-cpp (prebuilt binary), tok/s seen by JavaScript (decode + sampling + N-API)
//   embedded  llama  the same runs, llama.cpp's own decode time (llama_perf eval time): no sampling, no JS
//   llama-bench native / portable   capplan's builds (-march=native with OpenMP; GGML_NATIVE=OFF)
// wall vs llama = JS + sampling overhead per token; llama vs llama-bench = the binary (CPU kernels, threads).
//
//   node dist-perf/perf/investigate.js [--quant q4_0] [--rounds 6] [--tokens 32] [--threads N] [--json]
//                                      [--extra label=/path/to/llama-bench ...]
//   (after `npm run build:perf`)
//
// Order is rotated every round so a noisy neighbour does not always hit the same variant; best-of-N is
// reported beside the median because background load only ever makes a run slower.

// libuv's pool is created on first use: set its size before anything can start it, hence the dynamic imports.
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '1'

const {existsSync} = await import('node:fs')
const {join} = await import('node:path')
const {loadavg} = await import('node:os')
const {parseArgs} = await import('node:util')
const si = (await import('systeminformation')).default
const {median} = await import('simple-statistics')

const {loadProfiles} = await import('../src/profiles/load.js')
const {ensureSyntheticModel} = await import('../src/gguf/synth.js')
const {runLlamaBench} = await import('../src/engines/llamacpp/llama-bench.js')
const {bundledLlamaCppSource, llamaCppBuildDir} = await import('../src/engines/llamacpp/build.js')
const {openDecoder} = await import('./embedded-decode.js')

const {values: flags} = parseArgs({
  options: {
    quant: {type: 'string', default: 'q4_0'},
    rounds: {type: 'string', default: '6'},
    tokens: {type: 'string', default: '32'},
    threads: {type: 'string'},
    json: {type: 'boolean', default: false},
    // Another llama-bench to compare, as label=path (e.g. an AMX build kept outside capplan's cache).
    extra: {type: 'string', multiple: true, default: []},
  },
})
const QUANT_LEVEL = {q4_0: 'int4', q8_0: 'int8', f16: 'fp16'} as const
const rounds = Number(flags.rounds)
const tokens = Number(flags.tokens)
const threads = flags.threads === undefined ? (await si.cpu()).physicalCores : Number(flags.threads)
const log = (line: string) => process.stderr.write(`${line}\n`)

const {tag} = await bundledLlamaCppSource()
const benches = Object.entries({
  'llama-bench native': join(llamaCppBuildDir(tag, 'cpu', true), 'build', 'bin', 'llama-bench'),
  'llama-bench portable': join(llamaCppBuildDir(tag, 'cpu', false), 'build', 'bin', 'llama-bench'),
  ...Object.fromEntries(flags.extra.map((item) => [`llama-bench ${item.split('=')[0]}`, item.slice(item.indexOf('=') + 1)])),
}).filter(([, path]) => existsSync(path))

const profile = (await loadProfiles()).get('model', 'qwen2.5-0.5b')
const report: {quant: string; variant: string; best: number; median: number; samples: number[]}[] = []
for (const quant of flags.quant.split(',')) {
  if (!(quant in QUANT_LEVEL)) throw new Error(`unknown quant ${quant}; use ${Object.keys(QUANT_LEVEL).join(', ')}`)
  const synth = await ensureSyntheticModel({profile, quant: QUANT_LEVEL[quant as keyof typeof QUANT_LEVEL]})
  const decoder = await openDecoder(synth.path, {threads, maxTokens: tokens + 8})
  await decoder.measure(4) // warmup: first decode pays page faults of the mmap
  const samples: Record<string, number[]> = {'embedded wall': [], 'embedded llama': []}
  for (const [name] of benches) samples[name] = []
  const steps = [
    async () => {
      const r = await decoder.measure(tokens)
      samples['embedded wall']!.push(r.wallTokensPerSecond)
      if (r.llamaTokensPerSecond !== null) samples['embedded llama']!.push(r.llamaTokensPerSecond)
    },
    ...benches.map(([name, binary]) => async () => {
      const rows = await runLlamaBench({binary, modelPath: synth.path, threads, nPrompt: 0, nGen: tokens, repetitions: 1, extraArgs: ['-fa', '0']})
      samples[name]!.push(rows[0]!.avg_ts)
    }),
  ]
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < steps.length; i++) await steps[(i + round) % steps.length]!()
    log(
      `  ${quant} round ${round + 1}: ${Object.entries(samples)
        .map(([k, v]) => `${k} ${v.at(-1)?.toFixed(1)}`)
        .join(', ')}  (load ${loadavg()[0]!.toFixed(1)})`,
    )
  }
  await decoder.close()
  for (const [variant, values] of Object.entries(samples)) {
    report.push({quant, variant, best: Math.max(...values), median: median(values), samples: values})
  }
}

if (flags.json) {
  process.stdout.write(`${JSON.stringify({threads, tokens, rounds, report}, null, 2)}\n`)
} else {
  console.log(`\n${'quant'.padEnd(6)}${'variant'.padEnd(24)}${'best tok/s'.padStart(11)}${'median'.padStart(9)}`)
  for (const r of report) console.log(`${r.quant.padEnd(6)}${r.variant.padEnd(24)}${r.best.toFixed(1).padStart(11)}${r.median.toFixed(1).padStart(9)}`)
  console.log(`(tg${tokens}, ${threads} threads, ${rounds} rounds, flash attention off everywhere)`)
}
