import {Args} from '@oclif/core'

import {CapplanCommand} from '../../cli/base-command.js'
import {profileKindFlag} from '../../cli/flags/choices.js'
import {type ProfileListing, renderProfile, showProfile} from '../../services/profiles/profiles.js'

export default class ProfilesShow extends CapplanCommand<typeof ProfilesShow> {
  static override summary = 'Show one profile in full (every field, with its sources).'

  static override description =
    'Looks the id up in every kind; an id used by two kinds (e.g. deepseek-v3 is a model and an API) needs --kind. ' +
    'An unknown id lists the closest ids.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> h100-sxm',
    '<%= config.bin %> <%= command.id %> deepseek-v3 --kind api',
    '<%= config.bin %> <%= command.id %> qwen2.5-0.5b --json',
  ]

  static override args = {
    id: Args.string({description: 'Profile id (see `capplan profiles list`).', required: true}),
  }

  static override flags = {
    kind: profileKindFlag({description: 'Kind of the profile, when the id is used by more than one.'}),
  }

  public async run(): Promise<ProfileListing> {
    const listing = await showProfile(this.flags.profiles, this.args.id, this.flags.kind)
    if (!this.jsonEnabled()) for (const line of renderProfile(listing)) this.log(line)
    return listing
  }
}
