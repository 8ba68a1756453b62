import {Flags, Parser} from '@oclif/core'
import {describe, expect, it} from 'vitest'

import {benchFlags} from '../../../../src/cli/flags/bench.js'
import {CapplanError} from '../../../../src/lib/errors.js'
import {type ParseRecordedArgv, resumePlan} from '../../../../src/services/bench/resume.js'
import {sampleLevel, sampleResult} from '../../results/sample-result.js'

/** The recorded command through bench's own flags, as the command parses it (--json is a base flag there). */
const parseRecorded: ParseRecordedArgv = async (argv) => (await Parser.parse(argv, {flags: {...benchFlags, json: Flags.boolean()}, strict: false})).flags

describe('bench --resume planning', () => {
  const failedLevel = (concurrency: number) => ({...sampleLevel(concurrency), status: 'failed' as const})

  it('repeats the command for the planned levels that are not complete, beside the file, keeping the complete ones', async () => {
    const file = sampleResult({
      capplan: {
        version: '0.1.0',
        command: [
          'capplan',
          'bench',
          '--engine',
          'llamacpp',
          '--quant',
          'int4,int8',
          '--concurrency',
          '1,2,4',
          '--requests',
          '3',
          '--results-dir',
          'out',
          '--json',
          '--',
          '--mlock',
        ],
      },
      levels: [sampleLevel(1), failedLevel(2)],
      status: 'partial',
    })
    const plan = await resumePlan(file, '/runs/a.json', parseRecorded)
    // 1 complete -> kept; 2 failed and 4 never ran -> measured again.
    expect(plan.kept.map((level) => level.load.value)).toEqual([1])
    expect(plan.rerun).toEqual([2, 4])
    expect(plan.argv).toEqual([
      '--engine',
      'llamacpp',
      '--requests',
      '3',
      '--model',
      'qwen2.5-0.5b',
      '--quant',
      'int4',
      '--concurrency',
      '2,4',
      '--results-dir',
      '/runs',
      '--',
      '--mlock',
    ])
  })

  it('uses the default levels 1,2,4 when the command named none, and --rate lists for open-loop runs', async () => {
    const interrupted = sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench']}, levels: [sampleLevel(1)], status: 'interrupted'})
    expect((await resumePlan(interrupted, 'r.json', parseRecorded)).rerun).toEqual([2, 4])
    const rates = sampleResult({
      capplan: {version: '0.1.0', command: ['capplan', 'bench', '--rate=0.5,1']},
      levels: [{...sampleLevel(1), load: {kind: 'rate', value: 0.5}}],
      status: 'running',
    })
    const plan = await resumePlan(rates, 'r.json', parseRecorded)
    expect(plan.rerun).toEqual([1])
    expect(plan.argv).toContain('--rate')
    expect(plan.argv[plan.argv.indexOf('--rate') + 1]).toBe('1')
  })

  it('reads the recorded lists as bench reads them: --concurrency=LIST, unordered and repeated values', async () => {
    const file = sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--concurrency=4,1,1']}, levels: [sampleLevel(1)], status: 'partial'})
    const plan = await resumePlan(file, 'r.json', parseRecorded)
    expect(plan.rerun).toEqual([4])
    expect(plan.argv.slice(-4, -2)).toEqual(['--concurrency', '4'])
  })

  it('refuses a complete run, a sweep, a command whose secret was redacted, and a recorded list bench cannot read', async () => {
    const refused = async (file: ReturnType<typeof sampleResult>) => {
      try {
        await resumePlan(file, 'r.json', parseRecorded)
      } catch (error) {
        expect(error).toBeInstanceOf(CapplanError)
        expect((error as CapplanError).kind).toBe('INVALID_INPUT')
        return (error as CapplanError).message
      }
      throw new Error('expected a refusal')
    }
    expect(await refused(sampleResult({levels: [sampleLevel(1)], status: 'complete'}))).toMatch(/nothing to resume/)
    expect(await refused(sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--sweep']}, levels: [], status: 'partial'}))).toMatch(
      /a --sweep picks its levels/,
    )
    expect(await refused(sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--api-key', '***']}, levels: [], status: 'partial'}))).toMatch(
      /held a secret/,
    )
    expect(
      await refused(
        sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--concurrency', '1']}, levels: [sampleLevel(1), failedLevel(2)], status: 'partial'}),
      ),
    ).toMatch(/every planned level is complete/)
    expect(await refused(sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--rate', '0,1']}, levels: [], status: 'partial'}))).toBe(
      '--rate: "0" is not a positive number of requests per second.',
    )
  })
})
