/** Formatting of the quantities capplan prints (and the input:output ratio type the cost model takes). */

/** Input:output token ratio, e.g. 3:1 = three input tokens for every output token. */
export interface IoRatio {
  input: number
  output: number
}

export function formatIoRatio(ratio: IoRatio): string {
  return `${ratio.input}:${ratio.output}`
}

const tokenUnits: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'B'],
  [1e6, 'M'],
  [1e3, 'k'],
]

/** 64_800_000 -> "64.8M", 57_024_000 -> "57.02M", 1_500_000_000 -> "1.5B", 950 -> "950" (at most 2 decimals). */
export function formatTokens(n: number): string {
  const sign = n < 0 ? '-' : ''
  const abs = Math.abs(n)
  for (const [size, unit] of tokenUnits) {
    // Round first so 999,999,999 prints "1B" rather than "1000M".
    if (Number((abs / size).toFixed(2)) >= 1) return `${sign}${trimDecimals(abs / size, 2)}${unit}`
  }
  return `${sign}${trimDecimals(abs, 2)}`
}

function trimDecimals(value: number, decimals: number): string {
  return value.toFixed(decimals).replace(/\.?0+$/, '')
}

const usd2 = new Intl.NumberFormat('en-US', {minimumFractionDigits: 2, maximumFractionDigits: 2})

/**
 * Dollars with cents and thousands separators: 1800 -> "$1,800.00", 27.777 -> "$27.78", -5 -> "-$5.00".
 * Amounts below one cent keep 3 significant digits ("$0.00347") so tiny per-token prices do not print as $0.00.
 */
export function formatUsd(n: number): string {
  const sign = n < 0 ? '-' : ''
  const abs = Math.abs(n)
  if (abs > 0 && abs < 0.005) return `${sign}$${Number(abs.toPrecision(3))}`
  return `${sign}$${usd2.format(abs)}`
}
