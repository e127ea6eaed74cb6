/**
 * Text decoded from UTF-16 in evidence (NTFS and exFAT names, FAT long names,
 * GPT partition names, volume labels, an E01's header2) is arbitrary code
 * units and can hold a surrogate without its partner. Such a string has no
 * UTF-8 form: PostgreSQL drivers encode it as U+FFFD (a wrong value, and two
 * different names can become one) and JSON.stringify writes `\ud800`, which
 * jsonb refuses. A lone surrogate is therefore written as the visible escape
 * `\u{d800}` (lower-case hex, the form the display path uses for other unsafe
 * characters): the examiner sees that a code unit was there and which one.
 * A surrogate pair is a real character and is kept.
 */

/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE_SOURCE = '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const LONE_SURROGATE = new RegExp(LONE_SURROGATE_SOURCE, 'g');
// Separate, non-global copy for testing: a global regex's lastIndex would carry between calls.
const ANY_LONE_SURROGATE = new RegExp(LONE_SURROGATE_SOURCE);

/** The escape written for one lone surrogate code unit, e.g. `\u{d800}`. */
export function loneSurrogateEscape(codeUnit: number): string {
  return `\\u{${codeUnit.toString(16)}}`;
}

export function hasLoneSurrogate(text: string): boolean {
  return ANY_LONE_SURROGATE.test(text);
}

/** The text with every lone surrogate written as `\u{xxxx}`; the same string when there is none. */
export function escapeLoneSurrogates(text: string): string {
  if (!hasLoneSurrogate(text)) return text;
  return text.replace(LONE_SURROGATE, (unit) => loneSurrogateEscape(unit.charCodeAt(0)));
}
