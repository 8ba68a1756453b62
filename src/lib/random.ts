/**
 * mulberry32: a small, fast, well-mixed 32-bit generator, deterministic for a seed (not for cryptography).
 * One implementation for everything capplan draws: synthetic weights, prompt token ids, Poisson arrivals.
 * Returns uint32 values.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** The same stream as mulberry32, as uniform floats in [0, 1). */
export function uniformRandom(seed: number): () => number {
  const next = mulberry32(seed)
  return () => next() / 4_294_967_296
}
