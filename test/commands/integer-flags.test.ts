import {describe, expect, it} from 'vitest'

import {capplanInProcess} from '../helpers/cli.js'

// One rule for every whole-number flag in every command: zero, a negative or a fraction is INVALID_INPUT
// (exit 3, README's exit codes) naming the flag and its range. oclif's own Flags.integer gave exit 2
// ("Expected an integer greater than or equal to 1"), other commands' own checks gave 3.
const cases: {args: string[]; flag: string; message: RegExp}[] = [
  {args: ['bench', '--requests', '0'], flag: '--requests', message: /--requests must be a whole number from 1 to 100000 \(got "0"\)/},
  {args: ['bench', '--threads', '-2'], flag: '--threads', message: /--threads must be a whole number from 1 to 1024 \(got "-2"\)/},
  {args: ['bench', '--input-tokens', '1.5'], flag: '--input-tokens', message: /--input-tokens "1.5" is not a whole number/},
  {args: ['estimate', '--model', 'qwen2.5-72b', '--quant', 'int4', '--gpus', '0'], flag: '--gpus', message: /--gpus must be a whole number from 1 to 256/},
  {args: ['model', 'synth', '--seed', '-1', '-o', 'never-written.gguf'], flag: '--seed', message: /--seed must be a whole number from 0 to 4294967295/},
  {args: ['engine', 'build', '--jobs', '0'], flag: '--jobs', message: /--jobs must be a whole number of at least 1/},
  {args: ['import', 'x.json', '--gpus', '-1'], flag: '--gpus', message: /--gpus must be a whole number from 0 to 1024/},
  // Number flags that are not integers follow the same exit code.
  {args: ['plan', '--gpus', '0'], flag: '--gpus', message: /--gpus must be more than 0/},
]

describe('zero, negative and fractional counts', () => {
  it.each(cases)('capplan $args.0 $flag: exit 3 INVALID_INPUT naming the flag (--json error object)', async ({args, message}) => {
    const run = await capplanInProcess([...args, '--json'])
    expect(run.exitCode).toBe(3)
    const error = (JSON.parse(run.stdout) as {error: {kind: string; exitCode: number; message: string}}).error
    expect(error.kind).toBe('INVALID_INPUT')
    expect(error.exitCode).toBe(3)
    expect(error.message).toMatch(message)
  })
})
