import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import type {CapplanError} from '../../../../src/lib/errors.js'
import {parsePackPlan, readPackPlan} from '../../../../src/services/pack/plan-file.js'

const good = {model: 'qwen2.5-7b', quants: ['int4', 'int8', 'fp16'], concurrency: [1, 8, 32, 64], inputTokens: 512, outputTokens: 128, budgetSeconds: 480}

function problem(data: unknown): CapplanError {
  try {
    parsePackPlan(data, 'plan.yaml')
  } catch (error) {
    return error as CapplanError
  }
  throw new Error('expected the plan to be refused')
}

describe('the pack plan file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'capplan-plan-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('reads YAML and fills the defaults (levelSeconds 20, setupSeconds 60)', async () => {
    const file = path.join(dir, 'plan.yaml')
    writeFileSync(file, 'model: qwen2.5-7b\nquants: [int4, fp16]\nconcurrency: [1, 64]\ninputTokens: 512\noutputTokens: 128\ngpu: h200\n')
    expect(await readPackPlan(file)).toEqual({
      model: 'qwen2.5-7b',
      quants: ['int4', 'fp16'],
      concurrency: [1, 64],
      inputTokens: 512,
      outputTokens: 128,
      levelSeconds: 20,
      setupSeconds: 60,
      gpu: 'h200',
    })
  })

  it('reads JSON too', async () => {
    const file = path.join(dir, 'plan.json')
    writeFileSync(file, JSON.stringify(good))
    expect(await readPackPlan(file)).toMatchObject(good)
  })

  it('a missing file is NOT_FOUND (exit 4) naming it; broken syntax is INVALID_INPUT (exit 3)', async () => {
    await expect(readPackPlan(path.join(dir, 'nope.yaml'))).rejects.toMatchObject({kind: 'NOT_FOUND', message: expect.stringContaining('nope.yaml: cannot read it (ENOENT)')})
    const file = path.join(dir, 'broken.yaml')
    writeFileSync(file, 'model: [unclosed\n')
    await expect(readPackPlan(file)).rejects.toMatchObject({kind: 'INVALID_INPUT', message: expect.stringContaining('broken.yaml: not YAML or JSON')})
  })

  it('names the field that is wrong', () => {
    expect(problem({...good, quants: ['int3']})).toMatchObject({kind: 'INVALID_INPUT', message: expect.stringMatching(/^--plan plan\.yaml: quants\.0: /)})
    expect(problem({...good, concurrency: [1, 0]}).message).toBe('--plan plan.yaml: concurrency.1: a concurrency must be above 0.')
    expect(problem({...good, inputTokens: 1.5}).message).toBe('--plan plan.yaml: inputTokens: inputTokens must be a whole number.')
    expect(problem({...good, budget: '8m'}).message).toMatch(/^--plan plan\.yaml: \(top level\): .*budget/)
    expect(problem({...good, concurrency: [1, 8, 1]}).message).toBe('--plan plan.yaml: concurrency: 1, 8, 1 lists a level twice.')
    expect(problem({...good, quants: ['int4', 'int4']}).message).toBe('--plan plan.yaml: quants: int4, int4 lists a quant twice.')
  })
})
