import {describe, expect, it} from 'vitest'

import {clientHealthWarnings} from '../../../../src/report/build/client-health.js'
import type {LevelRecord} from '../../../../src/results/schema.js'
import {flatDistribution, level} from '../levels.js'

/** src/report/build/client-health.ts: when capplan's own stalls could have distorted a level's ITL. */

function withHealth(itlP50: number | null, health: LevelRecord['clientHealth']): LevelRecord {
  const base = level({concurrency: 64, outputTokensPerS: 1000, ttftP95: 100, tpotP95: 10})
  return {...base, summary: {...base.summary, itlMsPerChunk: itlP50 === null ? null : flatDistribution(itlP50)}, ...(health === undefined ? {} : {clientHealth: health})}
}

const quietLoop = {count: 100, p50: 0.1, p99: 0.5, max: 0.8}

describe('clientHealthWarnings', () => {
  it('GC pause p99 2.5 ms > 10% of an ITL p50 of 10 ms (1 ms): one warning naming the level and both figures', () => {
    const warnings = clientHealthWarnings({levels: [withHealth(10, {eventLoopDelayMs: quietLoop, gcPauseMs: {count: 40, p50: 1, p99: 2.5, max: 4, totalMs: 50}})]})
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('concurrency 64')
    expect(warnings[0]).toContain('GC pauses p99 2.50 ms (max 4.00 ms)')
    expect(warnings[0]).toContain('ITL p50 (10.0 ms)')
    expect(warnings[0]).not.toContain('event-loop')
  })

  it('the same pauses under an ITL p50 of 30 ms (limit 3 ms) say nothing; 1.0 ms is not above a 1.0 ms limit', () => {
    const gcPauseMs = {count: 40, p50: 1, p99: 2.5, max: 4, totalMs: 50}
    expect(clientHealthWarnings({levels: [withHealth(30, {eventLoopDelayMs: quietLoop, gcPauseMs})]})).toEqual([])
    expect(clientHealthWarnings({levels: [withHealth(10, {eventLoopDelayMs: quietLoop, gcPauseMs: {...gcPauseMs, p99: 1}})]})).toEqual([])
  })

  it('event-loop delay p99 3 ms over a 20 ms ITL p50 (limit 2 ms) warns too; both stalls in one line', () => {
    const loop = {count: 100, p50: 0.2, p99: 3, max: 12}
    expect(clientHealthWarnings({levels: [withHealth(20, {eventLoopDelayMs: loop, gcPauseMs: {count: 0, p50: 0, p99: 0, max: 0, totalMs: 0}})]})[0]).toContain(
      'event-loop delay p99 3.00 ms (max 12.0 ms)',
    )
    const both = clientHealthWarnings({levels: [withHealth(20, {eventLoopDelayMs: loop, gcPauseMs: {count: 5, p50: 2, p99: 5, max: 5, totalMs: 10}})]})
    expect(both).toHaveLength(1)
    expect(both[0]).toMatch(/GC pauses p99 5\.00 ms .* and event-loop delay p99 3\.00 ms/)
  })

  it('no health recorded (version 2 files, imports), nothing measured (null), or no ITL samples: no warning', () => {
    const gcPauseMs = {count: 5, p50: 2, p99: 5, max: 5, totalMs: 10}
    expect(clientHealthWarnings({levels: [withHealth(10, undefined)]})).toEqual([])
    expect(clientHealthWarnings({levels: [withHealth(10, {eventLoopDelayMs: null, gcPauseMs: null})]})).toEqual([])
    expect(clientHealthWarnings({levels: [withHealth(null, {eventLoopDelayMs: quietLoop, gcPauseMs})]})).toEqual([])
  })

  it("with client threads, a worker thread's GC pause p99 over the limit warns even when the main thread's is quiet; the worst thread is named", () => {
    const quietGc = {count: 3, p50: 0.3, p99: 0.5, max: 0.5, totalMs: 1}
    const threadGcPauseMs = [
      {count: 12, p50: 0.8, p99: 1.5, max: 1.6, totalMs: 10},
      {count: 9, p50: 1.2, p99: 3.25, max: 3.5, totalMs: 12},
    ]
    const warnings = clientHealthWarnings({levels: [withHealth(10, {eventLoopDelayMs: quietLoop, gcPauseMs: quietGc, threadGcPauseMs})]})
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('client-thread GC pauses p99 3.25 ms (max 3.50 ms, the worst of 2 client threads)')
    expect(warnings[0]).not.toMatch(/capplan's own GC pauses/)
    // The same threads under a 40 ms ITL p50 (limit 4 ms), or threads that did not collect: nothing.
    expect(clientHealthWarnings({levels: [withHealth(40, {eventLoopDelayMs: quietLoop, gcPauseMs: quietGc, threadGcPauseMs})]})).toEqual([])
    const idle = [{count: 0, p50: 0, p99: 0, max: 0, totalMs: 0}]
    expect(clientHealthWarnings({levels: [withHealth(10, {eventLoopDelayMs: quietLoop, gcPauseMs: quietGc, threadGcPauseMs: idle})]})).toEqual([])
    expect(clientHealthWarnings({levels: [withHealth(10, {eventLoopDelayMs: quietLoop, gcPauseMs: quietGc, threadGcPauseMs: [threadGcPauseMs[1]!]})]})[0]).toContain(
      'its one client thread',
    )
  })
})
