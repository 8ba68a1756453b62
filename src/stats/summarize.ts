import type {LevelSummary, RequestErrorKind, RequestRecord, SloSpec} from '../results/schema.js'
import {distribution, distributionInPlace} from './distribution.js'
import {meetsSlo, requestTpotMs} from './slo.js'

export interface MeasuredWindow {
  /** Monotonic ms relative to the run's t0. */
  startMs: number
  endMs: number
}

/** Gaps between consecutive content events of one request (chunk-weighted ITL samples). */
export function chunkGapsMs(request: RequestRecord): number[] {
  const gaps: number[] = []
  for (let i = 1; i < request.chunkOffsetsMs.length; i++) {
    gaps.push(request.chunkOffsetsMs[i]! - request.chunkOffsetsMs[i - 1]!)
  }
  return gaps
}

/**
 * Token-weighted ITL samples of one request: the gap that ends with a chunk of k tokens is split evenly,
 * contributing k samples of gap / k (the stream does not say when inside the gap each token was made).
 * A chunk of 0 tokens contributes no token sample. The first chunk's tokens belong to TTFT, not ITL.
 */
export function tokenGapsMs(request: RequestRecord): number[] {
  const samples: number[] = []
  for (let i = 1; i < request.chunkOffsetsMs.length; i++) {
    const gap = request.chunkOffsetsMs[i]! - request.chunkOffsetsMs[i - 1]!
    const tokens = request.chunkTokens === null ? 1 : request.chunkTokens[i]!
    for (let t = 0; t < tokens; t++) samples.push(gap / tokens)
  }
  return samples
}

/**
 * One load level's summary, with metrics.md's definitions:
 * - failed requests (error !== null) are excluded from every latency and throughput figure and counted by kind;
 * - TTFT, TPOT, E2E: one sample per successful request (request-weighted);
 * - TPOT = (E2E - TTFT) / (outputTokens - 1), requests with <= 1 output token excluded;
 * - ITL per chunk: gaps between content events; per token: see tokenGapsMs;
 * - throughput = sums over successful requests / the measured window (not the sum of request durations);
 * - token mismatch (countedTokens != outputTokens on a successful request) is counted, and the reported
 *   outputTokens is what throughput uses — the mismatch is flagged, never silently resolved.
 */
export function summarizeLevel(requests: readonly RequestRecord[], window: MeasuredWindow, slo?: SloSpec): LevelSummary {
  const succeeded = requests.filter((request) => request.error === null)
  const errors: Partial<Record<RequestErrorKind, number>> = {}
  for (const request of requests) {
    if (request.error !== null) errors[request.error.kind] = (errors[request.error.kind] ?? 0) + 1
  }

  const durationS = Math.max(0, (window.endMs - window.startMs) / 1000)
  const perSecond = (amount: number) => (durationS > 0 ? amount / durationS : 0)
  const outputTokens = sum(succeeded.map((request) => request.outputTokens))
  const inputTokens = sum(succeeded.map((request) => request.inputTokens))

  const ttfts = succeeded.flatMap((request) => (request.ttftMs === null ? [] : [request.ttftMs]))
  const e2es = succeeded.flatMap((request) => (request.e2eMs === null ? [] : [request.e2eMs]))
  const tpots = succeeded.flatMap((request) => {
    const tpot = requestTpotMs(request)
    return tpot === null ? [] : [tpot]
  })
  const tpotMs = distribution(tpots)
  const itlMsPerChunk = distributionInPlace(allChunkGapsMs(succeeded))
  // Every chunk one token (chunkTokens null): the token-weighted samples are the chunk gaps themselves.
  const itlMsPerToken = succeeded.every((request) => request.chunkTokens === null)
    ? itlMsPerChunk === null
      ? null
      : {...itlMsPerChunk}
    : distributionInPlace(allTokenGapsMs(succeeded))

  let goodput: LevelSummary['goodput'] = null
  if (slo !== undefined) {
    const good = succeeded.filter((request) => meetsSlo(request, slo))
    goodput = {
      slo,
      requests: good.length,
      requestsPerS: perSecond(good.length),
      outputTokensPerS: perSecond(sum(good.map((request) => request.outputTokens))),
      fraction: requests.length > 0 ? good.length / requests.length : 0,
    }
  }

  return {
    requests: {completed: succeeded.length, failed: requests.length - succeeded.length},
    durationS,
    throughput: {
      outputTokensPerS: perSecond(outputTokens),
      inputTokensPerS: perSecond(inputTokens),
      totalTokensPerS: perSecond(outputTokens + inputTokens),
      requestsPerS: perSecond(succeeded.length),
    },
    ttftMs: distribution(ttfts),
    tpotMs,
    itlMsPerToken,
    itlMsPerChunk,
    e2eMs: distribution(e2es),
    perUserTokensPerS: tpotMs !== null && tpotMs.p50 > 0 ? 1000 / tpotMs.p50 : null,
    goodput,
    errors,
    tokenMismatches: succeeded.filter((request) => request.countedTokens !== request.outputTokens).length,
  }
}

/** chunkGapsMs of every request, in request order, in one array (no array per request: levels hold ~1e5 gaps). */
function allChunkGapsMs(requests: readonly RequestRecord[]): Float64Array {
  let count = 0
  for (const request of requests) count += Math.max(0, request.chunkOffsetsMs.length - 1)
  const gaps = new Float64Array(count)
  let at = 0
  for (const {chunkOffsetsMs: offsets} of requests) {
    for (let i = 1; i < offsets.length; i++) gaps[at++] = offsets[i]! - offsets[i - 1]!
  }
  return gaps
}

/** tokenGapsMs of every request, in request order, in one array (the same samples, the same arithmetic). */
function allTokenGapsMs(requests: readonly RequestRecord[]): Float64Array {
  let count = 0
  for (const request of requests) {
    const tokens = request.chunkTokens
    if (tokens === null) count += Math.max(0, request.chunkOffsetsMs.length - 1)
    else for (let i = 1; i < request.chunkOffsetsMs.length; i++) count += tokens[i]!
  }
  const samples = new Float64Array(count)
  let at = 0
  for (const {chunkOffsetsMs: offsets, chunkTokens} of requests) {
    for (let i = 1; i < offsets.length; i++) {
      const gap = offsets[i]! - offsets[i - 1]!
      const tokens = chunkTokens === null ? 1 : chunkTokens[i]!
      for (let t = 0; t < tokens; t++) samples[at++] = gap / tokens
    }
  }
  return samples
}

function sum(values: readonly number[]): number {
  let total = 0
  for (const value of values) total += value
  return total
}
