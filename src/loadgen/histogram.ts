import {readFile} from 'node:fs/promises'

import {invalidInput, notFound} from '../lib/errors.js'

/**
 * An empirical length histogram (--input-dist hist:FILE): one bin a line, "TOKENS,WEIGHT" (a comma, tab or
 * spaces between), e.g. "512,30" = 30 parts in the total weight have 512 tokens. Blank lines and lines
 * starting with # are skipped. Lengths are drawn with these weights (lengths.ts).
 */
export interface HistogramBin {
  tokens: number
  weight: number
}

export function parseHistogram(text: string, file: string): HistogramBin[] {
  const bins: HistogramBin[] = []
  const shape = 'Each line must be "TOKENS,WEIGHT": a whole number of tokens >= 1 and a weight > 0, e.g. 512,30.'
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const parts = line.split(/[\s,]+/)
    const tokens = Number(parts[0])
    const weight = Number(parts[1])
    if (parts.length !== 2 || !Number.isSafeInteger(tokens) || tokens < 1 || !(weight > 0) || !Number.isFinite(weight)) {
      throw invalidInput(`${file}:${i + 1}: cannot read "${line}" as a histogram bin.`, shape)
    }
    bins.push({tokens, weight})
  }
  if (bins.length === 0) throw invalidInput(`${file} holds no histogram bins.`, shape)
  return bins
}

export async function loadHistogram(file: string, flag: string): Promise<HistogramBin[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`${flag} hist:${file} does not exist.`, 'Pass the path of a "tokens,weight" file.')
    throw invalidInput(`${flag} hist:${file} cannot be read: ${(error as Error).message}`, 'Check the path and its permissions.')
  }
  return parseHistogram(text, file)
}
