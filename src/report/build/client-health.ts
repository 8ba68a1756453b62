import type {ResultFile} from '../../results/schema.js'

/**
 * A stall of capplan's own process (a GC pause, a late event loop) stamps every chunk that arrives during it
 * late by up to its length. When such a stall reaches this share of a level's ITL p50, the level's ITL tail
 * may be the client's rather than the server's.
 */
export const CLIENT_STALL_SHARE_OF_ITL = 0.1

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`

/**
 * One warning per level whose recorded client health (level.clientHealth) could have distorted its ITL:
 * GC pause p99 or event-loop delay p99 > CLIENT_STALL_SHARE_OF_ITL x the level's chunk ITL p50. The GC pauses
 * are the main thread's and, with client threads (threadGcPauseMs), each worker thread's: the worst thread's
 * p99 is the one named. Levels without health figures (older files, imports) or without ITL samples say nothing.
 */
export function clientHealthWarnings(result: Pick<ResultFile, 'levels'>): string[] {
  const warnings: string[] = []
  for (const level of result.levels) {
    const health = level.clientHealth
    const itlP50 = level.summary.itlMsPerChunk?.p50
    if (health === undefined || itlP50 === undefined || !(itlP50 > 0)) continue
    const limit = CLIENT_STALL_SHARE_OF_ITL * itlP50
    const stalls: string[] = []
    if (health.gcPauseMs !== null && health.gcPauseMs.count > 0 && health.gcPauseMs.p99 > limit) {
      stalls.push(`GC pauses p99 ${ms(health.gcPauseMs.p99)} (max ${ms(health.gcPauseMs.max)})`)
    }
    // The client threads read and stamp the chunks: their own pauses count the same way.
    const threads = health.threadGcPauseMs ?? []
    let worst: (typeof threads)[number] | null = null
    for (const thread of threads) if (thread.count > 0 && (worst === null || thread.p99 > worst.p99)) worst = thread
    if (worst !== null && worst.p99 > limit) {
      const of = threads.length === 1 ? 'its one client thread' : `the worst of ${threads.length} client threads`
      stalls.push(`client-thread GC pauses p99 ${ms(worst.p99)} (max ${ms(worst.max)}, ${of})`)
    }
    if (health.eventLoopDelayMs !== null && health.eventLoopDelayMs.p99 > limit) {
      stalls.push(`event-loop delay p99 ${ms(health.eventLoopDelayMs.p99)} (max ${ms(health.eventLoopDelayMs.max)})`)
    }
    if (stalls.length === 0) continue
    warnings.push(
      `${level.load.kind} ${level.load.value}: capplan's own ${stalls.join(' and ')} exceed ${CLIENT_STALL_SHARE_OF_ITL * 100}% of the ITL p50 (${ms(itlP50)}): chunks arriving during a stall were stamped late, so the ITL tail may be the client's, not the server's (a busy or overloaded load generator: fewer streams per process, see README "How far the load generator goes")`,
    )
  }
  return warnings
}
