/**
 * `capplan bench`'s flags: every text flag parses to its value while oclif parses (benchFlag, by
 * src/cli/parsers/{bench,load,slo}.ts), so services/bench/options.ts takes values (BenchFlagValues), and the
 * defaults of a run with no flags.
 */

import {Flags} from '@oclif/core'

import {ALL_APIS, ENGINE_KINDS} from '../../engines/registry.js'
import {ON_ENGINE_ERROR} from '../../loadgen/run.js'
import type {QuantLevel} from '../../profiles/schema.js'
import {parseBindHost, parseConcurrencyList, parseQuantList} from '../parsers/bench.js'
import {parseDuration, parsePrecision, parseRates} from '../parsers/load.js'
import {parseSlo} from '../parsers/slo.js'
import {parseLengthDist, parsePositiveNumber} from '../parsers/workload.js'
import {quantLevelNames} from './choices.js'
import {capplanFlag, integerFlag} from './custom.js'

/** Defaults of `capplan bench` with no flags (README's main command): a few minutes on a 2-core CPU. */
export const BENCH_DEFAULTS = {
  model: 'qwen2.5-0.5b',
  quant: ['int4'] as readonly QuantLevel[],
  /** Applied by services/bench (not an oclif default): --concurrency, --rate and --sweep exclude each other. */
  concurrency: [1, 2, 4] as readonly number[],
  workload: 'chat',
  seed: 1,
  resultsDir: 'results',
  /** --startup-timeout 10m. */
  startupTimeoutMs: 600_000,
} as const

/** bench --on-error: what a spawned server dying mid-run does to the run (stop | continue). */
export const onEngineErrorFlag = Flags.option({options: ON_ENGINE_ERROR})

/**
 * Each text flag of bench as a value flag; the command gives the summary. oclif does not parse a default, so
 * a default is a value and its text goes in defaultHelp, e.g.
 * `'startup-timeout': benchFlag['startup-timeout']({default: 600_000, defaultHelp: async () => '10m'})`.
 */
export const benchFlag = {
  quant: capplanFlag(parseQuantList),
  concurrency: capplanFlag(parseConcurrencyList),
  rate: capplanFlag((text) => parseRates(text, '--rate')),
  duration: capplanFlag((text) => parseDuration(text, '--duration')),
  precision: capplanFlag((text) => parsePrecision(text, '--precision')),
  host: capplanFlag(parseBindHost),
  slo: capplanFlag((text) => parseSlo(text, '--slo')),
  'startup-timeout': capplanFlag((text) => parseDuration(text, '--startup-timeout')),
  'request-timeout': capplanFlag((text) => parseDuration(text, '--request-timeout')),
  'think-time': capplanFlag((text) => parseDuration(text, '--think-time')),
  'ramp-up': capplanFlag((text) => parseDuration(text, '--ramp-up')),
  'input-dist': capplanFlag((text) => parseLengthDist(text, '--input-dist')),
  'output-dist': capplanFlag((text) => parseLengthDist(text, '--output-dist')),
  burstiness: capplanFlag((text) => parsePositiveNumber(text, '--burstiness', '0.5')),
  'replay-speed': capplanFlag((text) => parsePositiveNumber(text, '--replay-speed', '2')),
}

/** `capplan bench`'s flags (the command adds nothing): lists, durations, the SLO and --host arrive as values. */
export const benchFlags = {
  model: Flags.string({summary: 'Model profile id (see `capplan profiles list --kind model`).', default: BENCH_DEFAULTS.model, helpValue: 'ID'}),
  quant: benchFlag.quant({
    summary: `Quantization(s), comma-separated: ${quantLevelNames} (int4 = Q4_0, int8 = Q8_0, fp16 = F16).`,
    default: [...BENCH_DEFAULTS.quant],
    defaultHelp: async () => BENCH_DEFAULTS.quant.join(','),
    helpValue: 'LIST',
  }),
  concurrency: benchFlag.concurrency({
    summary: `Closed loop: concurrency levels (requests in flight), comma-separated [default: ${BENCH_DEFAULTS.concurrency.join(',')}]. Not with --rate or --sweep.`,
    helpValue: 'LIST',
  }),
  rate: benchFlag.rate({
    summary: 'Open loop: Poisson arrival rates in requests/s, comma-separated (seeded by --seed), e.g. --rate 0.5,1,2. Not with --concurrency or --sweep.',
    helpValue: 'LIST',
  }),
  sweep: Flags.boolean({
    summary: 'Closed loop from concurrency 1, doubling until total throughput grows < 5%, the SLO breaks or 64 is reached.',
    default: false,
  }),
  duration: benchFlag.duration({summary: 'End each level after this long, e.g. 60s, 2m (--requests then caps it; default cap 1000).', helpValue: 'DURATION'}),
  precision: benchFlag.precision({
    summary: 'End each level when the 95% CI of output tok/s is within this, e.g. 3% (--requests then caps it; default cap 1000).',
    helpValue: 'PERCENT',
  }),
  'max-in-flight': integerFlag({
    summary: 'With --rate: requests running at once at most (embedded/llamacpp default 16 = their sequences/slots; vllm/openai 256).',
    min: 1,
    max: 4096,
  }),
  dataset: Flags.string({summary: 'Text prompts from a JSONL file ({"prompt": "..."} or {"messages": [...]} per line) instead of synthetic token ids.', helpValue: 'FILE'}),
  slo: benchFlag.slo({
    summary: "Latency target for goodput and the costed operating point, e.g. ttft=2s,tpot=50ms (default: the workload's SLO).",
    helpValue: 'SPEC',
  }),
  engine: Flags.option({
    options: ENGINE_KINDS,
    default: 'embedded' as const,
    summary: 'embedded: llama.cpp in-process; llamacpp: spawn llama-server; vllm: spawn vllm serve; openai: an already running OpenAI-compatible --endpoint.',
  })(),
  'model-file': Flags.string({summary: 'A local GGUF to serve (embedded, llamacpp) instead of the synthesized model.', helpValue: 'FILE'}),
  synthetic: Flags.boolean({
    summary:
      "Random weights with the real architecture: embedded/llamacpp serve capplan's synthesized GGUF (their default without --model-file); vllm adds --load-format dummy.",
    default: false,
  }),
  'server-bin': Flags.string({summary: "llama-server binary (default: $CAPPLAN_LLAMA_BIN_DIR, capplan's own build, then PATH).", helpValue: 'PATH'}),
  'vllm-bin': Flags.string({summary: 'vllm executable (default: vllm on PATH).', helpValue: 'PATH'}),
  host: benchFlag.host({
    summary:
      'With --engine llamacpp or vllm: the address the spawned server binds [default: 127.0.0.1, this machine only]; 0.0.0.0 makes it reachable from the network (a warning says so).',
    helpValue: 'ADDR',
  }),
  api: Flags.option({
    options: ALL_APIS,
    summary:
      'The request API. llamacpp: completion (POST /completion, default) or v1-completions (POST /v1/completions); openai: completions (POST /v1/completions, default) or chat (POST /v1/chat/completions, needs --dataset).',
  })(),
  'on-error': onEngineErrorFlag({
    summary:
      "With --engine llamacpp or vllm, when the server dies during a run [default: stop]: stop = that level is saved as failed (its finished requests kept, the server's last log lines in the notes) and this quantization's run ends, the next --quant still runs on a new server; continue = restart the server and go on with the next level.",
  }),
  endpoint: Flags.string({summary: "With --engine openai: the server's base URL, e.g. http://10.0.0.5:8000.", helpValue: 'URL'}),
  'api-key-env': Flags.string({summary: 'With --engine openai: the environment variable holding the API key (the key is never stored).', helpValue: 'NAME'}),
  'model-id': Flags.string({summary: 'With --engine openai: the model name the server expects (default: the first of GET /v1/models).', helpValue: 'NAME'}),
  gpus: integerFlag({summary: 'GPUs one replica uses: vllm --tensor-parallel-size (default 1); for openai, the GPUs behind the endpoint (costing).', min: 0, max: 64}),
  'startup-timeout': benchFlag['startup-timeout']({
    summary: 'Give up waiting for a spawned server to become ready after this long.',
    default: BENCH_DEFAULTS.startupTimeoutMs,
    defaultHelp: async () => '10m',
    helpValue: 'DURATION',
  }),
  'request-timeout': benchFlag['request-timeout']({summary: 'Fail a request that takes longer than this (default 10m).', helpValue: 'DURATION'}),
  'client-threads': integerFlag({
    summary: "Threads that read, time and parse the HTTP streams (default 1: capplan's main thread). More use more cores and keep the main thread's GC off the token times.",
    min: 1,
    max: 64,
  }),
  requests: integerFlag({summary: 'Measured requests per level (default: 2 x concurrency, at least 4).', min: 1, max: 100_000}),
  workload: Flags.string({summary: 'Workload profile: prompt/output lengths and the SLO for goodput.', default: BENCH_DEFAULTS.workload, helpValue: 'ID'}),
  'input-tokens': integerFlag({summary: 'Prompt tokens per request (overrides the workload).', min: 1, max: 131_072}),
  'output-tokens': integerFlag({summary: 'Output tokens per request (overrides the workload).', min: 1, max: 131_072}),
  'prefix-tokens': integerFlag({
    summary: 'Shared prefix: the first N tokens of each prompt come from one of --prefix-groups prefixes (counted in the input length).',
    min: 1,
    max: 131_072,
  }),
  'prefix-groups': integerFlag({summary: 'Shared prefix: K distinct prefixes, each request draws one (seeded) [default: 1].', min: 1, max: 100_000}),
  turns: integerFlag({summary: "Multi-turn sessions of T requests: each turn's prompt is the conversation so far plus a new user part.", min: 1, max: 1000}),
  'think-time': benchFlag['think-time']({summary: "With --turns: wait this long after a turn's answer before the next turn, e.g. 2s [default: 0].", helpValue: 'DURATION'}),
  'input-dist': benchFlag['input-dist']({
    summary: 'Prompt lengths: fixed:N, uniform:MIN,MAX, normal:MEAN,STDEV[,MIN,MAX], lognormal:MEAN,STDEV[,MIN,MAX] or hist:FILE (lines "tokens,weight").',
    helpValue: 'SPEC',
  }),
  'output-dist': benchFlag['output-dist']({summary: 'Output lengths, as --input-dist.', helpValue: 'SPEC'}),
  burstiness: benchFlag.burstiness({summary: 'With --rate: gamma inter-arrival shape (1 = Poisson, 0.5 = burstier, 4 = more regular).', helpValue: 'B'}),
  'ramp-up': benchFlag['ramp-up']({summary: 'With --rate: the rate rises linearly from 0 over this long, then holds, e.g. 30s.', helpValue: 'DURATION'}),
  trace: Flags.string({summary: 'Replay a Mooncake-format JSONL trace (timestamp, input_length, output_length, hash_ids) at its timestamps.', helpValue: 'FILE'}),
  'replay-speed': benchFlag['replay-speed']({summary: "With --trace: divide the trace's time gaps by this, e.g. 2 = twice as fast [default: 1].", helpValue: 'X'}),
  'trace-block-tokens': integerFlag({summary: 'With --trace: tokens per hash_ids block [default: 512, as Mooncake].', min: 1, max: 131_072}),
  'prompt-cache': Flags.option({
    options: ['on', 'off'] as const,
    summary: "The server's prompt cache for a shaped workload [default: on]; the control (no shape flags) always runs with it off.",
  })(),
  threads: integerFlag({summary: 'CPU threads for llama.cpp (default: physical cores).', min: 1, max: 1024}),
  device: Flags.option({options: ['auto', 'cpu'] as const, default: 'auto' as const, summary: 'auto: a GPU when the prebuilt binaries find one; cpu: CPU only.'})(),
  'results-dir': Flags.string({summary: 'Where result files are written.', default: BENCH_DEFAULTS.resultsDir, helpValue: 'DIR'}),
  seed: integerFlag({summary: 'Seed of the synthetic prompts.', default: BENCH_DEFAULTS.seed}),
  resume: Flags.string({
    summary:
      'Repeat the run recorded in FILE (its command, model and quantization) for the levels it lacks: a NEW file beside it holds its complete levels plus the new ones. No other flags (except --json, --profiles).',
    helpValue: 'FILE',
  }),
  gpu: Flags.string({
    summary: 'GPU profile whose on-demand price costs the result (default: the detected GPU, or `cpu` on a CPU run).',
    helpValue: 'ID',
  }),
}
