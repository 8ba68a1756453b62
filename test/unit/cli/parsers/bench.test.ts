import {describe, expect, it} from 'vitest'

import {parseConcurrencyList, parseQuantList} from '../../../../src/cli/parsers/bench.js'

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
})
