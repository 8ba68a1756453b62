import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {capplanInProcess, peers} from '../helpers/cli.js'

describe('capplan import', () => {
  it('writes a capplan result file from the llama-bench fixture and never overwrites it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-import-'))
    const out = path.join(dir, 'lb.json')
    const run = await capplanInProcess(['import', path.join(peers, 'llama_bench.json'), '--out', out, '--gpus', '0', '--json'])
    expect(run.exitCode).toBe(0)
    const written = JSON.parse(readFileSync(out, 'utf8'))
    expect(written.schemaVersion).toBe(3)
    expect(written.notes[0]).toMatch(/^imported from llama-bench/)
    expect(written.notes.at(-1)).toBe('set by capplan import: --gpus 0')
    // the written file reads back through report like any capplan file
    const report = await capplanInProcess(['report', out, '--json', '--api', 'gpt-4o'])
    expect(report.exitCode).toBe(0)
    expect(JSON.parse(report.stdout).results[0].importedFrom).toBe('llama-bench')
    const again = await capplanInProcess(['import', path.join(peers, 'llama_bench.json'), '--out', out])
    expect(again.exitCode).toBe(3)
    expect(again.stderr).toContain('already exists')
  })

  it('refuses an unrecognized file naming it (exit 6)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-import-bad-'))
    const odd = path.join(dir, 'odd.json')
    writeFileSync(odd, '{"hello": "world"}')
    const run = await capplanInProcess(['import', odd, '--json'])
    expect(run.exitCode).toBe(6)
    expect(JSON.parse(run.stdout).error.message).toContain(`${odd} looks like a JSON object with fields "hello" that matches no benchmark tool capplan knows`)
  })

  it('writes one file per SGLang workload (-2 for the second) from the real bench_serving JSONL', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-import-sglang-'))
    const out = path.join(dir, 'sg.json')
    const run = await capplanInProcess(['import', path.join(peers, 'sglang_bench_serving_llama70b_h200.jsonl'), '--out', out, '--model', 'llama-3.1-70b', '--json'])
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(run.stdout).written.map((w: {path: string; levels: number}) => [path.basename(w.path), w.levels])).toEqual([
      ['sg.json', 5],
      ['sg-2.json', 2],
    ])
    expect(JSON.parse(readFileSync(path.join(dir, 'sg-2.json'), 'utf8')).notes[0]).toMatch(/^imported from sglang: .*dataset sharegpt/)
  })

  it('a K-quant llama-bench run is costed at its real weight size: report does not flag it ABOVE-CEILING', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-import-kq-'))
    const out = path.join(dir, 'kq.json')
    const run = await capplanInProcess(['import', path.join(peers, 'llama_bench_b5163_q4_k_m_cuda.json'), '--out', out, '--gpu', 'rtx-4090', '--json'])
    expect(run.exitCode).toBe(0)
    const report = await capplanInProcess(['report', out, '--json', '--api', 'gpt-4o'])
    expect(report.exitCode).toBe(0)
    // 128 / (0.072 + 1.077 s) = 111.4 tok/s: within the Q4_K_M (4.85 bits/weight) ceiling; read as fp16 (before) it was flagged impossible
    const text = JSON.stringify(JSON.parse(report.stdout))
    expect(text).toContain('"verdict":"ok"')
    expect(text).not.toContain('above-ceiling')
    expect(text).toMatch(/111 tok\/s is \d+% of the \d+ tok\/s ceiling/)
    expect(JSON.parse(readFileSync(out, 'utf8')).model).toMatchObject({quant: 'int4', format: 'Q4_K_M'})
  })

  it('a real 2024 vLLM benchmark_serving.py file imports and reports: 227 tok/s at concurrency 10 on an A100 is within the fp16 8B ceiling', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-import-vllm24-'))
    const out = path.join(dir, 'v.json')
    const file = path.join(peers, 'vllm_2024-09_benchmark_serving_llama3_8b_a100.json')
    const run = await capplanInProcess(['import', file, '--out', out, '--gpu', 'a100-80gb-sxm', '--model', 'llama-3.1-8b', '--json'])
    expect(run.exitCode).toBe(0)
    const report = await capplanInProcess(['report', out, '--json', '--api', 'gpt-4o'])
    expect(report.exitCode).toBe(0)
    const text = JSON.stringify(JSON.parse(report.stdout))
    // the model's bf16 weights are fp16-sized: 8B x 2 bytes, 2039 GB/s -> a ceiling the measured 227 tok/s is well under
    expect(text).not.toContain('above-ceiling')
    expect(text).toMatch(/227 tok\/s is \d+% of the \d+ tok\/s ceiling/)
    expect(JSON.parse(readFileSync(out, 'utf8')).model).toMatchObject({quant: 'fp16', profile: 'llama-3.1-8b'})
  })

  it('a real vLLM 0.25.1 run where every request failed imports as failed; report names no operating point and exits 0', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-import-vllmfail-'))
    const out = path.join(dir, 'f.json')
    const run = await capplanInProcess(['import', path.join(peers, 'vllm_0.25.1_bench_serve_all_failed_opt125m.json'), '--out', out, '--json'])
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(readFileSync(out, 'utf8')).status).toBe('failed')
    const report = await capplanInProcess(['report', out, '--api', 'gpt-4o'])
    expect(report.exitCode).toBe(0)
    expect(report.stdout).toContain('Operating point: none. The result has no successful level.')
    expect(report.stdout).toContain('0/8')
  })
})
