/**
 * Older result files, brought up to the current schemaVersion as they are read: every reader (report,
 * compare, bench --resume) sees the current version only, and no older file is ever rewritten on disk.
 */

import {RESULT_SCHEMA_VERSION, type ResultFile, type ResultFileV1, type ResultFileV2} from './schema.js'

/**
 * The words of a command line as quoteArgv (lib/redact.ts) wrote it into a version 1 file: plain words, or
 * '...' with '\'' for a quote inside, and a backslash escaping the next character. Only for this upgrade:
 * version 2 stores the argv itself. An unterminated quote (a hand-edited file) keeps the rest as one word:
 * the command is a record, and report read such files before, so it does not refuse them now.
 */
export function shellWords(command: string): string[] {
  const words: string[] = []
  let word: string | null = null
  for (let i = 0; i < command.length; i++) {
    const char = command[i]!
    if (char === "'") {
      const end = command.indexOf("'", i + 1)
      const stop = end === -1 ? command.length : end
      word = (word ?? '') + command.slice(i + 1, stop)
      i = stop
    } else if (char === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[++i]
    } else if (char === ' ') {
      if (word !== null) words.push(word)
      word = null
    } else {
      word = (word ?? '') + char
    }
  }
  if (word !== null) words.push(word)
  return words
}

/**
 * A version 2 file as version 3: version 3 only adds optional records, and their absence means what version 2
 * meant, so only the number changes (no copy of the requests: report reads thousands of files).
 */
export function upgradeV2(file: ResultFileV2): ResultFile {
  return {...file, schemaVersion: RESULT_SCHEMA_VERSION}
}

/** A version 1 file as the current version: the recorded command line becomes its argv; nothing else differs. */
export function upgradeV1(file: ResultFileV1): ResultFile {
  return {...file, schemaVersion: RESULT_SCHEMA_VERSION, capplan: {version: file.capplan.version, command: shellWords(file.capplan.command)}}
}
