import {Args} from '@oclif/core'

import {CapplanCommand} from '../../cli/base-command.js'
import {renderValidatedFiles, validateProfiles, validSummary, type ValidateResult} from '../../services/profiles/profiles.js'

export type {ValidatedFile, ValidateResult} from '../../services/profiles/profiles.js'

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
    const result = validateProfiles(this.args.dir, this.flags.profiles, (files) => {
      if (!this.jsonEnabled()) for (const line of renderValidatedFiles(files)) this.log(line)
    })
    this.info(validSummary(result))
    return result
  }
}
