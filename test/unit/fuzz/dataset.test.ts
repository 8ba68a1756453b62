import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadDataset, parseDatasetLine} from '../../../src/loadgen/dataset.js'
import {CapplanError} from '../../../src/lib/errors.js'
import {expectCapplanError, fuzzOptions, returnsOrRefuses, returnsOrRefusesAsync} from './fuzz-helpers.js'

/**
 * Issue 7 §3, datasets: `--dataset FILE.jsonl` fed arbitrary lines. Either prompts (non-blank text, each with
 * its 1-based line) or ONE INVALID_INPUT naming file:line of the first bad line; never a throw of another kind.
 */

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-fuzz-dataset-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Lines a dataset might hold: valid prompt / messages lines, near misses, arbitrary JSON, arbitrary text. */
const datasetLine = fc.oneof(
  fc.string({unit: 'binary', maxLength: 12}).map((prompt) => JSON.stringify({prompt, id: 1})),
  fc.array(fc.record({role: fc.constantFrom('system', 'user'), content: fc.string({maxLength: 6})}), {maxLength: 3}).map((messages) => JSON.stringify({messages})),
  fc.record({prompt: fc.jsonValue({maxDepth: 1}), messages: fc.jsonValue({maxDepth: 2})}, {requiredKeys: []}).map((value) => JSON.stringify(value)),
  fc.jsonValue({maxDepth: 2}).map((value) => JSON.stringify(value)),
  fc.constantFrom('', '   ', '\t', '\uFEFF', '{"prompt": "ok"', '{"__proto__": {"prompt": "x"}}', '{"prompt": "a", "prompt": ""}', '{"messages": [null]}'),
  fc.string({unit: 'binary', maxLength: 30}),
)

/** What loadDataset should give for the file's text (readline splits at CRLF, LF and a lone CR). */
function expected(text: string, file: string): {line: number; text: string}[] | {badLine: number} {
  const prompts: {line: number; text: string}[] = []
  const split = text.split(/\r\n|\r|\n/)
  // A file that ends with a line break has no extra empty line after it.
  if (split.length > 1 && split.at(-1) === '') split.pop()
  for (const [index, raw] of split.entries()) {
    const content = index === 0 ? raw.replace(/^\uFEFF/, '') : raw
    if (content.trim().length === 0) continue
    try {
      prompts.push({line: index + 1, text: parseDatasetLine(content, file, index + 1)})
    } catch {
      return {badLine: index + 1}
    }
  }
  return prompts
}

describe('dataset lines on hostile input', () => {
  it('parseDatasetLine: a non-blank prompt, or INVALID_INPUT naming file:line', () => {
    fc.assert(
      fc.property(fc.oneof(datasetLine, fc.string({unit: 'binary', maxLength: 200})), fc.integer({min: 1, max: 1e6}), (content, line) => {
        const outcome = returnsOrRefuses(() => parseDatasetLine(content, 'data.jsonl', line), 'INVALID_INPUT', `data.jsonl:${line}: `)
        if (outcome instanceof CapplanError) expect(outcome.message.startsWith(`data.jsonl:${line}: `)).toBe(true)
        else expect(outcome.trim().length).toBeGreaterThan(0)
      }),
      fuzzOptions(500),
    )
  })

  it('loadDataset: a file of arbitrary lines gives its prompts, or refuses the first bad line by file:line', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(datasetLine, {maxLength: 8}), fc.boolean(), async (lines, crlf) => {
        const file = path.join(dir, `d${run++}.jsonl`)
        const text = lines.join(crlf ? '\r\n' : '\n')
        writeFileSync(file, text)
        const want = expected(text, file)
        const outcome = await returnsOrRefusesAsync(() => loadDataset(file), 'INVALID_INPUT', file)
        if (outcome instanceof CapplanError) {
          if ('badLine' in want) expect(outcome.message.startsWith(`${file}:${want.badLine}: `)).toBe(true)
          else {
            expect(want).toEqual([])
            expect(outcome.message).toBe(`--dataset ${file} holds no prompts.`)
          }
        } else {
          expect(outcome.prompts).toEqual(want)
        }
      }),
      fuzzOptions(120),
    )
  })

  it('regression (found reading the error paths, not by the property): a path through a file is NOT_FOUND (the raw ENOTDIR escaped)', async () => {
    const file = path.join(dir, 'plain.jsonl')
    writeFileSync(file, '{"prompt": "x"}\n')
    const inside = path.join(file, 'more.jsonl')
    try {
      await loadDataset(inside)
      expect.unreachable()
    } catch (error) {
      expectCapplanError(error, 'NOT_FOUND', `--dataset: ${inside} does not exist.`)
    }
  })
})
