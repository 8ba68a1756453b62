/** Terminal syntax: a Table drawn with box characters (cli-table3, no colours). */

import Table from 'cli-table3'

import {headTexts, rowTexts, type Table as Rows} from './rows.js'

/** The width a terminal report is laid out for (the 120 columns). */
export const TERMINAL_WIDTH = 120
/** A column is never squeezed below this many characters (it wraps instead). */
const MIN_COLUMN = 10

/** The widest line of a cell's text. */
const textWidth = (text: string) => Math.max(0, ...text.split('\n').map((line) => line.length))

/**
 * Column widths (cell padding included) that fit `maxWidth`: the widest columns give way first, down to
 * MIN_COLUMN; null when the natural widths fit already.
 */
export function fitColumns(texts: string[][], maxWidth: number): number[] | null {
  const columns = texts[0]?.length ?? 0
  const widths = Array.from({length: columns}, (_, c) => Math.max(...texts.map((row) => textWidth(row[c] ?? ''))) + 2)
  const total = () => widths.reduce((sum, w) => sum + w, 0) + columns + 1
  if (total() <= maxWidth) return null
  while (total() > maxWidth) {
    const widest = widths.indexOf(Math.max(...widths))
    if (widths[widest]! <= MIN_COLUMN + 2) break
    widths[widest] = widths[widest]! - 1
  }
  return widths
}

/**
 * Text wrapped to `width` characters a line: at spaces, and a word longer than the line (a file path) broken
 * into pieces, so nothing is ever cut off (cli-table3's own wrapping truncates such words with "…").
 */
export function wrapText(text: string, width: number): string {
  const out: string[] = []
  for (const paragraph of text.split('\n')) {
    let line = ''
    for (const word of paragraph.split(' ')) {
      const pieces = word.length <= width ? [word] : (word.match(new RegExp(`.{1,${width}}`, 'g')) ?? [word])
      for (const piece of pieces) {
        if (line === '') line = piece
        else if (line.length + 1 + piece.length <= width) line = `${line} ${piece}`
        else {
          out.push(line)
          line = piece
        }
      }
    }
    out.push(line)
  }
  return out.join('\n')
}

export function boxTable(table: Rows, options: {wordWrap?: boolean; maxWidth?: number; compact?: boolean} = {}): string {
  const right = table.columns.some((c) => c.align === 'right')
  const head = headTexts(table)
  const widths = options.maxWidth === undefined ? null : fitColumns([head, ...rowTexts(table)], options.maxWidth)
  const fit = (texts: string[]) => (widths === null ? texts : texts.map((text, c) => wrapText(text, widths[c]! - 2)))
  const rows = rowTexts(table).map(fit)
  const box = new Table({
    head: fit(head),
    style: {head: [], border: []},
    ...(right ? {colAligns: table.columns.map((c) => c.align)} : {}),
    ...(options.wordWrap && widths === null ? {wordWrap: true} : {}),
    ...(widths === null ? {} : {colWidths: widths}),
    // compact: no rule between body rows (long tables stay readable).
    ...(options.compact ? {chars: {mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': ''}} : {}),
  })
  for (const row of rows) box.push(row)
  return box.toString()
}
