/**
 * The one place that knows what a secret looks like. Every message, error, recorded command line and
 * server argv capplan writes goes through these functions, so one list of patterns decides for all of them.
 */

// Bearer tokens, sk-/hf_ keys, and an Authorization header's value up to the end of ITS line (m flag).
const secretValue = /(\bBearer\s+)\S+|(\bsk-[A-Za-z0-9_-]{8,})|(\bhf_[A-Za-z0-9]{8,})|(authorization:[ \t]*)\S.*$/gim
// URL credentials: http://user:PASSWORD@host (the user part may be the key itself: http://KEY@host).
const urlUserinfo = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s@]+@/gi
// Query parameters that carry credentials: ?api_key=..., &token=..., &sig=... (Azure SAS), ...
const secretQueryParameter =
  /([?&](?:api[-_]?key|apikey|key|token|access[-_]?token|auth|authorization|password|passwd|secret|client[-_]?secret|sig|signature|x-api-key)=)[^&#\s'"]*/gi

/**
 * Flags whose VALUE is a secret, in capplan's own argv and in a server's (llama-server --api-key, --hf-token /
 * -hft, vLLM --api-key, anything ending in token/secret/password). Flags that NAME where a secret lives
 * (--api-key-env OPENAI_API_KEY, --api-key-file PATH) are not secret and are kept.
 */
const secretFlag = /^--?(api[-_]?key|key|token|secret|password|passwd|auth|authorization|bearer|hft|hf[-_]token|access[-_]token|[\w-]*(token|secret|password))$/i

/** Known secret values shorter than this are not replaced: a 1-3 character "key" would shred ordinary text. */
const MIN_KNOWN_SECRET_CHARS = 4

/**
 * Replace bearer tokens, authorization header values, sk-/hf_ keys, URL credentials (user:pass@), credential
 * query parameters (api_key=, token=, ...) and any of `knownSecrets` (the key capplan itself sends) inside a
 * free-form string by "***". Keys of an unknown shape are caught where they stand (a URL's userinfo or
 * query), not by their look.
 */
export function redactSecrets(text: string, knownSecrets: readonly string[] = []): string {
  let out = text
    .replace(urlUserinfo, '$1***@')
    .replace(secretQueryParameter, '$1***')
    .replace(secretValue, (_match, bearer?: string, _sk?: string, _hf?: string, header?: string) => {
      if (bearer !== undefined) return `${bearer}***`
      if (header !== undefined) return `${header}***`
      return '***'
    })
  for (const secret of knownSecrets) if (secret.length >= MIN_KNOWN_SECRET_CHARS) out = out.replaceAll(secret, '***')
  return out
}

/**
 * An argv with secrets replaced by "***": values of secret flags (`--api-key X`, `--token=X`; after
 * --api-key the next word is its value even when it starts with "-"), and every word through redactSecrets.
 */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const inline = /^(--?[\w-]+)=/.exec(arg)
    if (inline !== null && secretFlag.test(inline[1]!)) {
      out.push(`${inline[1]}=***`)
      continue
    }
    const next = argv[i + 1]
    if (secretFlag.test(arg) && next !== undefined && (!next.startsWith('-') || /^--?api[-_]?key$/i.test(arg))) {
      out.push(arg, '***')
      i++
      continue
    }
    out.push(redactSecrets(arg))
  }
  return out
}

/** An argv as one line a POSIX shell reads back word for word: plain words bare, others in '...'. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ')
}
