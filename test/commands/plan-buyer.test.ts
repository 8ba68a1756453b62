import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {ownedGpuHour} from '../../src/cost/ownership.js'
import {capplanInProcess} from '../helpers/cli.js'

/**
 * `capplan plan` answering the buyer's questions, through the built CLI: traffic over the day (fixed vs
 * autoscaled fleets), the same model hosted, owned hardware, and each bad flag as exit 3 naming it.
 */
const root = fileURLToPath(new URL('../..', import.meta.url))
const plan = (...args: string[]) => capplanInProcess(['plan', ...args], {cwd: root, env: {CAPPLAN_PROFILES: undefined}})
async function planJson(...args: string[]) {
  const result = await plan(...args, '--json')
  return {exitCode: result.exitCode, json: JSON.parse(result.stdout) as Record<string, any>}
}

// The example: 2 x H100 ($3.99/h on-demand) serving 2,500 tok/s, 500M tokens a day, diurnal 3:1.
const example = ['--throughput', '2500', '--gpus', '2', '--gpu', 'h100-sxm', '--model', 'llama-3.1-70b', '--daily-volume', '500M', '--traffic', 'diurnal:3']
// Hour h carries 500M / 24 x (1 + 0.5 cos(2 pi (h - 14) / 24)) tokens (peak/trough 3 -> amplitude 0.5); a replica 9M an hour.
const hourTokens = Array.from({length: 24}, (_, h) => (500e6 / 24) * (1 + 0.5 * Math.cos((2 * Math.PI * (h - 14)) / 24)))
const replicasByHour = hourTokens.map((t) => Math.ceil(t / 9e6))
const replicaHour = 2 * 3.99

describe('capplan plan --traffic (the issue example)', () => {
  it('prints fixed vs autoscaled fleets with their cost, utilization and idle cost, and the hosted Llama 70B prices', async () => {
    const {exitCode, stdout} = await plan(...example)
    expect(exitCode).toBe(0)
    const peak = Math.max(...replicasByHour) // ceil(31.25M / 9M) = 4
    expect(peak).toBe(4)
    const fixedMonthly = peak * replicaHour * 730
    const replicaHoursPerDay = replicasByHour.reduce((a, b) => a + b, 0)
    const autoscaledMonthly = (replicaHoursPerDay * replicaHour * 730) / 24
    expect(stdout).toContain(
      `Fixed fleet (sized for the peak hour): 4 replicas all month = $${fixedMonthly.toLocaleString('en-US', {minimumFractionDigits: 2, maximumFractionDigits: 2})}/month`,
    )
    expect(stdout).toContain(
      `Autoscaled fleet (min 0, step 1): ${replicaHoursPerDay} replica-hours/day (${Number((replicaHoursPerDay / 24).toFixed(2))} on average) = $${autoscaledMonthly.toLocaleString('en-US', {minimumFractionDigits: 2, maximumFractionDigits: 2})}/month`,
    )
    // utilization of the fixed fleet: 500M / (4 x 24 x 9M)
    expect(stdout).toContain(`utilization ${((500 / 864) * 100).toFixed(1)}%`)
    expect(stdout).toMatch(/^Decision: At 15\.21B tokens\/month \(traffic diurnal:3\)/)
    expect(stdout).toContain('Same model, hosted: ')
    // (the table wraps long cells: compare with the borders and line breaks squashed)
    expect(stdout.replace(/[│\s]+/g, ' ')).toContain('== Same model, hosted: llama-3.1-70b')
    for (const provider of ['DeepInfra', 'OpenRouter', 'Together AI', 'Groq']) expect(stdout).toContain(provider)
    expect(stdout).toContain('== Closed APIs')
    // every table line fits 120 columns
    for (const line of stdout.split('\n').filter((l) => /^[┌│├└]/.test(l))) expect(line.length).toBeLessThanOrEqual(120)
  })

  it('--json: the per-hour plan, both fleets, the grouped APIs and the decision', async () => {
    const {exitCode, json} = await planJson(...example)
    expect(exitCode).toBe(0)
    expect(json.traffic.hours.map((h: {replicasNeeded: number}) => h.replicasNeeded)).toEqual(replicasByHour)
    expect(json.traffic.fixed.monthlyCost).toBeCloseTo(4 * replicaHour * 730, 6)
    expect(json.decision.selfHosted.label).toBe('self-hosted (autoscaled)')
    expect(json.decision.hostedTwin.group).toBe('same-model')
    expect(new Set(json.apis.map((api: {group: string}) => api.group))).toEqual(new Set(['same-model', 'closed']))
    // The crossover is recomputed for the traffic shape. Against Fireworks ($0.90/1M, just above a full replica's
    // $0.887/1M): the plain rule (every hour full) crosses at 433.67B tokens/month; a fixed fleet never does (it pays
    // for the quiet night); an autoscaled one crosses sooner than the plain rule (it scales with the day).
    const fireworks = json.apis.find((api: {id: string}) => api.id === 'fireworks-llama-3.1-70b')
    expect(fireworks.crossover.volumeTokensPerMonth).toBeCloseTo(433.6686667e9, -4)
    expect(fireworks.trafficCrossover.fixed.kind).toBe('never')
    expect(fireworks.trafficCrossover.autoscaled.volumeTokensPerMonth).toBeLessThan(fireworks.crossover.volumeTokensPerMonth)
  })

  it('--pricing owned: the purchase price and power priced at the fixed fleet utilization, against each rental tier', async () => {
    const {exitCode, stdout} = await plan(...example, '--pricing', 'owned')
    expect(exitCode).toBe(0)
    const u = 500 / 864
    const h100 = {
      usdPerGpu: 30000,
      usefulLifeYears: 4,
      residualFraction: 0,
      costOfCapital: 0,
      idleWatts: 80,
      busyWatts: 700,
      powerSource: '',
      pue: 1.2,
      usdPerKwh: 0.0806,
      coloUsdPerKwMonth: 135,
      opsOverhead: 0,
      hoursPerMonth: 730,
      purchaseSource: '',
    }
    const hour = ownedGpuHour(h100, u)
    expect(stdout).toContain(`Owned $/GPU-hour at ${(u * 100).toFixed(1)}% utilization: capital $0.86`)
    expect(stdout).toContain(`= $${hour.usdPerHour.toFixed(2)} `)
    expect(stdout).toContain('Autoscaled fleet: not for owned GPUs')
    expect(stdout).toMatch(/Owning vs renting on-demand \(\$3\.99\/h\): owning is cheaper than renting on-demand when the GPU is busy more than 25\.3% of the hours/)
    const {json} = await planJson(...example, '--pricing', 'owned')
    expect(json.traffic.fixed.monthlyCost).toBeCloseTo(4 * 2 * hour.usdPerHour * 730, 6)
    expect(json.decision.selfHosted.label).toBe('self-hosted (fixed fleet)')
  })

  describe('a traffic file of hourly volumes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-traffic-'))
    afterAll(() => rmSync(dir, {recursive: true, force: true}))

    it('gives the volume itself: 24 hours of 9M tokens = one replica every hour', async () => {
      const file = path.join(dir, 'hours.csv')
      writeFileSync(file, `hour,tokens\n${Array.from({length: 24}, (_, h) => `${h},9000000`).join('\n')}\n`)
      const {exitCode, json} = await planJson('--throughput', '2500', '--gpu-price', '2', '--traffic', file)
      expect(exitCode).toBe(0)
      expect(json.traffic.fixed.replicas).toBe(1)
      expect(json.traffic.fixed.utilization).toBeCloseTo(1, 12)
      expect(json.traffic.tokensPerDay).toBeCloseTo(216e6, 3)
    })
  })
})

describe('capplan plan: bad buyer flags are exit 3 naming the flag', () => {
  it('an unknown --model is NOT_FOUND (exit 4) naming the closest ids', async () => {
    const result = await plan('--throughput', '100', '--gpu', 'h100-sxm', '--model', 'llama-3.1-7b')
    expect(result.exitCode).toBe(4)
    expect(result.stderr).toMatch(/llama-3\.1-7b/)
    expect(result.stderr).toMatch(/llama-3\.1-70b|llama-3\.1-8b/)
  })

  const cases: [string[], RegExp][] = [
    [['--traffic', 'weekly:3'], /--traffic "weekly:3" is not a shape/],
    [['--traffic', 'diurnal:0.5'], /the ratio is peak \/ trough, at least 1/],
    [['--headroom', '0.2'], /--headroom needs --traffic/],
    [['--traffic', 'flat', '--scale-step', '0'], /--scale-step must be a whole number of at least 1/],
    [['--cache-hit', '1.5'], /--cache-hit must be at most 1/],
    [['--compare', 'cheapest'], /--compare "cheapest" is not a comparison set/],
    [['--compare', 'quality>=60:gpqa-x'], /--compare: no profile has a score on "gpqa-x"/],
    [['--colo-kw-month', '120'], /--colo-kw-month needs --pricing owned/],
    [['--gpu', 'l40s', '--pricing', 'owned'], /"l40s" has no purchase price/],
  ]
  for (const [flags, message] of cases) {
    it(flags.join(' '), async () => {
      const base = flags.includes('--gpu') ? ['--throughput', '100'] : ['--throughput', '100', '--gpu', 'h100-sxm']
      const result = await plan(...base, ...flags)
      expect(result.exitCode).toBe(3)
      expect(result.stderr.replace(/\s+›?\s*/g, ' ')).toMatch(message)
    })
  }
})
