/**
 * bench's workload-shape flags (and a workload profile's shape fields) -> the shape the load generator builds
 * (loadgen/shape.ts) and its record for the result file (workload.shape). Absent when nothing asks for a
 * shape: the control run (unique prompts, fixed lengths, cache off) writes the same file as before.
 */

import {invalidInput} from '../../lib/errors.js'
import {loadHistogram} from '../../loadgen/histogram.js'
import {lengthBounds, type LengthDistSpec, nominalLength} from '../../loadgen/lengths.js'
import type {LoadPlan} from '../../loadgen/run.js'
import {maxPromptTokens, type ShapePlan} from '../../loadgen/shape.js'
import {loadTrace} from '../../loadgen/trace.js'
import type {WorkloadProfile} from '../../profiles/schema.js'
import type {LengthDist, WorkloadShape} from '../../results/workload-shape.js'

/** The shape flags as values (src/cli/flags/bench.ts). */
export interface ShapeFlags {
  'prefix-tokens'?: number | undefined
  'prefix-groups'?: number | undefined
  turns?: number | undefined
  /** ms. */
  'think-time'?: number | undefined
  'input-dist'?: LengthDistSpec | undefined
  'output-dist'?: LengthDistSpec | undefined
  burstiness?: number | undefined
  /** ms. */
  'ramp-up'?: number | undefined
  trace?: string | undefined
  'replay-speed'?: number | undefined
  'trace-block-tokens'?: number | undefined
  'prompt-cache'?: 'on' | 'off' | undefined
}

export interface ResolvedShape {
  plan: ShapePlan
  record: WorkloadShape
  /** The workload lengths the result file records (nominal means; a trace's mean lengths). */
  inputTokens: number
  outputTokens: number
  /** The longest prompt and output a request can have (context sizes). */
  maxPromptTokens: number
  maxOutputTokens: number
  /** A trace replaces the load plan: one level at the trace's timestamps. */
  load: LoadPlan
}

/** Mooncake's traces hash prompts in blocks of 512 tokens. */
export const MOONCAKE_BLOCK_TOKENS = 512

async function distOf(spec: LengthDistSpec | undefined, fixed: number, flag: string): Promise<LengthDist> {
  if (spec === undefined) return {kind: 'fixed', tokens: fixed}
  if (spec.kind !== 'histogram-file') return spec
  return {kind: 'histogram', file: spec.file, bins: await loadHistogram(spec.file, flag)}
}

const given = (flags: ShapeFlags, names: readonly (keyof ShapeFlags)[]) => names.filter((name) => flags[name] !== undefined).map((name) => `--${name}`)

/**
 * The shape, or undefined for the control. `context` names what else was given that a shape must not meet
 * (--dataset, --input-tokens with --input-dist, the load flags a trace replaces).
 */
export async function resolveShape(
  flags: ShapeFlags,
  workload: WorkloadProfile,
  context: {
    load: LoadPlan
    loadFlags: string[]
    datasetGiven: boolean
    inputTokens: number
    outputTokens: number
    inputTokensGiven: boolean
    outputTokensGiven: boolean
    requests: number | undefined
    maxInFlight: number
    seed: number
  },
): Promise<ResolvedShape | undefined> {
  const profileShape = workload.shape
  const shapeFlags = given(flags, [
    'prefix-tokens',
    'prefix-groups',
    'turns',
    'think-time',
    'input-dist',
    'output-dist',
    'burstiness',
    'ramp-up',
    'trace',
    'replay-speed',
    'trace-block-tokens',
  ])
  if (shapeFlags.length === 0 && profileShape === undefined && flags['prompt-cache'] === undefined) return undefined
  if (context.datasetGiven) {
    throw invalidInput(
      `${[...shapeFlags, ...(profileShape === undefined ? [] : [`--workload ${workload.id} (a shaped workload)`])].join(', ') || '--prompt-cache'} cannot be used with --dataset: a shape builds its own token-id prompts.`,
      'Drop --dataset, or the shape flags.',
    )
  }
  if (flags['input-dist'] !== undefined && context.inputTokensGiven)
    throw invalidInput('--input-dist and --input-tokens cannot be used together.', 'Give one: a fixed length or a distribution.')
  if (flags['output-dist'] !== undefined && context.outputTokensGiven)
    throw invalidInput('--output-dist and --output-tokens cannot be used together.', 'Give one: a fixed length or a distribution.')
  if (flags['prefix-groups'] !== undefined && flags['prefix-tokens'] === undefined)
    throw invalidInput('--prefix-groups needs --prefix-tokens N (the shared prefix length).', 'e.g. --prefix-tokens 384 --prefix-groups 4')
  if (flags['think-time'] !== undefined && flags.turns === undefined)
    throw invalidInput('--think-time needs --turns T (multi-turn sessions).', 'e.g. --turns 4 --think-time 2s')
  const rateOnly = given(flags, ['burstiness', 'ramp-up'])
  if (rateOnly.length > 0 && context.load.kind !== 'rate')
    throw invalidInput(`${rateOnly.join(' and ')} only ${rateOnly.length > 1 ? 'apply' : 'applies'} to --rate (open loop).`, 'e.g. --rate 2 --burstiness 0.5 --ramp-up 30s')
  const traceOnly = given(flags, ['replay-speed', 'trace-block-tokens'])
  if (traceOnly.length > 0 && flags.trace === undefined)
    throw invalidInput(`${traceOnly.join(' and ')} only ${traceOnly.length > 1 ? 'apply' : 'applies'} to --trace FILE.`, 'e.g. --trace trace.jsonl --replay-speed 2')

  const promptCache = flags['prompt-cache'] ?? 'on'
  if (flags.trace !== undefined) {
    const clash = [
      ...context.loadFlags,
      ...given(flags, ['prefix-tokens', 'prefix-groups', 'turns', 'think-time', 'input-dist', 'output-dist']),
      ...(context.inputTokensGiven ? ['--input-tokens'] : []),
      ...(context.outputTokensGiven ? ['--output-tokens'] : []),
    ]
    if (clash.length > 0)
      throw invalidInput(
        `--trace sets the arrivals, lengths and shared blocks itself; ${clash.join(', ')} cannot be used with it.`,
        'Drop them (--requests N replays the first N lines, --max-in-flight caps the requests at once).',
      )
    const trace = await loadTrace(flags.trace)
    const requests = trace.requests.slice(0, context.requests ?? trace.requests.length)
    const blockTokens = flags['trace-block-tokens'] ?? MOONCAKE_BLOCK_TOKENS
    const speed = flags['replay-speed'] ?? 1
    const start = requests[0]!.timestampMs
    const mean = (values: number[]) => Math.max(1, Math.round(values.reduce((a, b) => a + b, 0) / values.length))
    const plan: ShapePlan = {prefix: null, sessions: null, input: {kind: 'fixed', tokens: 1}, output: {kind: 'fixed', tokens: 1}, trace: {requests, blockTokens}}
    return {
      plan,
      record: {
        promptCache,
        seed: context.seed,
        prefix: null,
        sessions: null,
        input: {kind: 'fixed', tokens: mean(requests.map((r) => r.inputLength))},
        output: {kind: 'fixed', tokens: mean(requests.map((r) => r.outputLength))},
        arrivals: {process: 'trace', burstiness: null, rampMs: null},
        trace: {file: trace.file, sha256: trace.sha256, requests: requests.length, blockTokens, replaySpeed: speed},
      },
      inputTokens: mean(requests.map((r) => r.inputLength)),
      outputTokens: mean(requests.map((r) => r.outputLength)),
      maxPromptTokens: Math.max(...requests.map((r) => r.inputLength)),
      maxOutputTokens: Math.max(...requests.map((r) => r.outputLength)),
      load: {kind: 'trace', offsetsMs: requests.map((r) => (r.timestampMs - start) / speed), maxInFlight: context.maxInFlight},
    }
  }

  const prefixTokens = flags['prefix-tokens'] ?? profileShape?.prefixTokens
  const prefix = prefixTokens === undefined ? null : {tokens: prefixTokens, groups: flags['prefix-groups'] ?? profileShape?.prefixGroups ?? 1}
  const turns = flags.turns ?? profileShape?.turns
  const sessions = turns === undefined ? null : {turns, thinkTimeMs: flags['think-time'] ?? profileShape?.thinkTimeMs ?? 0}
  const input =
    flags['input-dist'] !== undefined || context.inputTokensGiven
      ? await distOf(flags['input-dist'], context.inputTokens, '--input-dist')
      : (profileShape?.inputDist ?? {kind: 'fixed', tokens: context.inputTokens})
  const output =
    flags['output-dist'] !== undefined || context.outputTokensGiven
      ? await distOf(flags['output-dist'], context.outputTokens, '--output-dist')
      : (profileShape?.outputDist ?? {kind: 'fixed', tokens: context.outputTokens})
  const inputBounds = lengthBounds(input)
  const outputBounds = lengthBounds(output)
  if (prefix !== null && inputBounds.min <= prefix.tokens) {
    throw invalidInput(
      `--prefix-tokens ${prefix.tokens} leaves no unique part: the prompt length (input) can be as short as ${inputBounds.min} tokens.`,
      `The input length includes the prefix: make it longer than the prefix, e.g. --prefix-tokens ${prefix.tokens} --input-tokens ${prefix.tokens + 128}.`,
    )
  }
  const plan: ShapePlan = {prefix, sessions, input, output, trace: null}
  const load = context.load
  return {
    plan,
    record: {
      promptCache,
      seed: context.seed,
      prefix,
      sessions,
      input,
      output,
      arrivals: {
        process: load.kind === 'rate' ? ((load.burstiness ?? 1) === 1 ? 'poisson' : 'gamma') : 'closed',
        burstiness: load.kind === 'rate' ? (load.burstiness ?? 1) : null,
        rampMs: load.kind === 'rate' ? (load.rampMs ?? null) : null,
      },
      trace: null,
    },
    inputTokens: nominalLength(input),
    outputTokens: nominalLength(output),
    maxPromptTokens: maxPromptTokens(plan, inputBounds.max, outputBounds.max),
    maxOutputTokens: outputBounds.max,
    load,
  }
}
