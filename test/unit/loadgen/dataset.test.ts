import {mkdtempSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DATASET_MAX_BYTES, datasetPrompt, loadDataset, parseDatasetLine} from '../../../src/loadgen/dataset.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-dataset-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function file(name: string, content: string | Buffer): string {
  const target = path.join(dir, name)
  writeFileSync(target, content)
  return target
}

describe('loadDataset', () => {
  it('reads prompt and messages lines, skipping blank lines and ignoring other fields', async () => {
    const target = file(
      'mixed.jsonl',
      '\uFEFF{"prompt": "Hello there", "id": 7}\n\n' +
        '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is KV cache?"}]}\r\n' +
        '   \n{"prompt": "Third"}',
    )
    const dataset = await loadDataset(target)
    expect(dataset.prompts).toEqual([
      {line: 1, text: 'Hello there'},
      // messages: contents joined by a blank line
      {line: 3, text: 'Be brief.\n\nWhat is KV cache?'},
      {line: 5, text: 'Third'},
    ])
    expect(datasetPrompt(dataset, 2)).toBe('Third')
  })

  it('names file:line for a bad line', async () => {
    const target = file('bad.jsonl', '{"prompt": "ok"}\n{"prompt": "ok too"}\n{"prompt": oops}\n')
    await expect(loadDataset(target)).rejects.toThrow(`${target}:3: not valid JSON`)
    await expect(loadDataset(target)).rejects.toMatchObject({kind: 'INVALID_INPUT', exitCode: 3})
  })

  it('refuses a file over the limit before reading it', async () => {
    // Content that would fail to parse: the size check must come first.
    const target = file('big.jsonl', 'x'.repeat(2000))
    await expect(loadDataset(target, {maxBytes: 1024})).rejects.toThrow(`--dataset ${target} is 2000 bytes, over the 1024 bytes limit.`)
    // The real 1 GiB limit on a sparse file of 1 GiB + 1 byte (no disk used, never read).
    const sparse = file('sparse.jsonl', '')
    truncateSync(sparse, DATASET_MAX_BYTES + 1)
    await expect(loadDataset(sparse)).rejects.toThrow(/is 1\.00 GiB, over the 1\.00 GiB limit/)
  })

  it('reports a missing file as not found and an empty one as invalid', async () => {
    await expect(loadDataset(path.join(dir, 'nope.jsonl'))).rejects.toMatchObject({kind: 'NOT_FOUND'})
    await expect(loadDataset(file('empty.jsonl', '\n\n'))).rejects.toThrow(/holds no prompts/)
  })

  it('refuses to reuse a prompt past the end of the dataset', async () => {
    const dataset = await loadDataset(file('two.jsonl', '{"prompt": "a"}\n{"prompt": "b"}\n'))
    expect(() => datasetPrompt(dataset, 2)).toThrow(/holds 2 prompts but the run needs at least 3/)
  })
})

describe('parseDatasetLine', () => {
  const cases: [string, RegExp][] = [
    ['[1, 2]', /f\.jsonl:4: expected a JSON object, found an array/],
    ['null', /found null/],
    ['{"text": "x"}', /has neither "prompt" nor "messages"/],
    ['{"prompt": "a", "messages": []}', /has both "prompt" and "messages"/],
    ['{"prompt": 5}', /"prompt" must be a string, found number/],
    ['{"prompt": "   "}', /"prompt" is empty/],
    ['{"messages": []}', /"messages" must be a non-empty array/],
    ['{"messages": [{"role": "user"}]}', /messages\[0\] needs a string "role" and a string "content"/],
  ]
  for (const [line, error] of cases) {
    it(`refuses ${line}`, () => {
      expect(() => parseDatasetLine(line, 'f.jsonl', 4)).toThrow(error)
    })
  }
})
