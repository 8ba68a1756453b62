/**
 * Text -> number for the quantities capplan's flags take: token counts ("100M"), positive decimals (prices,
 * tokens/s, hours), input:output ratios. Exact (decimal strings are scaled with integer arithmetic, so "1.1M"
 * is 1,100,000 and not 1,100,000.0000000002); every error is INVALID_INPUT naming the flag and showing a
 * valid value.
 */

import {invalidInput} from '../../lib/errors.js'
import type {IoRatio} from '../../lib/units.js'

/** Decimal exponent of each count suffix. B (billion) and G (giga) are the same; k/K both mean thousand. */
const suffixExponent: Record<string, number> = {k: 3, K: 3, m: 6, M: 6, b: 9, B: 9, g: 9, G: 9, t: 12, T: 12}

const countPattern = /^(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*([kKmMbBgGtT])?$/

const tokenCountExamples = '"100M", "1.5B", "250k", "2e9" or 100000000'

/**
 * A token count: "100M" -> 100_000_000, "1.5B", "250k", "2e9", "100000000", "100_000_000", "1,000,000".
 * Must be a whole, positive number of tokens.
 */
export function parseTokenCount(text: string, flagName: string): number {
  const trimmed = text.trim()
  // Digit-group separators are allowed only between digits ("1,000,000", "100_000_000").
  const compact = trimmed.replace(/(?<=\d)[_,](?=\d)/g, '')
  const match = countPattern.exec(compact)
  if (match === null && /^-\s*[\d.]/.test(compact)) {
    throw invalidInput(`--${flagName} must be more than 0 tokens (got "${text}").`, `Give a positive volume, e.g. --${flagName} 100M.`)
  }
  if (match === null) {
    throw invalidInput(`--${flagName} "${text}" is not a token count.`, `Give a number with an optional k/M/B/T suffix, e.g. --${flagName} 100M (also ${tokenCountExamples}).`)
  }
  const [, mantissa = '', exponentText, suffix] = match
  const [whole = '', fraction = ''] = mantissa.split('.')
  const digits = `${whole}${fraction}`.replace(/^0+(?=\d)/, '')
  const exponent = Number(exponentText ?? 0) + (suffix === undefined ? 0 : (suffixExponent[suffix] ?? 0)) - fraction.length
  const value = exactScaledInteger(digits, exponent)
  if (value === undefined) {
    throw invalidInput(`--${flagName} "${text}" is not a whole number of tokens.`, `Token counts are whole numbers, e.g. --${flagName} 100M or --${flagName} 1.5k (= 1500).`)
  }
  if (value <= 0) {
    throw invalidInput(`--${flagName} must be more than 0 tokens (got "${text}").`, `Give a positive volume, e.g. --${flagName} 100M.`)
  }
  if (!Number.isSafeInteger(value)) {
    throw invalidInput(`--${flagName} "${text}" is too large (more than ${Number.MAX_SAFE_INTEGER} tokens).`, `Give a realistic volume, e.g. --${flagName} 100B.`)
  }
  return value
}

/** digits x 10^exponent when that is a whole number, else undefined. BigInt keeps it exact. */
function exactScaledInteger(digits: string, exponent: number): number | undefined {
  if (Math.abs(exponent) > 400) return exponent > 0 && /^0+$/.test(digits) ? 0 : exponent > 0 ? Infinity : undefined
  const n = BigInt(digits)
  if (exponent >= 0) return Number(n * 10n ** BigInt(exponent))
  const divisor = 10n ** BigInt(-exponent)
  if (n % divisor !== 0n) return undefined
  return Number(n / divisor)
}

/**
 * "3:1", "1:1", "2.5:1", "1024:512". Both parts are non-negative numbers and not both zero ("0:1" = output only,
 * "1:0" = input only).
 */
export function parseIoRatio(text: string, flagName: string): IoRatio {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*:\s*(\d+(?:\.\d+)?|\.\d+)\s*$/.exec(text)
  if (match === null) {
    throw invalidInput(
      `--${flagName} "${text}" is not an input:output ratio.`,
      `Write it as INPUT:OUTPUT, e.g. --${flagName} 3:1 (three input tokens per output token) or --${flagName} 1:1.`,
    )
  }
  const input = Number(match[1])
  const output = Number(match[2])
  if (input === 0 && output === 0) {
    throw invalidInput(`--${flagName} "${text}" has no tokens on either side.`, `Give at least one non-zero side, e.g. --${flagName} 3:1.`)
  }
  return {input, output}
}

/**
 * A positive number given as text (flags that take decimals: prices, tokens/s, hours).
 * `example` is a valid value to show in the error.
 */
export function parsePositiveNumber(text: string, flagName: string, example: string): number {
  const trimmed = text.trim()
  const value = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(trimmed) ? Number(trimmed) : Number.NaN
  if (!Number.isFinite(value)) {
    throw invalidInput(`--${flagName} "${text}" is not a number.`, `Give a positive number, e.g. --${flagName} ${example}.`)
  }
  if (value <= 0) {
    throw invalidInput(`--${flagName} must be more than 0 (got "${text}").`, `Give a positive number, e.g. --${flagName} ${example}.`)
  }
  return value
}

/** A fraction in (0, 1] given as text. */
export function parseFraction(text: string, flagName: string, example: string): number {
  const value = parsePositiveNumber(text, flagName, example)
  if (value > 1) throw invalidInput(`--${flagName} must be at most 1 (got "${text}").`, `Give a fraction, e.g. --${flagName} ${example}.`)
  return value
}

/** A number >= 0 given as text ("0" or a positive number). */
export function parseNonNegative(text: string, flagName: string): number {
  if (text.trim() === '0') return 0
  return parsePositiveNumber(text, flagName, '1')
}

/**
 * A whole number within [min, max] given as text (counts: requests, GPUs, threads, seeds). Every integer flag
 * goes through this, so zero, a negative or a fraction is INVALID_INPUT (exit 3) in every command.
 */
export function parseWholeNumber(text: string, flagName: string, range: {min?: number | undefined; max?: number | undefined} = {}): number {
  const trimmed = text.trim()
  const value = /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN
  const {min, max} = range
  const example = min === undefined ? 1 : Math.max(min, 1)
  const within = min !== undefined && max !== undefined ? `from ${min} to ${max}` : min !== undefined ? `of at least ${min}` : max !== undefined ? `of at most ${max}` : ''
  if (!Number.isSafeInteger(value)) {
    throw invalidInput(`--${flagName} "${text}" is not a whole number.`, `Give a whole number${within === '' ? '' : ` ${within}`}, e.g. --${flagName} ${example}.`)
  }
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    throw invalidInput(`--${flagName} must be a whole number ${within} (got "${text}").`, `e.g. --${flagName} ${example}.`)
  }
  return value
}
