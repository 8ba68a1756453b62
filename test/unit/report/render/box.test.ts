import {describe, expect, it} from 'vitest'

import {boxTable, fitColumns, wrapText} from '../../../../src/report/render/box.js'
import type {Table} from '../../../../src/report/render/rows.js'

const table = (cells: string[][]): Table => ({
  columns: cells[0]!.map((_, i) => ({key: `c${i}`, title: `h${i}`, align: 'left' as const})),
  rows: cells.map((row) => Object.fromEntries(row.map((text, i) => [`c${i}`, {value: text, text}]))),
})

describe('fitColumns', () => {
  it('null when the natural widths fit: 3 columns of 10 characters = 3 x 12 + 4 borders = 40', () => {
    expect(fitColumns([['a'.repeat(10), 'b'.repeat(10), 'c'.repeat(10)]], 40)).toBeNull()
  })

  it('the widest column gives way first: 60 + 10 characters into 50 columns -> 35 + 12 (+ 3 borders)', () => {
    expect(fitColumns([['a'.repeat(60), 'b'.repeat(10)]], 50)).toEqual([35, 12])
  })

  it('never below 10 characters: a table that cannot fit stops there', () => {
    expect(fitColumns([['a'.repeat(30), 'b'.repeat(30)]], 10)).toEqual([12, 12])
  })
})

describe('wrapText', () => {
  it('wraps at spaces and breaks a word longer than the line, losing no character', () => {
    expect(wrapText('results/20261122T081941Z_vm_cpu.json short', 12)).toBe('results/2026\n1122T081941Z\n_vm_cpu.json\nshort')
    expect(wrapText('a bb ccc dddd', 6)).toBe('a bb\nccc\ndddd')
  })
})

describe('boxTable with maxWidth', () => {
  it('every line of a too-wide table fits, and every word of each cell is still there', () => {
    const long = 'Llama 3.3 70B Instruct Turbo (same architecture as 3.1 70B; no Together 3.1 70B file)'
    const text = boxTable(table([[long, '$0.88 / $0.88', 'never']]), {maxWidth: 60})
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(60)
    for (const word of long.split(' ')) expect(text).toContain(word)
  })
})
