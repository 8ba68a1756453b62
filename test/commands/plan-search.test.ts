import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {capplanInProcess, peers} from '../helpers/cli.js'

// `capplan plan --model`: the built CLI as a user runs it (exit codes and stdout are the real ones).
const root = fileURLToPath(new URL('../..', import.meta.url))
const plan = (...args: string[]) => capplanInProcess(['plan', ...args], {cwd: root, env: {CAPPLAN_PROFILES: undefined}})

// The example command.
const example = [
  '--model',
  'llama-3.1-70b',
  '--workload',
  'chat',
  '--daily-volume',
  '500M',
  '--slo',
  'ttft=1s,tpot=40ms',
  '--traffic',
  'diurnal:3',
  '--gpus-available',
  'h100-sxm,h200,l40s',
  '--max-gpus',
  '16',
  '--pricing',
  'on-demand,reserved,owned',
]

let dir: string
beforeAll(async () => {
  if (!existsSync(new URL('../../dist/commands/plan.js', import.meta.url))) throw new Error('dist/commands/plan.js is missing: run `npm run build` first (npm test does).')
  dir = mkdtempSync(path.join(tmpdir(), 'capplan-plan-search-'))
  const imported = await capplanInProcess(
    [
      'import',
      path.join(peers, 'sglang_bench_serving_llama70b_h200.jsonl'),
      '--model',
      'llama-3.1-70b',
      '--gpu',
      'h200',
      '--gpus',
      '8',
      '--out',
      path.join(dir, 'sglang.json'),
    ],
    {cwd: root},
  )
  expect(imported.exitCode).toBe(0)
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('capplan plan --model (the issue example)', () => {
  it('prints the ranked table with source labels and ranges, the hosted twin and closed APIs, and why', async () => {
    const {exitCode, stdout} = await plan(...example)
    expect(exitCode).toBe(0)
    expect(stdout).toContain('Deployments of Llama 3.1 70B Instruct (llama-3.1-70b) for workload chat')
    expect(stdout).toMatch(/│ +1 │ \d+x [a-z0-9-]+ +│ int\d|fp16/)
    expect(stdout).toMatch(/│ ESTIMATED │/)
    expect(stdout).toMatch(/│ \d+-\d+ +│/) // the estimate's tok/s range under its label
    for (const line of stdout.split('\n').filter((l) => l.startsWith('│') || l.startsWith('┌'))) expect(line.length).toBeLessThanOrEqual(120)
    expect(stdout).toContain('hosted twin')
    expect(stdout).toContain('closed API')
    expect(stdout).toMatch(/Why:\n {2}.* wins at \$[\d,.]+\/month/)
    expect(stdout).toMatch(/Pruned: .*--show-pruned lists each with its reason/)
  })

  it('--json carries every candidate with its source and inputs; --show-pruned lists the refused ones', async () => {
    const {exitCode, stdout} = await plan(...example, '--json')
    expect(exitCode).toBe(0)
    const json = JSON.parse(stdout) as {ranked: {source: string; throughput: {basis: string}; rank: number}[]; pruned: {reason: string}[]; space: {pricing: string[]}}
    expect(json.ranked.length).toBeGreaterThan(15)
    expect(json.ranked[0]!.rank).toBe(1)
    for (const c of json.ranked) expect(c.throughput.basis).not.toBe('')
    expect(json.space.pricing).toEqual(['on-demand', 'reserved', 'owned'])
    expect(new Set(json.pruned.map((p) => p.reason))).toEqual(new Set(['invalid-tp', 'slo-unreachable', 'does-not-fit', 'no-price', 'beaten']))
    const shown = await plan(...example, '--show-pruned')
    expect(shown.stdout).toMatch(/│ pruned +│ why/)
    expect(shown.stdout).toContain('invalid-tp')
    expect(shown.stdout).toMatch(/TP 3 does not/)
    expect(
      json.pruned.some((p) => p.reason === 'invalid-tp' && (p as {detail?: string}).detail === 'TP 3 does not divide 64 attention heads; searched as TP x PP layouts instead'),
    ).toBe(true)
  })

  it('--results with an imported SGLang run makes that deployment MEASURED', async () => {
    const {exitCode, stdout} = await plan(
      '--model',
      'llama-3.1-70b',
      '--daily-volume',
      '500M',
      '--slo',
      'ttft=1s,tpot=40ms',
      '--gpus-available',
      'h200',
      '--results',
      dir,
      '--json',
    )
    expect(exitCode).toBe(0)
    const json = JSON.parse(stdout) as {ranked: {key: string; source: string}[]}
    expect(json.ranked.filter((c) => c.source === 'MEASURED').map((c) => c.key)).toEqual(['8xh200 TP8xPP1 fp16 sglang on-demand'])
  })

  it('--format md, csv and html', async () => {
    const md = await plan(...example, '--format', 'md')
    expect(md.stdout).toMatch(/^# Deployment search: Llama 3.1 70B Instruct/)
    expect(md.stdout).toContain('| # | GPUs TP x PP | quant engine | pricing | source |')
    const csv = await plan(...example, '--format', 'csv')
    expect(csv.stdout.split('\n')[0]).toMatch(/^rank,status,gpu,gpus,tp,pp,quant,format,engine,pricing,source,output_tok_s,/)
    expect(csv.stdout).toMatch(/\n1,ranked,/)
    const html = await plan(...example, '--format', 'html')
    expect(html.stdout).toContain('<h2>Pareto frontier</h2>')
    expect((html.stdout.match(/<svg /g) ?? []).length).toBe(2)
    expect(html.stdout).toMatch(/<text [^>]*>ESTIMATED: \d+xh/)
  })

  it('bad input: exit 3 with one message naming the flag; an unknown model is exit 4', async () => {
    const pricing = await plan('--model', 'llama-3.1-70b', '--daily-volume', '500M', '--pricing', 'on-demand,lease')
    expect(pricing.exitCode).toBe(3)
    expect(pricing.stderr).toContain('--pricing: "lease" is not a pricing tier.')
    const volume = await plan('--model', 'llama-3.1-70b')
    expect(volume.exitCode).toBe(3)
    expect(volume.stderr).toContain('--model needs a volume to size the fleet.')
    const model = await plan('--model', 'llama-9', '--daily-volume', '500M')
    expect(model.exitCode).toBe(4)
    expect(model.stderr).toContain('Unknown model profile "llama-9"')
    const tiers = await plan('--throughput', '25', '--gpu', 'h100-sxm', '--pricing', 'spot,reserved', '--volume', '100M')
    expect(tiers.exitCode).toBe(3)
    expect(tiers.stderr).toContain('--pricing spot,reserved: with --throughput, plan takes one')
    const searchOnly = await plan('--throughput', '25', '--gpu', 'h100-sxm', '--model', 'llama-3.1-70b', '--slo', 'tpot=40ms', '--volume', '100M')
    expect(searchOnly.exitCode).toBe(3)
    expect(searchOnly.stderr).toContain('--slo belongs to the deployment search')
    const format = await plan('--model', 'llama-3.1-70b', '--daily-volume', '500M', '--format', 'AWQ')
    expect(format.exitCode).toBe(3)
    expect(format.stderr).toContain('--format "AWQ" is not an output format of the search.')
  })

  it('--model WITH --throughput is plan as before: one configuration of that model, its twins and quant loss', async () => {
    const {exitCode, stdout} = await plan(
      '--throughput',
      '2500',
      '--gpus',
      '2',
      '--gpu',
      'h100-sxm',
      '--model',
      'llama-3.1-70b',
      '--quant',
      'int4',
      '--format',
      'AWQ',
      '--daily-volume',
      '500M',
      '--json',
    )
    expect(exitCode).toBe(0)
    const json = JSON.parse(stdout) as Record<string, unknown>
    expect(json).not.toHaveProperty('ranked')
    expect(json).toHaveProperty('selfHostedMonthlyCost')
  })
})
