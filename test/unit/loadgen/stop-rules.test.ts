import {describe, expect, it} from 'vitest'

import {maxRequestsOf, precisionRule, StopController, stopDecision, ThroughputWindows, windowPrecision} from '../../../src/loadgen/stop-rules.js'

describe('ThroughputWindows', () => {
  it('counts tokens into fixed windows and reports only complete ones as tok/s', () => {
    const windows = new ThroughputWindows(1000, 500)
    windows.add(900, 100) // before the origin: ignored
    windows.add(1000, 2) // window 0
    windows.add(1499, 3) // window 0 -> 5 tokens / 0.5 s = 10 tok/s
    windows.add(1500, 4) // window 1 -> 4 / 0.5 = 8 tok/s
    windows.add(2100, 1) // window 2 -> 1 / 0.5 = 2 tok/s
    expect(windows.completeRates(1999)).toEqual([10])
    expect(windows.completeRates(2000)).toEqual([10, 8])
    expect(windows.completeRates(2499)).toEqual([10, 8])
    expect(windows.completeRates(2500)).toEqual([10, 8, 2])
    // a window with no token is a real sample of 0 tok/s (a stall), not a missing one
    expect(windows.completeRates(3000)).toEqual([10, 8, 2, 0])
  })
})

describe('windowPrecision and stopDecision', () => {
  // After skipping the ramp window (10): [100, 102, 98, 101, 99], mean 100,
  // sample variance (0 + 4 + 4 + 1 + 1) / 4 = 2.5, s = 1.58114, standard error s / sqrt(5) = 0.707107,
  // t(0.975, df 4) = 2.776445, half-width 2.776445 x 0.707107 = 1.963243 -> 1.963% of the mean.
  const rates = [10, 100, 102, 98, 101, 99]
  const rule = precisionRule(0.02, {minWindows: 5, skipWindows: 1, minRequests: 10, maxRequests: 100, windowMs: 1000})

  it('computes the t-based relative half-width of the windows after the skipped ramp', () => {
    const precision = windowPrecision(rates, rule)!
    expect(precision.windows).toBe(5)
    expect(precision.mean).toBe(100)
    expect(precision.relativeMargin).toBeCloseTo(0.01963243, 7)
    // one usable window too few -> no CI yet
    expect(windowPrecision(rates.slice(0, 5), rule)).toBeNull()
  })

  it('stops when the half-width is within the precision, and not before', () => {
    const decision = stopDecision(rule, {issued: 20, elapsedMs: 6000, windowRates: rates})
    expect(decision).toMatchObject({stop: true, reason: 'precision'})
    expect(decision.stop && decision.message).toMatch(/1\.96% <= 2\.00% of 100\.0 output tok\/s over 5 windows/)
    // 1.9% is tighter than the 1.963% reached: go on
    expect(stopDecision({...rule, relative: 0.019}, {issued: 20, elapsedMs: 6000, windowRates: rates})).toEqual({stop: false})
  })

  it('honours the minimum and maximum request counts', () => {
    // tight CI but only 9 of the 10 minimum requests issued
    expect(stopDecision(rule, {issued: 9, elapsedMs: 6000, windowRates: rates})).toEqual({stop: false})
    // loose CI (the spread of [100, 50, 150, 100, 100] is far over 2%) but the cap is reached
    const loose = [10, 100, 50, 150, 100, 100]
    expect(stopDecision(rule, {issued: 99, elapsedMs: 6000, windowRates: loose})).toEqual({stop: false})
    const capped = stopDecision(rule, {issued: 100, elapsedMs: 6000, windowRates: loose})
    expect(capped).toMatchObject({stop: true, reason: 'max-requests'})
    expect(capped.stop && capped.message).toMatch(/request cap 100 reached before the precision 2\.00%/)
  })

  it('applies the request count and duration rules exactly at their bounds', () => {
    expect(stopDecision({kind: 'requests', requests: 10}, {issued: 9, elapsedMs: 0, windowRates: []})).toEqual({stop: false})
    expect(stopDecision({kind: 'requests', requests: 10}, {issued: 10, elapsedMs: 0, windowRates: []})).toMatchObject({stop: true, reason: 'requests'})
    const duration = {kind: 'duration' as const, durationMs: 60_000, maxRequests: 500}
    expect(stopDecision(duration, {issued: 3, elapsedMs: 59_999, windowRates: []})).toEqual({stop: false})
    expect(stopDecision(duration, {issued: 3, elapsedMs: 60_000, windowRates: []})).toMatchObject({stop: true, reason: 'duration'})
    expect(stopDecision(duration, {issued: 500, elapsedMs: 1000, windowRates: []})).toMatchObject({stop: true, reason: 'max-requests'})
  })

  it('reports the most requests each rule may issue (prompts to reserve)', () => {
    expect(maxRequestsOf({kind: 'requests', requests: 7})).toBe(7)
    expect(maxRequestsOf({kind: 'duration', durationMs: 1000, maxRequests: 40})).toBe(40)
    expect(maxRequestsOf(rule)).toBe(100)
  })

  it('refuses a minimum above the maximum', () => {
    expect(() => precisionRule(0.03, {minRequests: 50, maxRequests: 20})).toThrow(/at least 50 requests but may issue at most 20/)
  })
})

describe('StopController on a synthetic token stream', () => {
  it('issues exactly N requests under a request-count rule', () => {
    const controller = new StopController({kind: 'requests', requests: 2}, 0)
    expect([controller.mayIssue(0), controller.mayIssue(1), controller.mayIssue(2), controller.mayIssue(3)]).toEqual([true, true, false, false])
    expect(controller.issuedCount).toBe(2)
    expect(controller.stopped?.reason).toBe('requests')
  })

  it('stops once enough steady windows have completed', () => {
    // origin 5000, windows of 1000 ms; window 0 (ramp) gets 10 tokens, windows 1..3 get 100 tokens each.
    // Usable windows after skipping 1: [100, 100, 100] tok/s, spread 0 -> half-width 0 <= 3%.
    const rule = precisionRule(0.03, {windowMs: 1000, minWindows: 3, skipWindows: 1, minRequests: 2, maxRequests: 1000})
    const controller = new StopController(rule, 5000)
    controller.onTokens(5500, 10)
    for (let w = 1; w <= 3; w++) for (let k = 0; k < 10; k++) controller.onTokens(5000 + w * 1000 + k * 100, 10)
    expect(controller.mayIssue(5000)).toBe(true)
    expect(controller.mayIssue(6000)).toBe(true)
    // at 8999 window 3 has not ended: only 2 usable windows
    expect(controller.mayIssue(8999)).toBe(true)
    expect(controller.windowRates(8999)).toEqual([10, 100, 100])
    expect(controller.mayIssue(9000)).toBe(false)
    expect(controller.stopped?.reason).toBe('precision')
    expect(controller.precisionAtStop).toEqual({mean: 100, relativeMargin: 0, windows: 3})
    expect(controller.issuedCount).toBe(3)
  })
})
