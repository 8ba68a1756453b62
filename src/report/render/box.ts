/** Terminal syntax: a Table drawn with box characters (cli-table3, no colours). */

import Table from 'cli-table3'

import {headTexts, rowTexts, type Table as Rows} from './rows.js'

export function boxTable(table: Rows, options: {wordWrap?: boolean} = {}): string {
  const right = table.columns.some((c) => c.align === 'right')
  const box = new Table({
    head: headTexts(table),
    style: {head: [], border: []},
    ...(right ? {colAligns: table.columns.map((c) => c.align)} : {}),
    ...(options.wordWrap ? {wordWrap: true} : {}),
  })
  for (const row of rowTexts(table)) box.push(row)
  return box.toString()
}
