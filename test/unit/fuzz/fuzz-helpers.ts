import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import fc from 'fast-check'
import {expect} from 'vitest'

import {CapplanError, type ErrorKind} from '../../../src/lib/errors.js'

/**
 * Shared by the fuzz suite (issue 7 §3): bounded fast-check settings, the recorded fixtures, and the byte
 * mutations applied to them. 2 cores are shared by everyone: numRuns stays modest and every property has a
 * wall-clock budget (interruptAfterTimeLimit: the run stops, passing, with what it has tried by then; async
 * properties also get a per-run `timeout` that fails a run that hangs).
 */
export function fuzzOptions(numRuns: number, budgetMs = 3000): {numRuns: number; interruptAfterTimeLimit: number; timeout: number} {
  // CAPPLAN_FUZZ_SCALE=20 npx vitest run test/unit/fuzz: a deeper search (20x the runs, 20x the budget).
  const scale = Math.max(1, Number(process.env['CAPPLAN_FUZZ_SCALE'] ?? 1) || 1)
  return {numRuns: numRuns * scale, interruptAfterTimeLimit: budgetMs * scale, timeout: 2000}
}

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

/** Every file of a fixture folder (relative to the repo root) whose name matches, as [relative path, bytes]. */
export function fixtureFiles(folder: string, pattern: RegExp): [string, Buffer][] {
  const dir = path.join(repoRoot, folder)
  return readdirSync(dir, {recursive: true, encoding: 'utf8'})
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => [path.join(folder, name), readFileSync(path.join(dir, name))])
}

/** One change to a byte string: cut it, flip/replace/insert/delete one byte. */
export type ByteMutation =
  {kind: 'truncate'; at: number} | {kind: 'replace'; at: number; byte: number} | {kind: 'insert'; at: number; byte: number} | {kind: 'delete'; at: number}

/** Bytes that matter to the formats under test: structure characters, digits, a sign, multi-byte UTF-8 starts. */
const interestingBytes = [0x00, 0x0a, 0x0d, 0x20, 0x22, 0x23, 0x2c, 0x2d, 0x2e, 0x30, 0x39, 0x3a, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d, 0x80, 0xc3, 0xe2, 0xff]

export function byteMutation(length: number): fc.Arbitrary<ByteMutation> {
  const at = fc.nat({max: Math.max(0, length - 1)})
  const byte = fc.oneof(fc.constantFrom(...interestingBytes), fc.integer({min: 0, max: 255}))
  return fc.oneof(
    at.map((index) => ({kind: 'truncate' as const, at: index})),
    fc.record({kind: fc.constant('replace' as const), at, byte}),
    fc.record({kind: fc.constant('insert' as const), at, byte}),
    at.map((index) => ({kind: 'delete' as const, at: index})),
  )
}

export function applyMutation(bytes: Uint8Array, mutation: ByteMutation): Buffer {
  const source = Buffer.from(bytes)
  switch (mutation.kind) {
    case 'truncate':
      return source.subarray(0, mutation.at)
    case 'replace': {
      const copy = Buffer.from(source)
      copy[mutation.at] = mutation.byte
      return copy
    }
    case 'insert':
      return Buffer.concat([source.subarray(0, mutation.at), Buffer.from([mutation.byte]), source.subarray(mutation.at)])
    case 'delete':
      return Buffer.concat([source.subarray(0, mutation.at), source.subarray(mutation.at + 1)])
  }
}

/** A byte string cut into network reads at the given offsets (empty pieces skipped). */
export async function* pieces(bytes: Uint8Array, cuts: readonly number[]): AsyncGenerator<Uint8Array> {
  let from = 0
  for (const to of [...[...cuts].sort((a, b) => a - b), bytes.length]) {
    if (to > from) yield bytes.subarray(from, to)
    from = Math.max(from, to)
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/** `run` either returns or throws ONE CapplanError of `kind` whose message names `source`; anything else fails. */
export function returnsOrRefuses<T>(run: () => T, kind: ErrorKind, source: string): T | CapplanError {
  try {
    return run()
  } catch (error) {
    expectCapplanError(error, kind, source)
    return error as CapplanError
  }
}

export async function returnsOrRefusesAsync<T>(run: () => Promise<T>, kind: ErrorKind, source: string): Promise<T | CapplanError> {
  try {
    return await run()
  } catch (error) {
    expectCapplanError(error, kind, source)
    return error as CapplanError
  }
}

export function expectCapplanError(error: unknown, kind: ErrorKind, source: string): void {
  if (!(error instanceof CapplanError)) throw new Error(`expected a CapplanError (${kind}), got: ${error instanceof Error ? error.stack : String(error)}`)
  expect(error.kind).toBe(kind)
  expect(error.message).toContain(source)
  expect(error.suggestion.length).toBeGreaterThan(0)
}

/** Every number inside a JSON-like value, with its path (to find a NaN or an Infinity). */
export function nonFiniteNumbers(value: unknown, at = '$'): string[] {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [`${at} = ${value}`]
  if (typeof value !== 'object' || value === null) return []
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((item, index) => [`[${index}]`, item]) : Object.entries(value).map(([key, item]) => [`.${key}`, item])
  return entries.flatMap(([key, item]) => nonFiniteNumbers(item, `${at}${key}`))
}
