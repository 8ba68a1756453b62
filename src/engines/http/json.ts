/** A JSON answer: its status, and its body parsed (null when it is not JSON). */
export interface JsonResponse {
  status: number
  statusText: string
  body: unknown
  text: string
}

/** GET a JSON document with a time limit; network failures are returned as a thrown Error with its cause. */
export async function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<JsonResponse> {
  const response = await fetch(url, {headers, signal: AbortSignal.timeout(timeoutMs)})
  const text = await response.text()
  let body: unknown = null
  try {
    body = JSON.parse(text)
  } catch {
    body = null
  }
  return {status: response.status, statusText: response.statusText, body, text}
}
