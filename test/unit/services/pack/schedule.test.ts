import {describe, expect, it} from 'vitest'

import {planSchedule, scheduleTsv} from '../../../../src/services/pack/schedule.js'

describe('planSchedule: most valuable first, inside the budget', () => {
  const plan = {quants: ['int4', 'int8', 'fp16'] as const, concurrency: [32, 1, 64, 8], levelSeconds: 20, setupSeconds: 30}

  it('pass 1 = every quant at the lowest and highest concurrency, pass 2 = the middle levels; 30 + 2 x 20 = 70 s per step', () => {
    const schedule = planSchedule({...plan, quants: [...plan.quants]}, 480)
    expect(schedule.steps.map((s) => [s.step, s.pass, s.quant, s.concurrency.join(','), s.estimateSeconds, s.endsAtSeconds])).toEqual([
      [1, 1, 'int4', '1,64', 70, 70],
      [2, 1, 'int8', '1,64', 70, 140],
      [3, 1, 'fp16', '1,64', 70, 210],
      [4, 2, 'int4', '8,32', 70, 280],
      [5, 2, 'int8', '8,32', 70, 350],
      [6, 2, 'fp16', '8,32', 70, 420],
    ])
    expect(schedule.steps.every((s) => s.fits)).toBe(true)
    expect([schedule.levels, schedule.levelsThatFit]).toEqual([12, 12])
  })

  it('a 300 s budget fits the first 4 steps (ending at 280 s): 8 of 12 levels', () => {
    const schedule = planSchedule({...plan, quants: [...plan.quants]}, 300)
    expect(schedule.steps.map((s) => s.fits)).toEqual([true, true, true, true, false, false])
    expect(schedule.levelsThatFit).toBe(8)
  })

  it('a ladder of two has no pass 2; a ladder of one is one level per quant (30 + 20 = 50 s)', () => {
    expect(planSchedule({quants: ['int4', 'fp16'], concurrency: [1, 8], levelSeconds: 20, setupSeconds: 30}, 100).steps.map((s) => [s.pass, s.concurrency])).toEqual([
      [1, [1, 8]],
      [1, [1, 8]],
    ])
    const single = planSchedule({quants: ['int4'], concurrency: [4], levelSeconds: 20, setupSeconds: 30}, 49)
    expect(single.steps).toMatchObject([{concurrency: [4], estimateSeconds: 50, fits: false}])
    expect(single.levelsThatFit).toBe(0)
  })

  it('schedule.tsv: step, quant, levels, estimate per line, as run.sh reads them', () => {
    expect(scheduleTsv(planSchedule({quants: ['int4', 'fp16'], concurrency: [1, 2, 4], levelSeconds: 3, setupSeconds: 10}, 60))).toBe(
      '1\tint4\t1,4\t16\n2\tfp16\t1,4\t16\n3\tint4\t2\t13\n4\tfp16\t2\t13\n',
    )
  })
})
