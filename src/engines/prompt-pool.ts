/**
 * Ordinary English words. The server's OWN tokenizer turns them into token ids that are certainly ordinary
 * vocabulary (no BOS/EOS, control, byte or unused ids): vLLM has no GGUF header to read token types from,
 * and guessing an id range is unsafe (special tokens sit at 0-2 in some vocabularies, above 128000 or
 * 151643 in others). 250 distinct words give >= 250 ids, so >= 62,500 unique synthetic prompts (loadgen/prompts.ts).
 */
export const PROMPT_POOL_TEXT = [
  'time year people way day man thing woman life child world school state family student group country problem hand part',
  'place case week company system program question work government number night point home water room mother area money story',
  'fact month lot right study book eye job word business issue side kind head house service friend father power hour game line',
  'end member law car city community name president team minute idea kid body information back parent face others level office',
  'door health person art war history party result change morning reason research girl guy moment air teacher force education',
  'foot boy age policy process music market sense nation plan college interest death experience effect class control care field',
  'development role effort rate heart drug show leader light voice wife police mind price report decision son view relationship',
  'town road arm difference value building action model season society tax director position player record paper space ground',
  'form event official matter center couple site project activity star table need court oil situation cost industry figure street',
  'image phone data picture practice piece land product doctor wall patient worker news test movie north love support technology',
  'step baby computer type attention film tree source organization hair window evidence population truth song garden river stone',
  'quickly slowly bright green yellow purple orange silver golden ancient modern simple complex gentle strong quiet loud happy',
  'run walk jump swim write read speak listen think build create destroy open close begin finish travel measure count carry',
].join(' ')
