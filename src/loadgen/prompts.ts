import {invalidInput} from '../lib/errors.js'
import {uniformRandom} from '../lib/random.js'

/**
 * Synthetic prompts: token-id arrays of an exact length, deterministic for (seed, request index), and unique
 * per request from the FIRST token on — so no engine can reuse a cached prefix between two requests
 * (prefix caching inflated throughput by up to 86% for peers; metrics.md trap 1).
 */

/** Mix the run seed and the request index into one 32-bit stream seed (so request 1 is not request 0 shifted). */
function streamSeed(seed: number, requestIndex: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(requestIndex + 1, 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  return h >>> 0
}

/**
 * How many distinct prompts makePromptTokens can produce for a pool and a length: the first two tokens
 * spell the request index in base pool.length, so that many requests never share a first token pair.
 */
export function uniquePromptCapacity(poolSize: number, length: number): number {
  return length >= 2 ? poolSize * poolSize : poolSize
}

/**
 * The prompt of request `requestIndex` (0-based over the whole run, warmup included): `length` ids from
 * `pool`. Token 0 = pool[index mod P], token 1 = pool[floor(index / P) mod P], the rest drawn at random —
 * distinct requests therefore differ in their first two tokens whenever index < P^2 (P >= 2).
 */
export function makePromptTokens(pool: readonly number[], length: number, seed: number, requestIndex: number): number[] {
  if (!Number.isInteger(length) || length < 1) {
    throw invalidInput(`The prompt length must be a whole number of tokens >= 1, got ${length}.`, 'Pass --input-tokens 1 or more.')
  }
  if (pool.length < 2) {
    throw invalidInput(`The model offers ${pool.length} ordinary token id(s) for synthetic prompts; at least 2 are needed.`, 'Use a model with a real vocabulary.')
  }
  if (requestIndex >= uniquePromptCapacity(pool.length, length)) {
    throw invalidInput(
      `Request ${requestIndex} would repeat an earlier prompt: ${pool.length} token ids at ${length} token(s) give only ${uniquePromptCapacity(pool.length, length)} unique prompts.`,
      'Use fewer requests or a longer --input-tokens.',
    )
  }
  const random = uniformRandom(streamSeed(seed, requestIndex))
  const tokens = new Array<number>(length)
  tokens[0] = pool[requestIndex % pool.length]!
  if (length >= 2) tokens[1] = pool[Math.floor(requestIndex / pool.length) % pool.length]!
  for (let i = 2; i < length; i++) tokens[i] = pool[Math.floor(random() * pool.length)]!
  return tokens
}

/**
 * Fallback pool when an engine cannot list its ordinary tokens: ids [from, to) of a vocabulary, which
 * skips the low ids where tokenizers keep control and byte tokens.
 */
export function tokenIdRange(from: number, to: number): number[] {
  const ids: number[] = []
  for (let id = from; id < to; id++) ids.push(id)
  return ids
}
