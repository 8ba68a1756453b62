import {describe, expect, it} from 'vitest'

import {capplan, capplanInProcess} from '../helpers/cli.js'

/**
 * Most command tests run in-process (capplanInProcess); these run the real `node bin/run.js` so the exit codes
 * and the printed errors of a real process stay covered, and show that both runners agree.
 */
describe('capplan as a real process', () => {
  it.each([
    {what: 'an oclif usage error', args: ['profiles', 'show', 'h100-sxm', '--kind', 'tpu'], exitCode: 2},
    {what: 'a capplan error as text', args: ['bench', '--engine', 'openai'], exitCode: 3},
    {what: 'a capplan error under --json', args: ['bench', '--engine', 'openai', '--json'], exitCode: 3},
    {what: 'a success', args: ['estimate', '--model', 'qwen2.5-72b', '--quant', 'int4', '--gpu', 'h100-sxm', '--json'], exitCode: 0},
  ])('$what: exit $exitCode, the same stdout and stderr as in-process', async ({args, exitCode}) => {
    const env = {CAPPLAN_CACHE_DIR: '/nonexistent/capplan-cache'}
    const inProcess = await capplanInProcess(args, {env})
    const real = await capplan(args, env)
    expect(real.exitCode).toBe(exitCode)
    expect(inProcess).toEqual({exitCode: real.exitCode, stdout: real.stdout, stderr: real.stderr})
  })
})
