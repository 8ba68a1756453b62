import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {loadTrace, parseTrace} from '../../../src/loadgen/trace.js'

const fixture = path.resolve(import.meta.dirname, '../../fixtures/traces/synthetic-mooncake.jsonl')

describe('Mooncake traces', () => {
  it('reads the shipped synthetic trace: 16 requests, timestamps non-decreasing, its sha256', async () => {
    const trace = await loadTrace(fixture)
    expect(trace.requests).toHaveLength(16)
    expect(trace.requests[0]).toEqual({timestampMs: 395, inputLength: 172, outputLength: 11, hashIds: [0, 1, 100]})
    expect(trace.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(readFileSync(fixture, 'utf8').trim().split('\n')).toHaveLength(16)
  })

  it('names the file, line and field of a bad line, and a timestamp that goes back', () => {
    expect(() => parseTrace('{"timestamp": 1, "input_length": 0, "output_length": 2}', 't.jsonl')).toThrow('t.jsonl:1: "input_length" must be a whole number >= 1, got 0.')
    expect(() => parseTrace('\n{"timestamp": 1, "input_length": 3, "output_length": 2, "hash_ids": [1, -2]}', 't.jsonl')).toThrow('t.jsonl:2: "hash_ids"')
    expect(() => parseTrace('{"timestamp": 9, "input_length": 3, "output_length": 2}\n{"timestamp": 4, "input_length": 3, "output_length": 2}', 't.jsonl')).toThrow(
      't.jsonl:2: timestamp 4 is before the previous line',
    )
    expect(() => parseTrace('not json', 't.jsonl')).toThrow('t.jsonl:1 is not valid JSON.')
    expect(() => parseTrace('\n\n', 't.jsonl')).toThrow('t.jsonl holds no requests.')
  })

  it('a missing file is NOT_FOUND naming it', async () => {
    await expect(loadTrace('/nonexistent/trace.jsonl')).rejects.toMatchObject({kind: 'NOT_FOUND'})
  })
})
