import {describe, expect, it} from 'vitest'

import {benchExitCode, levelStatus, runStatusOf} from '../../../src/loadgen/run.js'
import type {LevelRecord} from '../../../src/results/schema.js'

const level = (status: LevelRecord['status']) => ({status}) as LevelRecord

describe('level and run status', () => {
  it('a level is partial when interrupted, failed when nothing succeeded, else complete', () => {
    expect(levelStatus('partial', 3, 0)).toBe('partial')
    expect(levelStatus('complete', 0, 4)).toBe('failed')
    expect(levelStatus('complete', 3, 1)).toBe('complete')
    expect(levelStatus('complete', 0, 0)).toBe('complete')
  })

  it('a run is complete only when every planned level completed', () => {
    expect(runStatusOf([level('complete'), level('complete')], 2, false)).toBe('complete')
    expect(runStatusOf([level('complete')], 2, false)).toBe('partial')
    expect(runStatusOf([level('complete'), level('failed')], 2, false)).toBe('partial')
    expect(runStatusOf([level('failed'), level('failed')], 2, false)).toBe('failed')
    expect(runStatusOf([level('complete'), level('complete')], 2, true)).toBe('interrupted')
  })
})

describe('benchExitCode', () => {
  it('is 9 (PARTIAL_RUN) when any run has a failed or partial level, 0 when every run completed', () => {
    expect(benchExitCode(['complete', 'complete'])).toBe(0)
    expect(benchExitCode(['complete', 'partial'])).toBe(9)
    expect(benchExitCode(['failed'])).toBe(9)
    expect(benchExitCode([])).toBe(0)
  })
})
