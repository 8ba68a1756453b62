/**
 * Self-hosted $/1M input and $/1M output apart, from where the replica's time went: prefill (the request's
 * TTFT) vs decode (E2E - TTFT), summed over the successful requests of the operating point's level.
 *
 *   prefill share   = sum TTFT / sum E2E
 *   input $/1M      = replica $/month x prefill share / input tokens served per month x 1e6
 *   output $/1M     = replica $/month x (1 - prefill share) / output tokens served per month x 1e6
 *
 * The two parts add up to the replica's cost, so at the measured ratio they give the blended figure back.
 * TTFT includes queueing behind other requests, so under load the share is an upper bound on prefill's.
 */

export interface RequestTimes {
  ttftMs: number | null
  e2eMs: number | null
  error: unknown
}

export const IO_SPLIT_METHOD =
  "replica time apportioned by measured time: prefill = each request's TTFT, decode = E2E - TTFT, summed over the operating point's level (TTFT includes queueing: an upper bound on prefill's share)"

/** sum TTFT / sum E2E over successful requests with both times; null without any. */
export function prefillShare(requests: readonly RequestTimes[]): number | null {
  let ttft = 0
  let e2e = 0
  for (const request of requests) {
    if (request.error !== null || request.ttftMs === null || request.e2eMs === null) continue
    ttft += request.ttftMs
    e2e += request.e2eMs
  }
  return e2e > 0 ? Math.min(1, ttft / e2e) : null
}

export interface IoSplit {
  prefillShare: number
  inputPerMTok: number
  outputPerMTok: number
  method: string
}

/** $/1M input and output for a replica costing `monthlyCost` that serves these monthly input and output tokens. */
export function splitCost(monthlyCost: number, inputTokensPerMonth: number, outputTokensPerMonth: number, share: number, method: string = IO_SPLIT_METHOD): IoSplit | null {
  if (!(inputTokensPerMonth > 0 && outputTokensPerMonth > 0)) return null
  return {
    prefillShare: share,
    inputPerMTok: (monthlyCost * share * 1e6) / inputTokensPerMonth,
    outputPerMTok: (monthlyCost * (1 - share) * 1e6) / outputTokensPerMonth,
    method,
  }
}
