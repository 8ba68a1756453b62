import {Args} from '@oclif/core'

import {CapplanCommand} from '../../cli/base-command.js'
import {notFound} from '../../lib/errors.js'
import {builtinProfilesDir, scanProfileDir, throwIfProblems, type ProfileDirScan} from '../../profiles/files.js'

export interface ValidatedFile {
  file: string
  ok: boolean
  problems: number
}

export interface ValidateResult {
  valid: true
  directories: string[]
  files: ValidatedFile[]
}

export default class ProfilesValidate extends CapplanCommand<typeof ProfilesValidate> {
  static override summary = 'Check every profile file in a directory and report all problems at once.'

  static override description =
    'Without DIR: the built-in profiles and the --profiles directory (CAPPLAN_PROFILES). A directory holds ' +
    'gpus/, models/, apis/, workloads/ (one YAML profile per file) and may also hold profile files at its top ' +
    'level. Exits 5 (INVALID_PROFILE) when any file is invalid, naming each file, line and field.'

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> ./my-profiles',
    '<%= config.bin %> <%= command.id %> ./my-profiles --json',
  ]

  static override args = {
    dir: Args.directory({description: 'Directory of profiles to validate (default: built-ins + --profiles).'}),
  }

  public async run(): Promise<ValidateResult> {
    const scans: ProfileDirScan[] = []
    if (this.args.dir === undefined) {
      scans.push(scanProfileDir(builtinProfilesDir(), 'builtin'))
      if (this.flags.profiles) scans.push(scanProfileDir(this.flags.profiles, 'user'))
    } else {
      scans.push(scanProfileDir(this.args.dir, 'user'))
    }
    const fileCount = scans.reduce((n, scan) => n + scan.files.length, 0)
    if (fileCount === 0) {
      throw notFound(
        `No profile files (*.yaml, *.yml) in ${scans.map((scan) => scan.dir).join(', ')}.`,
        'Put one profile per file under gpus/, models/, apis/ or workloads/ (see profiles/ in capplan for examples).',
      )
    }
    const problems = scans.flatMap((scan) => scan.problems)
    const files = scans.flatMap((scan) =>
      scan.files.map((file) => {
        const count = problems.filter((p) => p.file === file).length
        return {file, ok: count === 0, problems: count}
      }),
    )
    if (!this.jsonEnabled()) {
      for (const f of files) this.log(f.ok ? `OK    ${f.file}` : `FAIL  ${f.file} (${f.problems} problem${f.problems === 1 ? '' : 's'})`)
    }
    throwIfProblems(problems)
    this.info(`${files.length} profile file${files.length === 1 ? '' : 's'} valid.`)
    return {valid: true, directories: scans.map((scan) => scan.dir), files}
  }
}
