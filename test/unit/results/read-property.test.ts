import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {parseResultFile} from '../../../src/results/read.js'
import {serializeResultFile} from '../../../src/results/write.js'
import {sampleLevel, sampleResult} from './sample-result.js'

/** Either a valid result or ONE clear INVALID_RESULT error naming the file — never a crash of another kind. */
function readsOrRefusesClearly(text: string): void {
  try {
    parseResultFile(text, 'input.json')
  } catch (error) {
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).kind).toBe('INVALID_RESULT')
    expect((error as CapplanError).message).toContain('input.json')
  }
}

describe('parseResultFile on hostile input', () => {
  const valid = serializeResultFile(sampleResult({levels: [sampleLevel(1, 3), sampleLevel(4, 2)]}))

  it('arbitrary text and arbitrary JSON values', () => {
    fc.assert(fc.property(fc.string(), readsOrRefusesClearly), {numRuns: 300})
    fc.assert(
      fc.property(fc.jsonValue(), (value) => readsOrRefusesClearly(JSON.stringify(value))),
      {numRuns: 300},
    )
  })

  it('every truncation of a valid file is refused (never accepted as a shorter result)', () => {
    fc.assert(
      fc.property(fc.integer({min: 0, max: valid.length - 3}), (cut) => {
        // The last bytes are "}\n": cutting before them always breaks the JSON.
        expect(() => parseResultFile(valid.slice(0, cut), 'input.json')).toThrow(CapplanError)
      }),
      {numRuns: 300},
    )
  })

  it('a valid file with one value replaced by an arbitrary JSON value: valid, or refused naming a field', () => {
    const data = JSON.parse(valid) as Record<string, unknown>
    const paths: string[][] = [
      ['schemaVersion'],
      ['host', 'cpu', 'physicalCores'],
      ['levels', '0', 'summary', 'ttftMs'],
      ['levels', '1', 'requests', '0', 'chunkOffsetsMs'],
      ['engine', 'kind'],
    ]
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue(), (path, value) => {
        const copy = structuredClone(data)
        let node: Record<string, unknown> = copy
        for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>
        node[path.at(-1)!] = value
        readsOrRefusesClearly(JSON.stringify(copy))
      }),
      {numRuns: 300},
    )
  })
})
