import {describe, expect, it} from 'vitest'

import type {RequestRecord} from '../../../src/results/schema.js'
import {formatSlo, meetsSlo, requestTpotMs} from '../../../src/stats/slo.js'

function request(fields: Partial<RequestRecord>): RequestRecord {
  return {
    index: 0,
    startMs: 0,
    ttftMs: 200,
    e2eMs: 1200,
    inputTokens: 8,
    outputTokens: 11,
    countedTokens: 11,
    chunkOffsetsMs: [],
    chunkTokens: null,
    error: null,
    ...fields,
  }
}

describe('formatSlo', () => {
  it('formatSlo is readable', () => {
    expect(formatSlo({ttftMs: 2000, tpotMs: 50})).toBe('ttft<=2000ms tpot<=50ms')
  })
})

describe('meetsSlo', () => {
  // TPOT = (1200 - 200) / (11 - 1) = 100 ms
  it('uses per-request TTFT, TPOT and E2E', () => {
    expect(requestTpotMs(request({}))).toBe(100)
    expect(meetsSlo(request({}), {ttftMs: 200, tpotMs: 100, e2eMs: 1200})).toBe(true) // thresholds are inclusive
    expect(meetsSlo(request({}), {tpotMs: 99})).toBe(false)
    expect(meetsSlo(request({}), {ttftMs: 199})).toBe(false)
    expect(meetsSlo(request({}), {e2eMs: 1199})).toBe(false)
  })

  it('a failed request never meets an SLO; no first token fails a TTFT threshold', () => {
    expect(meetsSlo(request({error: {kind: 'dropped', message: 'socket closed'}}), {})).toBe(false)
    expect(meetsSlo(request({ttftMs: null, e2eMs: null}), {ttftMs: 1000})).toBe(false)
  })

  it('a 1-token request has no TPOT and passes a TPOT threshold (vLLM convention)', () => {
    expect(requestTpotMs(request({outputTokens: 1}))).toBeNull()
    expect(meetsSlo(request({outputTokens: 1}), {tpotMs: 1})).toBe(true)
  })
})
