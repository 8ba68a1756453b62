import {mkdtempSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {execa} from 'execa'
import {beforeAll, describe, expect, it} from 'vitest'

import {capplan, repo} from '../helpers/cli.js'

/**
 * A BUG (an error neither capplan's nor oclif's) as a user meets it: one line, exit 1, the stack only under
 * --debug. No capplan command has a known bug to trigger, so a one-file CLI runs a CapplanCommand (the built
 * base command, dist/cli/base-command.js) whose run() makes the TypeError capplan code can make, through
 * oclif's own run + handle (what bin/run.js's execute does). Real commands check oclif's exit 2 and a domain code.
 */
let script: string
beforeAll(() => {
  const oclif = createRequire(path.join(repo, 'package.json')).resolve('@oclif/core')
  script = path.join(mkdtempSync(path.join(tmpdir(), 'capplan-bug-')), 'boom.mjs')
  writeFileSync(
    script,
    [
      `const {Config, handle} = await import(${JSON.stringify(pathToFileURL(oclif).href)})`,
      `const {CapplanCommand} = await import(${JSON.stringify(pathToFileURL(path.join(repo, 'dist/cli/base-command.js')).href)})`,
      'class Boom extends CapplanCommand {',
      "  static id = 'boom'",
      '  async run() { return [].reduce((a, b) => a + b) }',
      '}',
      `const config = await Config.load(${JSON.stringify(repo)})`,
      'try { await Boom.run(process.argv.slice(2), config) } catch (error) { await handle(error) }',
      '',
    ].join('\n'),
  )
})
const boom = (args: string[], env: Record<string, string> = {}) => execa('node', [script, ...args], {reject: false, env: {...env, CAPPLAN_DEBUG: env['CAPPLAN_DEBUG'] ?? ''}})

const line = 'capplan hit a bug: TypeError: Reduce of empty array with no initial value (run again with --debug for the stack; please report it)'

describe('an unexpected error in a command is a BUG: exit 1, one line', () => {
  it('without --json: the line on stderr, no stack, nothing on stdout', async () => {
    const run = await boom([])
    expect(run.exitCode).toBe(1)
    expect(run.stderr).toBe(line)
    expect(run.stdout).toBe('')
  })

  it('--debug (or CAPPLAN_DEBUG=1) adds the stack after the line', async () => {
    for (const run of [await boom(['--debug']), await boom([], {CAPPLAN_DEBUG: '1'})]) {
      expect(run.exitCode).toBe(1)
      const [first, ...stack] = run.stderr.split('\n')
      expect(first).toBe(line)
      expect(stack[0]).toBe('TypeError: Reduce of empty array with no initial value')
      expect(stack.join('\n')).toMatch(/^\s+at .*Boom\.run/m)
    }
  })

  it('--json: the error object on stdout, exit 1; the stack on stderr only with --debug', async () => {
    const run = await boom(['--json'])
    expect(run.exitCode).toBe(1)
    expect(JSON.parse(run.stdout)).toEqual({
      error: {
        kind: 'BUG',
        exitCode: 1,
        message: 'capplan hit a bug: TypeError: Reduce of empty array with no initial value',
        suggestion: 'Run again with --debug for the stack, and please report it with the command you ran.',
      },
    })
    expect(run.stderr).toBe('')
    const debug = await boom(['--json', '--debug'])
    expect(debug.exitCode).toBe(1)
    expect(JSON.parse(debug.stdout).error.kind).toBe('BUG')
    expect(debug.stderr).toMatch(/^TypeError: Reduce of empty array with no initial value\n\s+at /)
  })
})

describe('what is not a bug keeps its exit code', () => {
  it("oclif's own parse errors: exit 2 (also under --json and --debug)", async () => {
    const run = await capplan(['report', '--no-such-flag'])
    expect(run.exitCode).toBe(2)
    expect(run.stderr).not.toContain('capplan hit a bug')
    const json = await capplan(['report', '--no-such-flag', '--json', '--debug'])
    expect(json.exitCode).toBe(2)
    expect(JSON.parse(json.stdout).error).toMatchObject({kind: 'USAGE', exitCode: 2})
  })

  it('a domain error: its own code (NOT_FOUND, 4), --debug accepted by every command', async () => {
    const run = await capplan(['report', path.join(tmpdir(), 'capplan-no-such-dir'), '--debug', '--json'])
    expect(run.exitCode).toBe(4)
    expect(JSON.parse(run.stdout).error.kind).toBe('NOT_FOUND')
  })
})
