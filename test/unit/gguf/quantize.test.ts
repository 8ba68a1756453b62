import {describe, expect, it} from 'vitest'

import {decodeQ4_0, decodeQ8_0, encodeQ4_0, encodeQ8_0, encodedBytes, f16BitsToF32, f32ToF16Bits, formatForRowLength} from '../../../src/gguf/quantize.js'

const block = (entries: Record<number, number>): Float32Array => {
  const values = new Float32Array(32)
  for (const [index, value] of Object.entries(entries)) values[Number(index)] = value
  return values
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

describe('f32ToF16Bits', () => {
  it('encodes zeros, signs and exact values', () => {
    expect(f32ToF16Bits(0)).toBe(0x0000)
    expect(f32ToF16Bits(-0)).toBe(0x8000)
    expect(f32ToF16Bits(1)).toBe(0x3c00) // exponent 15 (bias), mantissa 0
    expect(f32ToF16Bits(-2)).toBe(0xc000) // sign + exponent 16
    expect(f32ToF16Bits(0.5)).toBe(0x3800)
    // 0.1 = 1.6 x 2^-4: exponent 11 -> 0x2C00; mantissa 0.6 x 1024 = 614.4 -> 614 = 0x266
    expect(f32ToF16Bits(0.1)).toBe(0x2e66)
  })

  it('handles the largest finite value and overflow', () => {
    expect(f32ToF16Bits(65504)).toBe(0x7bff) // (2 - 2^-10) x 2^15
    expect(f32ToF16Bits(65519)).toBe(0x7bff) // below the midpoint 65520 -> stays at max
    expect(f32ToF16Bits(65520)).toBe(0x7c00) // midpoint between 65504 (odd mantissa) and 2^16 -> even = inf
    expect(f32ToF16Bits(1e6)).toBe(0x7c00)
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00)
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00)
  })

  it('maps NaN to the quiet NaN 0x7E00 keeping the sign, as ggml does', () => {
    expect(f32ToF16Bits(Number.NaN)).toBe(0x7e00)
    const negativeNaN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0]!
    expect(f32ToF16Bits(negativeNaN)).toBe(0xfe00)
  })

  it('keeps subnormals and rounds them to nearest even', () => {
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400) // smallest normal
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001) // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000) // half of it: tie between 0 and 1 -> even 0
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002) // 1.5 ulp: tie between 1 and 2 -> even 2
    expect(f32ToF16Bits(-(2 ** -24))).toBe(0x8001)
    expect(f32ToF16Bits(1e-10)).toBe(0x0000) // far below half the smallest subnormal
  })

  it('rounds normal values to nearest, ties to even', () => {
    // f16 spacing at 1 is 2^-10
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00) // tie between 0x3C00 (even) and 0x3C01
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02) // tie between 0x3C01 and 0x3C02 (even)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01) // just above the tie
  })

  it('round-trips every finite half value exactly', () => {
    const mismatches: number[] = []
    for (let h = 0; h < 0x10000; h++) {
      const exponent = (h >>> 10) & 0x1f
      if (exponent === 0x1f && (h & 0x3ff) !== 0) continue // NaNs
      if (f32ToF16Bits(f16BitsToF32(h)) !== h) mismatches.push(h)
    }
    expect(mismatches).toEqual([])
  })
})

describe('encodeQ8_0 (quantize_row_q8_0_ref)', () => {
  it('uses d = max|x|/127 and roundf (halves away from zero)', () => {
    // max|x| = 127 -> d = 1, id = 1, q = roundf(x)
    const values = block({0: 127, 1: 2.5, 2: -2.5, 3: 0.5, 4: -0.5, 5: 1.49, 6: -127, 7: 126.5})
    const out = new Uint8Array(34)
    expect(encodeQ8_0(values, out)).toBe(34)
    expect(hex(out.subarray(0, 2))).toBe('003c') // f16(1) = 0x3C00, little-endian
    const q = new Int8Array(out.buffer, 2, 32)
    // 2.5 -> 3 and -2.5 -> -3 (Math.round would give -2); 0.5 -> 1, -0.5 -> -1; 126.5 -> 127
    expect([...q.subarray(0, 8)]).toEqual([127, 3, -3, 1, -1, 1, -127, 127])
    expect([...q.subarray(8)]).toEqual(Array.from({length: 24}, () => 0))
  })

  it('scales by the reciprocal of d', () => {
    // max|x| = 63.5 -> d = 0.5 (f16 0x3800), id = 2: 1.25 -> 2.5 -> 3, -0.75 -> -1.5 -> -2, 63.5 -> 127
    const out = new Uint8Array(34)
    encodeQ8_0(block({0: 1.25, 1: -0.75, 2: 63.5, 3: -63.5, 4: 0.25}), out)
    expect(hex(out.subarray(0, 2))).toBe('0038')
    expect([...new Int8Array(out.buffer, 2, 5)]).toEqual([3, -2, 127, -127, 1]) // 0.25 x 2 = 0.5 -> 1
  })

  it('writes d = 0 and q = 0 for an all-zero block', () => {
    const out = new Uint8Array(34).fill(0xff)
    encodeQ8_0(new Float32Array(32), out)
    expect(hex(out)).toBe('00'.repeat(34))
  })

  it('round-trips through decode within half a step', () => {
    const values = Float32Array.from({length: 64}, (_, i) => Math.sin(i) * 0.03)
    const out = new Uint8Array(68)
    encodeQ8_0(values, out)
    const decoded = decodeQ8_0(out, 64)
    const step = 0.03 / 127
    for (let i = 0; i < 64; i++) expect(Math.abs(decoded[i]! - values[i]!)).toBeLessThan(step * 0.51)
  })

  it('refuses a partial block', () => {
    expect(() => encodeQ8_0(new Float32Array(31), new Uint8Array(34))).toThrow(RangeError)
  })
})

describe('encodeQ4_0 (quantize_row_q4_0_ref)', () => {
  it('takes d = m / -8 from the signed value of largest magnitude', () => {
    // m = -8 -> d = 1, id = 1, q = min(15, trunc(x + 8.5))
    //   -8 -> 0.5 -> 0;  7 -> 15.5 -> 15;  0 -> 8;  -0.5 -> 8;  -0.6 -> 7.9 -> 7;  0.5 -> 9;  1.49 -> 9.99 -> 9
    //   7.9 -> 16.4 -> 16 -> clamped to 15
    const values = block({0: -8, 1: 7, 2: 0, 3: -0.5, 4: -0.6, 5: 0.5, 6: 1.49, 7: 7.9, 16: 7, 17: -8})
    const out = new Uint8Array(18)
    expect(encodeQ4_0(values, out)).toBe(18)
    expect(hex(out.subarray(0, 2))).toBe('003c') // d = 1
    // byte j = q[j] | q[j+16] << 4; q[16] = 15, q[17] = 0, q[18..31] = 8 (zeros)
    const expectedLow = [0, 15, 8, 8, 7, 9, 9, 15, 8, 8, 8, 8, 8, 8, 8, 8]
    const expectedHigh = [15, 0, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]
    expect([...out.subarray(2)]).toEqual(expectedLow.map((low, j) => low | (expectedHigh[j]! << 4)))
  })

  it('keeps the sign of the first value of largest magnitude (+8 before -8 gives d = -1)', () => {
    const out = new Uint8Array(18)
    // m = +8 -> d = -1 (f16 0xBC00), id = -1: 8 -> -8 + 8.5 -> 0; -8 -> 8 + 8.5 = 16.5 -> 16 -> 15; 0 -> 8
    encodeQ4_0(block({0: 8, 1: -8}), out)
    expect(hex(out.subarray(0, 2))).toBe('00bc')
    expect(out[2]).toBe(0 | (8 << 4))
    expect(out[3]).toBe(15 | (8 << 4))
    // the same magnitudes in the other order: m = -8 -> d = +1
    encodeQ4_0(block({0: -8, 1: 8}), out)
    expect(hex(out.subarray(0, 2))).toBe('003c')
    expect(out[2]).toBe(0 | (8 << 4))
    expect(out[3]).toBe(15 | (8 << 4))
  })

  it('writes d = -0 (0x8000) and q = 8 for an all-zero block, as C computes 0.0f / -8', () => {
    const out = new Uint8Array(18)
    encodeQ4_0(new Float32Array(32), out)
    expect(hex(out)).toBe(`0080${'88'.repeat(16)}`)
  })

  it('round-trips through decode within one step', () => {
    const values = Float32Array.from({length: 64}, (_, i) => Math.cos(i) * 0.02)
    const out = new Uint8Array(36)
    encodeQ4_0(values, out)
    const decoded = decodeQ4_0(out, 64)
    for (let i = 0; i < 64; i++) expect(Math.abs(decoded[i]! - values[i]!)).toBeLessThanOrEqual(0.02 / 8 + 1e-6)
  })
})

describe('formats and sizes', () => {
  it('falls back to F16 for rows that are not whole 32-value blocks', () => {
    expect(formatForRowLength('Q4_0', 688)).toBe('F16') // 688 = 21.5 blocks
    expect(formatForRowLength('Q8_0', 100)).toBe('F16')
    expect(formatForRowLength('Q4_0', 4864)).toBe('Q4_0') // 152 blocks
    expect(formatForRowLength('F32', 7)).toBe('F32')
  })

  it('sizes blocks: Q4_0 18 bytes and Q8_0 34 bytes per 32 values', () => {
    // 896 x 896 = 802816 values = 25088 blocks
    expect(encodedBytes('Q4_0', 896 * 896)).toBe(25088 * 18)
    expect(encodedBytes('Q8_0', 896 * 896)).toBe(25088 * 34)
    expect(encodedBytes('F16', 10)).toBe(20)
    expect(encodedBytes('F32', 10)).toBe(40)
  })
})
