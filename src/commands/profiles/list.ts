import {CapplanCommand} from '../../cli/base-command.js'
import {profileKindFlag} from '../../cli/flags/choices.js'
import {listProfiles, type ProfileListing} from '../../services/profiles/profiles.js'

export default class ProfilesList extends CapplanCommand<typeof ProfilesList> {
  static override summary = 'List GPU, model, API and workload profiles with their key facts.'

  static override description =
    'Built-in profiles plus those in --profiles DIR (or CAPPLAN_PROFILES), which override built-ins by id. ' +
    'User profiles are marked "(user)". With --json: an array of {kind, id, source: {origin, file}, profile}.'

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --kind gpu',
    '<%= config.bin %> <%= command.id %> --kind api --json',
    '<%= config.bin %> <%= command.id %> --profiles ./my-profiles',
  ]

  static override flags = {
    kind: profileKindFlag({description: 'Only this kind of profile.'}),
  }

  public async run(): Promise<ProfileListing[]> {
    const {listings, text} = await listProfiles(this.flags.profiles, this.flags.kind)
    if (!this.jsonEnabled()) this.log(text)
    return listings
  }
}
