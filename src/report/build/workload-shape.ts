import type {LevelRecord, ResultFile} from '../../results/schema.js'
import type {LengthDist, WorkloadShape} from '../../results/workload-shape.js'

/**
 * The workload's shape and its cache evidence as report and compare show them (issue 15): one line for the
 * shape, one for the measured hit rate, and the difference between two shapes that makes a comparison unfair.
 * Self-contained: the rest of report reads nothing from here but these strings and numbers.
 */

const percent = (value: number) => `${(value * 100).toFixed(1)}%`

export function lengthDistText(dist: LengthDist): string {
  switch (dist.kind) {
    case 'fixed':
      return `fixed ${dist.tokens}`
    case 'uniform':
      return `uniform ${dist.min}..${dist.max}`
    case 'normal':
    case 'lognormal':
      return `${dist.kind} mean ${dist.mean} sd ${dist.stdev} (${dist.min}..${dist.max})`
    case 'histogram':
      return `histogram ${dist.file} (${dist.bins.length} bins)`
  }
}

/** "Shape: ..." for the report header; the control when the file records no shape. */
export function shapeText(shape: WorkloadShape | undefined): string {
  if (shape === undefined) return 'Shape: control (every prompt unique, fixed lengths, prompt cache off)'
  const parts: string[] = []
  if (shape.trace !== null) {
    parts.push(`trace ${shape.trace.file} (${shape.trace.requests} requests, ${shape.trace.blockTokens}-token blocks, speed x${shape.trace.replaySpeed})`)
  } else {
    if (shape.prefix !== null) parts.push(`shared prefix ${shape.prefix.tokens} tokens x ${shape.prefix.groups} group(s)`)
    if (shape.sessions !== null) parts.push(`${shape.sessions.turns}-turn sessions (think ${shape.sessions.thinkTimeMs} ms)`)
    parts.push(`input ${lengthDistText(shape.input)}`, `output ${lengthDistText(shape.output)}`)
    const {arrivals} = shape
    if (arrivals.process === 'gamma') parts.push(`gamma arrivals (burstiness ${arrivals.burstiness})`)
    if (arrivals.rampMs !== null) parts.push(`ramp ${(arrivals.rampMs / 1000).toFixed(1)} s`)
  }
  parts.push(`prompt cache ${shape.promptCache}`, `seed ${shape.seed}`)
  return `Shape: ${parts.join(', ')}`
}

/** The run's cache evidence over its levels (prompt-token weighted); null when no level recorded any. */
export function measuredHitRate(levels: readonly LevelRecord[]): {measured: number | null; intended: number | null; levels: number} | null {
  const caches = levels.flatMap((level) => (level.cache === undefined ? [] : [level.cache]))
  if (caches.length === 0) return null
  const known = caches.filter((cache) => cache.measuredHitRate !== null)
  const weighted = (pick: (c: (typeof caches)[number]) => number | null, from: typeof caches) => {
    const tokens = from.reduce((sum, cache) => sum + cache.promptTokens, 0)
    return tokens > 0 && from.every((c) => pick(c) !== null) ? from.reduce((sum, c) => sum + pick(c)! * c.promptTokens, 0) / tokens : null
  }
  return {
    measured: known.length === caches.length ? weighted((c) => c.measuredHitRate, caches) : null,
    intended: weighted((c) => c.intendedHitRate, caches),
    levels: caches.length,
  }
}

/** "Prompt cache: ..." for the report; null for a file without cache evidence (the control). */
export function hitRateText(levels: readonly LevelRecord[]): string | null {
  const rate = measuredHitRate(levels)
  if (rate === null) return null
  const intended = rate.intended === null ? 'no intended rate' : `intended ${percent(rate.intended)}`
  const sources = [...new Set(levels.flatMap((level) => (level.cache === undefined ? [] : [level.cache.source])))].join(', ')
  return `Prompt cache: measured hit rate ${rate.measured === null ? 'unknown (the server did not say)' : percent(rate.measured)}, ${intended} (${rate.levels} level(s), ${sources})`
}

/** How `b`'s shape differs from `a`'s, for compare's warning; null when they are the same. */
export function shapeDifference(a: ResultFile['workload'], b: ResultFile['workload']): string | null {
  const text = (w: ResultFile['workload']) =>
    shapeText(w.shape)
      .replace(/^Shape: /, '')
      .replace(/, seed -?\d+$/, '')
  return text(a) === text(b) ? null : `shape ${text(b)} vs ${text(a)}`
}
