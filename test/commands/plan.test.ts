import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {beforeAll, describe, expect, it} from 'vitest'

import {gpuHourlyPrice} from '../../src/cost/pricing.js'
import {loadProfiles} from '../../src/profiles/load.js'
import {capplanInProcess} from '../helpers/cli.js'

// Runs the built CLI (`npm test` builds first) as a user would, so exit codes and stdout are the real ones.
const root = fileURLToPath(new URL('../..', import.meta.url))

async function capplan(...args: string[]) {
  return capplanWithEnv({}, ...args)
}

async function capplanWithEnv(extraEnv: Record<string, string>, ...args: string[]) {
  return capplanInProcess(['plan', ...args], {cwd: root, env: {CAPPLAN_PROFILES: undefined, ...extraEnv}})
}

async function planJson(...args: string[]) {
  const result = await capplan(...args, '--json')
  return {exitCode: result.exitCode, stderr: result.stderr, json: JSON.parse(result.stdout) as Record<string, any>}
}

const example = ['--throughput', '25', '--gpus', '1', '--gpu-price', '2.5', '--hours-per-month', '720', '--volume', '100M', '--api', 'gpt-4o,claude-3.5-sonnet']

beforeAll(() => {
  if (!existsSync(new URL('../../dist/commands/plan.js', import.meta.url))) {
    throw new Error('dist/commands/plan.js is missing: run `npm run build` first (npm test does).')
  }
})

describe('capplan plan: the issue example', () => {
  it('prints the hand-calculated numbers', async () => {
    const {exitCode, stdout} = await capplan(...example)
    expect(exitCode).toBe(0)
    expect(stdout).toContain('$1,800.00/month') // 2.5 x 1 x 720
    expect(stdout).toContain('64.8M tokens/month') // 25 x 3600 x 720
    expect(stdout).toContain('$27.78/1M tokens') // 1800 / 64.8
    expect(stdout).toContain('2 replicas (2 GPUs') // ceil(100 / 64.8)
    expect(stdout).toContain('$3,600.00/month')
    expect(stdout).toMatch(/GPT-4o .*\$2\.50 \/ \$10\.00 .*\$6\.25 .*\$625\.00 .* never /) // (2.5 + 10) / 2 x 100
    expect(stdout).toMatch(/Claude 3\.5 Sonnet .*\$9\.00 .*\$900\.00 .* never /)
    expect(stdout).toContain('GPT-4o: at 100M tokens/month the API is cheaper ($625.00 vs $3,600.00 self-hosted); never: self-hosted $27.78/1M > API $6.25/1M')
  })

  it('--json has the contract fields with exact values', async () => {
    const {exitCode, json} = await planJson(...example)
    expect(exitCode).toBe(0)
    expect(json.replicaCapacityTokensPerMonth).toBe(64_800_000)
    expect(json.costPerMillionTokens).toBeCloseTo(27.7778, 4)
    expect(json.replicas).toBe(2)
    expect(json.selfHostedMonthlyCost).toBe(3600)
    expect(json.inputs).toMatchObject({totalTokensPerSecond: 25, usdPerGpuHour: 2.5, hoursPerMonth: 720, gpusPerReplica: 1})
    expect(json.inputs.ioRatio).toMatchObject({input: 1, output: 1})
    expect(json.inputs.volume).toMatchObject({tokensPerMonth: 100_000_000, givenAs: 'monthly'})
    const [gpt4o, sonnet] = json.apis as Record<string, any>[]
    expect(gpt4o).toMatchObject({id: 'gpt-4o', variant: null, inputPerMTok: 2.5, outputPerMTok: 10, blendedPerMTok: 6.25, monthlyCost: 625, annualCost: 7500})
    expect(gpt4o!.crossover.volumeTokensPerMonth).toBeNull()
    expect(gpt4o!.crossover.reason).toMatch(/^never: self-hosted \$27\.78\/1M > API \$6\.25\/1M/)
    expect(gpt4o!.breakEvenThroughputTokensPerSecond).toBeCloseTo(111.1111, 4)
    expect(sonnet).toMatchObject({id: 'claude-3.5-sonnet', blendedPerMTok: 9, monthlyCost: 900, annualCost: 10_800})
  })
})

describe('capplan plan: prices from profiles', () => {
  it('--gpu h100-sxm --pricing spot uses the profile price', async () => {
    const store = await loadProfiles()
    const spot = gpuHourlyPrice(store.get('gpu', 'h100-sxm'), 'spot').usdPerHour
    const {exitCode, json} = await planJson('--throughput', '25', '--gpu', 'h100-sxm', '--pricing', 'spot', '--volume', '100M', '--api', 'gpt-4o')
    expect(exitCode).toBe(0)
    expect(json.inputs.usdPerGpuHour).toBe(spot)
    expect(json.inputs.gpuPriceSource).toMatch(/^h100-sxm spot: /)
    expect(json.replicaMonthlyCost).toBeCloseTo(spot * 730, 9) // default 730 hours
  })

  it('seed 000 reproduces from profiles: a100-80gb-sxm spot (2.50) x 720 h = $1,800 and gpt-4o@seed-000 = $750 at 100M', async () => {
    const {json} = await planJson(
      '--throughput',
      '25',
      '--gpu',
      'a100-80gb-sxm',
      '--pricing',
      'spot',
      '--hours-per-month',
      '720',
      '--volume',
      '100M',
      '--api',
      'gpt-4o@seed-000',
    )
    expect(json.replicaMonthlyCost).toBe(1800)
    expect(json.apis[0]).toMatchObject({id: 'gpt-4o', variant: 'seed-000', blendedPerMTok: 7.5, monthlyCost: 750})
    expect(json.apis[0].crossover.volumeTokensPerMonth).toBeNull()
  })

  it('without --model: the closed APIs (no twin to find); --compare all: every API profile not retired', async () => {
    const store = await loadProfiles()
    const {json} = await planJson('--throughput', '25', '--gpu-price', '2.5')
    const closed = store.list('api').filter((a) => !a.openWeights && a.retired === undefined)
    expect((json.apis as {id: string}[]).map((a) => a.id)).toEqual(closed.map((a) => a.id))
    expect(closed.length).toBeGreaterThan(2)
    expect(json.replicas).toBeNull() // no volume, no fleet
    const all = await planJson('--throughput', '25', '--gpu-price', '2.5', '--compare', 'all')
    const live = store.list('api').filter((a) => a.retired === undefined)
    expect((all.json.apis as {id: string}[]).map((a) => a.id)).toEqual(live.map((a) => a.id))
    expect(live.length).toBe(store.list('api').length - 3) // claude-3.5-sonnet, mistral-mixtral-8x7b and moonshot-kimi-k2 are retired
  })

  it('a user profile (CAPPLAN_PROFILES) overrides an API price by id', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-plan-'))
    try {
      mkdirSync(path.join(dir, 'apis'))
      writeFileSync(
        path.join(dir, 'apis', 'gpt-4o.yaml'),
        [
          'kind: api',
          'id: gpt-4o',
          'name: GPT-4o (negotiated)',
          'provider: OpenAI',
          'openWeights: false',
          'price: {inputPerMTok: 1, outputPerMTok: 4, source: test contract, date: 2026-11}',
        ].join('\n'),
      )
      const result = await capplanWithEnv({CAPPLAN_PROFILES: dir}, '--throughput', '25', '--gpu-price', '2.5', '--volume', '100M', '--api', 'gpt-4o', '--json')
      expect(result.exitCode).toBe(0)
      const api = JSON.parse(result.stdout).apis[0]
      expect(api).toMatchObject({name: 'GPT-4o (negotiated)', blendedPerMTok: 2.5, monthlyCost: 250}) // (1 + 4) / 2 x 100
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('energy with --kwh-price defaults power to the GPU TDP: 400 W x 720 h / 1000 x $0.10 = $28.80', async () => {
    const {json} = await planJson('--throughput', '25', '--gpu', 'a100-80gb-sxm', '--pricing', 'spot', '--hours-per-month', '720', '--kwh-price', '0.1', '--api', 'gpt-4o')
    expect(json.energy).toMatchObject({powerWattsPerGpu: 400, pue: 1, usdPerKwh: 0.1})
    expect(json.energy.monthlyCostPerReplica).toBeCloseTo(28.8, 9)
  })
})

// Every other bad flag value is covered, faster, by test/unit/cli/flags/plan.test.ts (values) and test/unit/services/plan/options.test.ts (rules).
describe('capplan plan: bad input keeps its exit code under --json', () => {
  const base = {throughput: '25', 'gpu-price': '2.5', volume: '100M', api: 'gpt-4o'}
  it.each([
    [{volume: '10X'}, '--volume "10X" is not a token count'],
    [{'gpu-price': '-2.5'}, '--gpu-price must be more than 0'],
    [{throughput: '0'}, '--throughput must be more than 0'],
    [{gpu: 'h100-sxm'}, '--gpu-price and --gpu cannot be used together'],
  ])('%j -> exit 3 INVALID_INPUT naming the flag', async (override, message) => {
    const flags: Record<string, string> = {...base, ...override}
    const {exitCode, json} = await planJson(...Object.entries(flags).map(([name, value]) => `--${name}=${value}`))
    expect(exitCode).toBe(3)
    expect(json.error.kind).toBe('INVALID_INPUT')
    expect(json.error.message).toContain(message)
    expect(json.error.suggestion).toMatch(/--[a-z-]+[ =]\S+/) // shows a valid flag value
  })

  it('no GPU price at all -> exit 3 with an example', async () => {
    const {exitCode, json} = await planJson('--throughput', '25')
    expect(exitCode).toBe(3)
    expect(json.error.message).toBe('No GPU price given.')
    expect(json.error.suggestion).toContain('--gpu-price 2.5')
  })

  it('unknown API id -> exit 4 NOT_FOUND with the closest ids', async () => {
    const {exitCode, json} = await planJson('--throughput', '25', '--gpu-price', '2.5', '--api', 'gpt-4')
    expect(exitCode).toBe(4)
    expect(json.error.kind).toBe('NOT_FOUND')
    expect(json.error.message).toContain('gpt-4o')
  })

  it('unknown GPU id -> exit 4', async () => {
    const {exitCode, json} = await planJson('--throughput', '25', '--gpu', 'h100', '--api', 'gpt-4o')
    expect(exitCode).toBe(4)
    expect(json.error.message).toContain('h100-sxm')
  })

  it('without --json: exit 3 and the message on stderr', async () => {
    const {exitCode, stderr, stdout} = await capplan('--throughput', '25', '--gpu-price', '2.5', '--volume', '10X')
    expect(exitCode).toBe(3)
    expect(stderr).toContain('--volume "10X" is not a token count.')
    expect(stdout).toBe('')
  })
})
