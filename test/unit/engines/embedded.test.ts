import {describe, expect, it} from 'vitest'

import {BatchGate, batchSizeFor, contextSizeFor} from '../../../src/engines/embedded.js'

/** A decode step that takes a few event-loop turns, like a native llama_decode + sampling. */
const slowStep =
  (log: string[], name: string, ms = 2) =>
  async () => {
    log.push(`start ${name}`)
    await new Promise((resolve) => setTimeout(resolve, ms))
    log.push(`end ${name}`)
    return name
  }

describe('BatchGate', () => {
  it('releases the steps of all waiting streams together, and the next round only after all ended', async () => {
    const gate = new BatchGate()
    const log: string[] = []
    // a's steps are quick, b1 is slow: without the gate a2 would start while b1 still runs.
    const a = (async () => {
      await gate.step(slowStep(log, 'a1', 1))
      await gate.step(slowStep(log, 'a2', 1))
    })()
    const b = (async () => {
      await gate.step(slowStep(log, 'b1', 15))
      await gate.step(slowStep(log, 'b2', 1))
    })()
    await Promise.all([a, b])
    // Round 1 starts a1 and b1 together; a2 waits until b1 ended too (no step in flight), then goes with b2.
    expect(log.slice(0, 2).sort()).toEqual(['start a1', 'start b1'])
    const firstRoundEnd = Math.max(log.indexOf('end a1'), log.indexOf('end b1'))
    expect(log.indexOf('start a2')).toBeGreaterThan(firstRoundEnd)
    expect(log.indexOf('start b2')).toBeGreaterThan(firstRoundEnd)
    expect(log.slice(4, 6).sort()).toEqual(['start a2', 'start b2'])
    // 4 steps in 2 releases (= 2 shared batches)
    expect(gate.releasedSteps).toBe(4)
    expect(gate.releases).toBe(2)
  })

  it('lets a lone stream step straight through', async () => {
    const gate = new BatchGate()
    for (let i = 0; i < 5; i++) expect(await gate.step(async () => i)).toBe(i)
    expect(gate.releases).toBe(5)
  })

  it('passes a failing step through and keeps the gate usable', async () => {
    const gate = new BatchGate()
    await expect(gate.step(async () => Promise.reject(new Error('decode failed')))).rejects.toThrow('decode failed')
    expect(await gate.step(async () => 'ok')).toBe('ok')
  })
})

describe('context sizing', () => {
  it('sizes the context from the workload, not "auto"', () => {
    // 4 x (512 + 256 + 16) = 3136
    expect(contextSizeFor(4, 512, 256)).toEqual({tokensPerSequence: 784, contextSize: 3136})
  })

  it('fits one whole prompt plus a token per other sequence in a batch, at least 512, at most the context', () => {
    expect(batchSizeFor(3136, 784, 4)).toBe(788) // 784 + 4
    expect(batchSizeFor(3136, 144, 4)).toBe(512)
    expect(batchSizeFor(128, 64, 2)).toBe(128)
  })
})
