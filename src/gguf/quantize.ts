/**
 * Float32 -> F16 / Q8_0 / Q4_0 encoders, bit-exact with llama.cpp's reference code (ggml-impl.h
 * ggml_compute_fp32_to_fp16, ggml-quants.c quantize_row_q8_0_ref / quantize_row_q4_0_ref), which is what
 * llama-quantize runs when no importance matrix is given. Every intermediate is rounded to float32 with
 * Math.fround because JavaScript computes in float64 and a single double-precision step changes bits.
 */

/** Values per Q8_0 / Q4_0 block. */
export const QK = 32
export const Q8_0_BLOCK_BYTES = 34 // f16 scale + 32 x int8
export const Q4_0_BLOCK_BYTES = 18 // f16 scale + 16 bytes of nibbles

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

const fround = Math.fround

function bitsOf(value: number): number {
  f32[0] = value
  return u32[0]!
}

function floatFromBits(bits: number): number {
  u32[0] = bits >>> 0
  return f32[0]!
}

const SCALE_TO_INF = 2 ** 112
const SCALE_TO_ZERO = 2 ** -110

/**
 * float32 -> IEEE half bits, round to nearest even; overflow -> inf, NaN -> 0x7E00 (sign kept), subnormals
 * kept. A port of ggml's branch-free conversion (the FP16 library's trick: adding a power of two makes the
 * float32 adder do the rounding).
 */
export function f32ToF16Bits(value: number): number {
  let base = fround(fround(Math.abs(fround(value)) * SCALE_TO_INF) * SCALE_TO_ZERO)
  const w = bitsOf(value)
  const shl1W = (w * 2) >>> 0
  const sign = (w & 0x80000000) >>> 0
  let bias = (shl1W & 0xff000000) >>> 0
  if (bias < 0x71000000) bias = 0x71000000
  base = fround(floatFromBits((bias >>> 1) + 0x07800000) + base)
  const bits = bitsOf(base)
  const expBits = (bits >>> 13) & 0x00007c00
  const mantissaBits = bits & 0x00000fff
  const nonsign = expBits + mantissaBits
  return ((sign >>> 16) | (shl1W > 0xff000000 ? 0x7e00 : nonsign)) & 0xffff
}

/** IEEE half bits -> number (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exponent = (h >>> 10) & 0x1f
  const mantissa = h & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : Number.NaN
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

/** C's roundf: halves away from zero (Math.round rounds -2.5 to -2). */
function roundHalfAwayFromZero(value: number): number {
  return value < 0 ? -Math.floor(-value + 0.5) : Math.floor(value + 0.5)
}

/** Encoded size of `count` values (a multiple of 32 for the block formats). */
export function encodedBytes(format: 'F32' | 'F16' | 'Q8_0' | 'Q4_0', count: number): number {
  switch (format) {
    case 'F32':
      return count * 4
    case 'F16':
      return count * 2
    case 'Q8_0':
      return (count / QK) * Q8_0_BLOCK_BYTES
    case 'Q4_0':
      return (count / QK) * Q4_0_BLOCK_BYTES
  }
}

function assertWholeBlocks(values: Float32Array, format: string): void {
  if (values.length % QK !== 0) {
    throw new RangeError(`${format} encodes whole blocks of ${QK} values; got ${values.length}`)
  }
}

/** Writes values as little-endian F16 into out at byteOffset; returns the bytes written. */
export function encodeF16(values: Float32Array, out: Uint8Array, byteOffset = 0): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  for (let i = 0; i < values.length; i++) view.setUint16(byteOffset + i * 2, f32ToF16Bits(values[i]!), true)
  return values.length * 2
}

/** Writes values as little-endian F32 into out at byteOffset; returns the bytes written. */
export function encodeF32(values: Float32Array, out: Uint8Array, byteOffset = 0): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  for (let i = 0; i < values.length; i++) view.setFloat32(byteOffset + i * 4, values[i]!, true)
  return values.length * 4
}

/** quantize_row_q8_0_ref: d = max|x| / 127, q = roundf(x * (1/d)). */
export function encodeQ8_0(values: Float32Array, out: Uint8Array, byteOffset = 0): number {
  assertWholeBlocks(values, 'Q8_0')
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  const blocks = values.length / QK
  for (let b = 0; b < blocks; b++) {
    const start = b * QK
    let amax = 0
    for (let j = 0; j < QK; j++) {
      const v = Math.abs(values[start + j]!)
      if (v > amax) amax = v
    }
    const d = fround(amax / 127)
    // multiply by the float32 reciprocal, as llama.cpp does; dividing by d changes some roundings
    const id = d !== 0 ? fround(1 / d) : 0
    const at = byteOffset + b * Q8_0_BLOCK_BYTES
    view.setUint16(at, f32ToF16Bits(d), true)
    for (let j = 0; j < QK; j++) {
      view.setInt8(at + 2 + j, roundHalfAwayFromZero(fround(values[start + j]! * id)))
    }
  }
  return blocks * Q8_0_BLOCK_BYTES
}

/**
 * quantize_row_q4_0_ref: m = the value of largest magnitude WITH its sign (first one on ties), d = m / -8,
 * q = min(15, trunc(x * (1/d) + 8.5)); byte j holds q[j] in the low nibble and q[j + 16] in the high one.
 */
export function encodeQ4_0(values: Float32Array, out: Uint8Array, byteOffset = 0): number {
  assertWholeBlocks(values, 'Q4_0')
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  const blocks = values.length / QK
  const half = QK / 2
  for (let b = 0; b < blocks; b++) {
    const start = b * QK
    let amax = 0
    let max = 0
    for (let j = 0; j < QK; j++) {
      const v = values[start + j]!
      if (amax < Math.abs(v)) {
        amax = Math.abs(v)
        max = v
      }
    }
    const d = fround(max / -8)
    const id = d !== 0 ? fround(1 / d) : 0
    const at = byteOffset + b * Q4_0_BLOCK_BYTES
    view.setUint16(at, f32ToF16Bits(d), true)
    for (let j = 0; j < half; j++) {
      const x0 = fround(values[start + j]! * id)
      const x1 = fround(values[start + half + j]! * id)
      // (int8_t) cast truncates toward zero; the sums are in [0.5, 16.5] so the int8 range is never left
      const q0 = Math.min(15, Math.trunc(fround(x0 + 8.5)))
      const q1 = Math.min(15, Math.trunc(fround(x1 + 8.5)))
      out[at + 2 + j] = q0 | (q1 << 4)
    }
  }
  return blocks * Q4_0_BLOCK_BYTES
}

/** Dequantizes Q8_0 bytes (for tests and sanity checks): x = d * q. */
export function decodeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Float32Array(count)
  for (let b = 0; b < count / QK; b++) {
    const at = b * Q8_0_BLOCK_BYTES
    const d = f16BitsToF32(view.getUint16(at, true))
    for (let j = 0; j < QK; j++) out[b * QK + j] = d * view.getInt8(at + 2 + j)
  }
  return out
}

/** Dequantizes Q4_0 bytes: x = d * (q - 8). */
export function decodeQ4_0(bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Float32Array(count)
  for (let b = 0; b < count / QK; b++) {
    const at = b * Q4_0_BLOCK_BYTES
    const d = f16BitsToF32(view.getUint16(at, true))
    for (let j = 0; j < QK / 2; j++) {
      const byte = bytes[at + 2 + j]!
      out[b * QK + j] = d * ((byte & 0x0f) - 8)
      out[b * QK + QK / 2 + j] = d * ((byte >>> 4) - 8)
    }
  }
  return out
}

export type TensorFormat = 'F32' | 'F16' | 'Q8_0' | 'Q4_0'

/** Encodes values in the given format into out at byteOffset; returns the bytes written. */
export function encodeValues(format: TensorFormat, values: Float32Array, out: Uint8Array, byteOffset = 0): number {
  switch (format) {
    case 'F32':
      return encodeF32(values, out, byteOffset)
    case 'F16':
      return encodeF16(values, out, byteOffset)
    case 'Q8_0':
      return encodeQ8_0(values, out, byteOffset)
    case 'Q4_0':
      return encodeQ4_0(values, out, byteOffset)
  }
}

/**
 * The format a weight matrix actually gets: block formats need rows of whole 32-value blocks, so a row
 * length like 688 falls back to F16, as llama-quantize does.
 */
export function formatForRowLength(wanted: TensorFormat, rowLength: number): TensorFormat {
  if ((wanted === 'Q8_0' || wanted === 'Q4_0') && rowLength % QK !== 0) return 'F16'
  return wanted
}
