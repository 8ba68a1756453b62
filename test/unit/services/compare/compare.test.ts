import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {compareFiles} from '../../../../src/services/compare/compare.js'
import {peers} from '../../../helpers/cli.js'

const context = {profilesDir: undefined, capplanVersion: '0.1.0'}
const int4 = path.join(peers, 'capplan-embedded-int4.json')
const fp16 = path.join(peers, 'capplan-embedded-fp16.json')

describe('compareFiles', () => {
  it('compares every file with the first, at the highest common load or --load', async () => {
    const highest = await compareFiles([int4, fp16], {slo: {ttftMs: 30_000, tpotMs: 3000}}, context)
    expect(highest.entries).toHaveLength(2)
    expect(highest.comparedLoad).toEqual({kind: 'concurrency', value: 2})
    const atOne = await compareFiles([int4, fp16], {load: 1}, context)
    expect(atOne.comparedLoad).toEqual({kind: 'concurrency', value: 1})
  })

  it('stops at an unreadable file (a comparison with a side missing would mislead)', async () => {
    await expect(compareFiles([int4, '/nonexistent.json'], {}, context)).rejects.toThrow(/nonexistent\.json/)
  })
})
