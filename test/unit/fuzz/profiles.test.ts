import {mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {MAX_PROFILE_FILE_BYTES, parseProfileText, type ProfileProblem, readProfileFile, scanProfileDir} from '../../../src/profiles/files.js'
import {type ProfileKind, profileKinds, profileSchemas} from '../../../src/profiles/schema.js'
import {applyMutation, byteMutation, fixtureFiles, fuzzOptions} from './fuzz-helpers.js'

/**
 * Issue 7 §3, profiles: parseProfileText (what readProfileFile does once the file is read) and scanProfileDir fed
 * YAML-ish text and the real profiles cut short or with one byte changed. Either a profile the schema accepts,
 * or problems that name the file and say where (line, or field): never a throw.
 */

const realProfiles = fixtureFiles('profiles', /\.ya?ml$/)
const FILE = 'profiles-under-test/gpus/x.yaml'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-fuzz-profiles-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const folderKindOf = (name: string): ProfileKind | undefined => profileKinds.find((kind) => name.includes(`/${kind}s/`))

function expectProfileOrLocatedProblems(result: ReturnType<typeof parseProfileText>, file: string): void {
  if (result.profile !== undefined) {
    expect(result.problems).toEqual([])
    expect(profileSchemas[result.profile.kind].safeParse(result.profile.profile).success).toBe(true)
    return
  }
  expect(result.problems.length).toBeGreaterThan(0)
  for (const problem of result.problems as ProfileProblem[]) {
    expect(problem.file).toBe(file)
    expect(problem.line !== undefined || problem.field !== undefined).toBe(true)
    if (problem.line !== undefined) expect(problem.line).toBeGreaterThanOrEqual(1)
    expect(problem.message.length).toBeGreaterThan(0)
  }
}

/** Pieces of YAML that reach the parser's and the validator's corners: anchors, aliases, tags, flow, specials. */
const yamlSoup = fc.array(
  fc.oneof(
    fc.constantFrom(
      'kind: ',
      'gpu',
      'model',
      'api',
      'workload',
      'id: ',
      'name: ',
      'x',
      '\n',
      '\n  ',
      '  ',
      '- ',
      ': ',
      ':',
      '"',
      "'",
      '[',
      ']',
      '{',
      '}',
      ',',
      '&a ',
      '*a',
      '&b ',
      '*b',
      '<<: *a',
      '!!binary ',
      '!!str ',
      '!!int ',
      '!!map ',
      '!!set ',
      '!custom ',
      '? ',
      '---\n',
      '...\n',
      '%YAML 1.1\n',
      '# c',
      'null',
      '~',
      '.inf',
      '-.inf',
      '.nan',
      '1e309',
      '0x1F',
      '0o17',
      '2026-11-22',
      'true',
      '|\n  ',
      '>\n  ',
      '\t',
      '\uFEFF',
      '\r\n',
      'prices:\n  spot:\n    usdPerHour: ',
      'vramGiB: ',
    ),
    fc.string({unit: 'binary', maxLength: 8}),
  ),
  {maxLength: 30},
)

describe('parseProfileText on hostile input', () => {
  it('arbitrary text and YAML soup (anchors, aliases, tags, flow collections, .inf/.nan)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({unit: 'binary', maxLength: 200}),
          yamlSoup.map((parts) => parts.join('')),
        ),
        fc.constantFrom<ProfileKind | undefined>(undefined, 'gpu'),
        (text, folderKind) => {
          expectProfileOrLocatedProblems(parseProfileText(text, FILE, folderKind, 'user'), FILE)
        },
      ),
      fuzzOptions(400),
    )
  })

  it('every real profile, cut short or with one byte changed', () => {
    for (const [name, bytes] of realProfiles) {
      // The real file itself is valid.
      expect(parseProfileText(bytes.toString('utf8'), name, folderKindOf(name), 'builtin').problems).toEqual([])
    }
    fc.assert(
      fc.property(
        fc.constantFrom(...realProfiles).chain(([name, bytes]) => fc.tuple(fc.constant(name), fc.constant(bytes), byteMutation(bytes.length))),
        ([name, bytes, mutation]) => {
          const text = applyMutation(bytes, mutation).toString('utf8')
          expectProfileOrLocatedProblems(parseProfileText(text, name, folderKindOf(name), 'builtin'), name)
        },
      ),
      fuzzOptions(400),
    )
  })

  it('regression (found by the soup property): an alias without its anchor is a problem at the alias (was a ReferenceError)', () => {
    const {problems} = parseProfileText('kind: gpu\nid: *a\n', FILE, undefined, 'user')
    expect(problems).toEqual([{file: FILE, line: 2, column: 5, message: 'malformed YAML: Unresolved alias (the anchor must be set before the alias): a'}])
  })

  it('regression (found reading the code for the soup): a self-referencing alias as kind (JSON.stringify threw a TypeError)', () => {
    // kind: &a [*a] is a list that contains itself; the message named the value with JSON.stringify.
    const {problems} = parseProfileText('kind: &a [*a]\nid: x\n', FILE, undefined, 'user')
    // Column 10: the flow list after the anchor.
    expect(problems).toEqual([{file: FILE, field: 'kind', line: 1, column: 10, message: 'must be one of gpu, model, api, workload, quant-loss, calibration (got a list)'}])
  })

  it('regression (found reading the code for the soup): an alias bomb is a located problem (was a ReferenceError)', () => {
    // Each level doubles the aliases: 2^12 copies of "x" if expanded; the yaml library refuses past 100 aliases.
    const lines = ['a0: &a0 [x, x]', ...Array.from({length: 12}, (_, i) => `a${i + 1}: &a${i + 1} [*a${i}, *a${i}]`), 'kind: gpu']
    const {profile, problems} = parseProfileText(lines.join('\n'), FILE, undefined, 'user')
    expect(profile).toBeUndefined()
    expect(problems).toHaveLength(1)
    // At the first alias: "a1: &a1 [*a0", line 2, column 10.
    expect(problems[0]).toEqual({file: FILE, line: 2, column: 10, message: 'malformed YAML: Excessive alias count indicates a resource exhaustion attack'})
  })
})

describe('readProfileFile / scanProfileDir on the disk', () => {
  it('refuses a file over 1 MiB before reading it (sparse file: no disk used)', () => {
    const gpus = path.join(dir, 'big', 'gpus')
    mkdirSync(gpus, {recursive: true})
    const file = path.join(gpus, 'huge.yaml')
    writeFileSync(file, '')
    truncateSync(file, MAX_PROFILE_FILE_BYTES + 1)
    // Read, its NUL bytes would be "malformed YAML": the message shows the size check came first.
    expect(readProfileFile(file, 'gpu', 'user').problems).toEqual([{file, message: `file is ${MAX_PROFILE_FILE_BYTES + 1} bytes; a profile file may be at most 1 MiB`}])
    const scan = scanProfileDir(path.join(dir, 'big'), 'user')
    expect(scan.profiles).toEqual([])
    expect(scan.problems.map((problem) => problem.file)).toEqual([file])
  })

  it('a directory of mutated profiles: every file is either loaded or has its problems, nothing thrown', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom(...realProfiles).chain(([name, bytes]) =>
            fc.tuple(
              fc.constant(name),
              byteMutation(bytes.length).map((m) => applyMutation(bytes, m)),
            ),
          ),
          {minLength: 1, maxLength: 4},
        ),
        (files) => {
          const root = mkdtempSync(path.join(dir, 'scan-'))
          const written: string[] = []
          for (const [index, [name, bytes]] of files.entries()) {
            const folder = path.join(root, path.basename(path.dirname(name)))
            mkdirSync(folder, {recursive: true})
            const target = path.join(folder, `${index}-${path.basename(name)}`)
            writeFileSync(target, bytes)
            written.push(target)
          }
          const scan = scanProfileDir(root, 'user')
          expect(scan.files.sort()).toEqual(written.sort())
          for (const file of written) {
            const loaded = scan.profiles.some((profile) => profile.file === file)
            const problems = scan.problems.filter((problem) => problem.file === file)
            // A valid file whose id repeats another's is loaded once and reported as a duplicate.
            expect(loaded || problems.length > 0).toBe(true)
          }
        },
      ),
      fuzzOptions(40),
    )
  })
})
