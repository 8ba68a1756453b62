import {mulberry32} from '../lib/random.js'

export {mulberry32}
/**
 * Deterministic pseudo-random numbers for synthetic weights. Each tensor gets its own stream seeded from
 * (seed, tensor name), so a tensor's values do not depend on the order tensors are written in.
 */

/** FNV-1a 32-bit hash of a string (UTF-16 code units), mixed with a seed. */
export function hashString(text: string, seed = 0): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/** A buffer several value sources refill in turn (one per writer, not one per tensor). */
export interface ScratchBuffer {
  values: Float32Array
}

export const newScratch = (): ScratchBuffer => ({values: new Float32Array(0)})

function take(scratch: ScratchBuffer, count: number): Float32Array {
  if (scratch.values.length < count) scratch.values = new Float32Array(count)
  return scratch.values.subarray(0, count)
}

/**
 * A source of uniform float32 values in [-amplitude, amplitude) that refills a shared scratch buffer: the
 * returned array is only valid until the next call on any source sharing it (the GGUF writer encodes it
 * immediately). Sharing matters: hundreds of tensors each keeping a 4 MB buffer would hold gigabytes.
 */
export function uniformValues(seed: number, amplitude: number, scratch: ScratchBuffer = newScratch()): (count: number) => Float32Array {
  const next = mulberry32(seed)
  const scale = (2 * amplitude) / 2 ** 32
  return (count: number) => {
    const out = take(scratch, count)
    for (let i = 0; i < count; i++) out[i] = next() * scale - amplitude
    return out
  }
}

/** A source that always returns the same value (norm weights are 1.0). */
export function constantValues(value: number, scratch: ScratchBuffer = newScratch()): (count: number) => Float32Array {
  return (count: number) => take(scratch, count).fill(value)
}
