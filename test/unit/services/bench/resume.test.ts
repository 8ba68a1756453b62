import {describe, expect, it} from 'vitest'

import {type CapplanError} from '../../../../src/lib/errors.js'
import {resumePlan} from '../../../../src/services/bench/resume.js'
import {sampleLevel, sampleResult} from '../../results/sample-result.js'

describe('bench --resume planning', () => {
  const failedLevel = (concurrency: number) => ({...sampleLevel(concurrency), status: 'failed' as const})

  it('repeats the command for the planned levels that are not complete, beside the file, keeping the complete ones', () => {
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
    const plan = resumePlan(file, '/runs/a.json')
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

  it('uses the default levels 1,2,4 when the command named none, and --rate lists for open-loop runs', () => {
    const interrupted = sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench']}, levels: [sampleLevel(1)], status: 'interrupted'})
    expect(resumePlan(interrupted, 'r.json').rerun).toEqual([2, 4])
    const rates = sampleResult({
      capplan: {version: '0.1.0', command: ['capplan', 'bench', '--rate=0.5,1']},
      levels: [{...sampleLevel(1), load: {kind: 'rate', value: 0.5}}],
      status: 'running',
    })
    const plan = resumePlan(rates, 'r.json')
    expect(plan.rerun).toEqual([1])
    expect(plan.argv).toContain('--rate')
    expect(plan.argv[plan.argv.indexOf('--rate') + 1]).toBe('1')
  })

  it('refuses a complete run, a sweep, and a command whose secret was redacted', () => {
    const refused = (file: ReturnType<typeof sampleResult>) => {
      try {
        resumePlan(file, 'r.json')
      } catch (error) {
        expect((error as CapplanError).kind).toBe('INVALID_INPUT')
        return (error as CapplanError).message
      }
      throw new Error('expected a refusal')
    }
    expect(refused(sampleResult({levels: [sampleLevel(1)], status: 'complete'}))).toMatch(/nothing to resume/)
    expect(refused(sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--sweep']}, levels: [], status: 'partial'}))).toMatch(/a --sweep picks its levels/)
    expect(refused(sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--api-key', '***']}, levels: [], status: 'partial'}))).toMatch(/held a secret/)
    expect(
      refused(sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--concurrency', '1']}, levels: [sampleLevel(1), failedLevel(2)], status: 'partial'})),
    ).toMatch(/every planned level is complete/)
  })
})
