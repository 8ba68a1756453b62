import {describe, expect, it} from 'vitest'

import {parseBindHost, parseConcurrencyList, parseQuantList} from '../../../../src/cli/parsers/bench.js'
import {CapplanError} from '../../../../src/lib/errors.js'

describe('bench flag parsing', () => {
  it('reads --quant lists, deduplicated, order kept', () => {
    expect(parseQuantList('int4')).toEqual(['int4'])
    expect(parseQuantList('fp16, INT4,fp16')).toEqual(['fp16', 'int4'])
    expect(() => parseQuantList('int3')).toThrow('--quant "int3" is not a quantization level.')
    expect(() => parseQuantList(',')).toThrow('--quant is empty.')
  })

  it('reads --concurrency lists, ascending and deduplicated', () => {
    expect(parseConcurrencyList('4,1,2,2')).toEqual([1, 2, 4])
    expect(() => parseConcurrencyList('1,0')).toThrow('--concurrency "0" is not a whole number from 1 to 256.')
    expect(() => parseConcurrencyList('1.5')).toThrow(/"1.5"/)
  })

  it('--host takes an address or name, not a URL or words with spaces', () => {
    expect(parseBindHost('0.0.0.0')).toBe('0.0.0.0')
    expect(parseBindHost(' 10.1.2.3 ')).toBe('10.1.2.3')
    expect(parseBindHost('::')).toBe('::')
    for (const bad of ['', 'http://0.0.0.0', 'a b', '10.0.0.1/24']) {
      const error = (() => {
        try {
          parseBindHost(bad)
        } catch (caught) {
          return caught
        }
        throw new Error(`expected a refusal of "${bad}"`)
      })()
      expect(error).toBeInstanceOf(CapplanError)
      expect((error as CapplanError).kind).toBe('INVALID_INPUT')
      expect((error as CapplanError).message).toMatch(/is not an address/)
    }
  })
})
