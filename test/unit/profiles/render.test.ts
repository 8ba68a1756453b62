import {describe, expect, it} from 'vitest'

import {createProfileStore} from '../../../src/profiles/store.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import {listingOf, renderProfileTable} from '../../../src/profiles/render.js'
import type {WorkloadProfile} from '../../../src/profiles/schema.js'

const cells = (table: string, id: string) =>
  table
    .split('\n')
    .find((line) => line.startsWith(`│ ${id} `))!
    .split('│')
    .slice(1, -1)
    .map((cell) => cell.trim())

describe('renderProfileTable', () => {
  it('gpu rows: memory, bandwidth, FP16, the three prices ("-" when none), confidence', async () => {
    const store = await loadProfiles()
    const table = renderProfileTable(store, 'gpu')
    expect(cells(table, 'a100-80gb-sxm')).toEqual(['a100-80gb-sxm', 'NVIDIA A100 80GB SXM', '80', '2.039', '312', '1.70', '2.50', '0.94', 'high'])
    // AWS's 1.006 keeps its third digit instead of rounding to 1.01
    expect(cells(table, 'a10g')).toEqual(['a10g', 'NVIDIA A10G (AWS)', '24', '0.6', '-', '1.006', '-', '-', 'low'])
  })

  it('model rows show total / active only for MoE, and MLA', async () => {
    const table = renderProfileTable(await loadProfiles(), 'model')
    expect(cells(table, 'deepseek-v3')).toEqual(['deepseek-v3', 'deepseek2', '671 / 37', '61', '7168', '128 / 128 (MLA)', '8 of 256 + 1', '131072'])
    expect(cells(table, 'llama-3.1-8b')).toEqual(['llama-3.1-8b', 'llama', '8.03', '32', '4096', '32 / 8', '-', '131072'])
  })

  it('workload rows: the in:out ratio, user profiles marked', () => {
    const mine: WorkloadProfile = {
      kind: 'workload',
      id: 'mine',
      name: 'Mine',
      description: 'test',
      inputTokens: 1000,
      outputTokens: 300,
      slo: {ttftP95Ms: 800, tpotP95Ms: null, e2eP95Ms: 9000},
      source: 'test',
    }
    const store = createProfileStore([{kind: 'workload', id: 'mine', profile: mine, file: '/x/mine.yaml', origin: 'user'}])
    // 1000 / 300 = 3.333... -> "3.33:1"
    expect(cells(renderProfileTable(store, 'workload'), 'mine (user)')).toEqual(['mine (user)', '1000', '300', '3.33:1', '800', '-', '9000'])
    expect(listingOf(store, 'workload', 'mine')).toEqual({kind: 'workload', id: 'mine', source: {origin: 'user', file: '/x/mine.yaml'}, profile: mine})
  })
})
