import {describe, expect, it} from 'vitest'

import {formatSchemaIssues} from '../../../src/results/read.js'
import {resultFileSchema} from '../../../src/results/schema.js'
import {sampleRequest, sampleResult} from './sample-result.js'

function issuesOf(value: unknown): string {
  const parsed = resultFileSchema.safeParse(value)
  if (parsed.success) throw new Error('expected the schema to reject the value')
  return formatSchemaIssues(parsed.error.issues)
}

describe('resultFileSchema', () => {
  it('accepts a complete valid result and keeps every request sample', () => {
    const parsed = resultFileSchema.parse(sampleResult())
    expect(parsed.levels[0]!.requests).toHaveLength(2)
    expect(parsed.levels[0]!.requests[1]!.chunkOffsetsMs).toEqual([100, 200, 300, 400])
  })

  it('names the path of a wrong field type', () => {
    const result = JSON.parse(JSON.stringify(sampleResult()))
    result.levels[0].summary.ttftMs.p50 = 'fast'
    expect(issuesOf(result)).toBe('levels[0].summary.ttftMs.p50: expected number, received string')
  })

  it('records the command as an argv array (version 2 and later), not one shell line (version 1)', () => {
    expect(issuesOf({...sampleResult(), capplan: {version: '0.1.0', command: 'capplan bench --quant int4'}})).toBe(
      'capplan.command: expected array, received string',
    )
  })

  it('refuses unknown fields (a typo is an error, not silently dropped)', () => {
    const result = JSON.parse(JSON.stringify(sampleResult()))
    result.engine.thread = 4
    expect(issuesOf(result)).toBe('engine: unknown field(s) "thread"')
  })

  it('refuses another schemaVersion and a bad enum value', () => {
    expect(issuesOf({...sampleResult(), schemaVersion: 1})).toMatch(/^schemaVersion: /)
    expect(issuesOf({...sampleResult(), schemaVersion: 2})).toMatch(/^schemaVersion: /)
    const result = JSON.parse(JSON.stringify(sampleResult()))
    result.model.quant = 'int3'
    expect(issuesOf(result)).toMatch(/^model\.quant: /)
  })

  it('checks a request: chunkTokens length must match chunkOffsetsMs, offsets non-decreasing', () => {
    const level = sampleResult().levels[0]!
    const bad = {
      ...sampleResult(),
      levels: [
        {
          ...level,
          requests: [
            sampleRequest(0, {chunkTokens: [1, 1]}),
            sampleRequest(1, {chunkOffsetsMs: [100, 90, 300, 400]}),
          ],
        },
      ],
    }
    const text = issuesOf(bad)
    expect(text).toContain('levels[0].requests[0].chunkTokens: has 2 entries but chunkOffsetsMs has 4')
    expect(text).toContain('levels[0].requests[1].chunkOffsetsMs[1]: offsets must be non-decreasing')
  })

  it('names the first bad sample of a per-chunk array (checked in one loop for speed)', () => {
    const result = JSON.parse(JSON.stringify(sampleResult()))
    result.levels[0].requests[1].chunkOffsetsMs[2] = 'late'
    expect(issuesOf(result)).toBe('levels[0].requests[1].chunkOffsetsMs[2]: expected non-negative finite numbers, received "late"')
    result.levels[0].requests[1].chunkOffsetsMs = null
    expect(issuesOf(result)).toBe(
      'levels[0].requests[1].chunkOffsetsMs: expected an array of non-negative finite numbers, received null',
    )
    const tokens = JSON.parse(JSON.stringify(sampleResult()))
    tokens.levels[0].requests[0].chunkTokens = [1, 1, 2.5, 1]
    expect(issuesOf(tokens)).toBe('levels[0].requests[0].chunkTokens[2]: expected non-negative integers, received 2.5')
  })

  it('refuses a window that ends before it starts', () => {
    const level = sampleResult().levels[0]!
    expect(issuesOf({...sampleResult(), levels: [{...level, window: {startMs: 10, endMs: 5}}]})).toBe(
      'levels[0].window.endMs: window ends before it starts',
    )
  })
})
