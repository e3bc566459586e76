// Cutting text to a budget in UTF-8 bytes, on a character boundary, with a short marker saying
// how much was cut. Counted after encoding: characters undercount (U+FFFD is 3 bytes, an emoji
// 4), and the wire and the database hold bytes.

/**
 * `[… 2912619 bytes cut …]`, a number a tail cut again adds to. It counts raw output bytes where
 * the process capture cut them (decodeTail) and UTF-8 bytes of text where text was cut (a byte
 * that was not UTF-8 counts 3 there, as its U+FFFD), so after two cuts it can overstate a little.
 */
const marker = (bytes: number) => `[… ${bytes} bytes cut …]`;
const TAIL_MARKER = /^\[… (\d+) bytes cut …\]\n/;

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** UTF-8 bytes and UTF-16 units of the character ending just before `end`. */
function charBefore(text: string, end: number): [bytes: number, units: number] {
  const c = text.charCodeAt(end - 1);
  if (c < 0x80) return [1, 1];
  if (c < 0x800) return [2, 1];
  if (c >= 0xdc00 && c <= 0xdfff && end >= 2) {
    const h = text.charCodeAt(end - 2);
    if (h >= 0xd800 && h <= 0xdbff) return [4, 2];
  }
  return [3, 1]; // a lone surrogate encodes as U+FFFD, 3 bytes
}

/** UTF-8 bytes and UTF-16 units of the character starting at `start`. */
function charAt(text: string, start: number): [bytes: number, units: number] {
  const c = text.charCodeAt(start);
  if (c < 0x80) return [1, 1];
  if (c < 0x800) return [2, 1];
  if (c >= 0xd800 && c <= 0xdbff && start + 1 < text.length) {
    const l = text.charCodeAt(start + 1);
    if (l >= 0xdc00 && l <= 0xdfff) return [4, 2];
  }
  return [3, 1];
}

/** The longest end of `text` whose UTF-8 fits `maxBytes`, no marker. */
export function tailWithin(text: string, maxBytes: number): string {
  let i = text.length;
  let used = 0;
  while (i > 0) {
    const [bytes, units] = charBefore(text, i);
    if (used + bytes > maxBytes) break;
    used += bytes;
    i -= units;
  }
  return text.slice(i);
}

/** The longest start of `text` whose UTF-8 fits `maxBytes`, no marker. */
export function headWithin(text: string, maxBytes: number): string {
  let i = 0;
  let used = 0;
  while (i < text.length) {
    const [bytes, units] = charAt(text, i);
    if (used + bytes > maxBytes) break;
    used += bytes;
    i += units;
  }
  return text.slice(0, i);
}

/**
 * The end of `text` within `maxBytes` of UTF-8, led by `[… N bytes cut …]` when anything was cut.
 * A text that already starts with such a marker (cut before, e.g. by the process capture) keeps
 * one marker with both counts added.
 */
export function keepTail(text: string, maxBytes: number): string {
  const total = utf8Bytes(text);
  if (total <= maxBytes) return text;
  const earlier = TAIL_MARKER.exec(text);
  const before = earlier ? Number(earlier[1]) : 0;
  const body = earlier ? text.slice(earlier[0].length) : text;
  // Room for the marker at its longest: the count can only be smaller than this.
  const room = maxBytes - utf8Bytes(`${marker(before + total)}\n`);
  if (room < 0) return tailWithin(body, maxBytes);
  const kept = tailWithin(body, room);
  return `${marker(before + utf8Bytes(body) - utf8Bytes(kept))}\n${kept}`;
}

/** The start of `text` within `maxBytes` of UTF-8, ended by ` [… N bytes cut …]` when anything was cut. */
export function keepHead(text: string, maxBytes: number): string {
  const total = utf8Bytes(text);
  if (total <= maxBytes) return text;
  const room = maxBytes - utf8Bytes(` ${marker(total)}`);
  if (room < 0) return headWithin(text, maxBytes);
  const kept = headWithin(text, room);
  return `${kept} ${marker(total - utf8Bytes(kept))}`;
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there starts none. */
function sequenceAt(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c === 0xe0) lo = 0xa0; // overlong
    if (c === 0xed) hi = 0x9f; // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c === 0xf0) lo = 0x90; // overlong
    if (c === 0xf4) hi = 0x8f; // above U+10FFFF
  } else return 0;
  if (i + n > b.length) return 0;
  const c1 = b[i + 1] as number;
  if (c1 < lo || c1 > hi) return 0;
  for (let k = 2; k < n; k++) if (((b[i + k] as number) & 0xc0) !== 0x80) return 0;
  return n;
}

/**
 * Decodes the end of a process's raw output (invalid UTF-8 becomes U+FFFD, 3 bytes) so that the
 * text's UTF-8 fits `maxBytes`, led by `[… N bytes cut …]` counting raw output bytes not shown;
 * `dropped` bytes came before `raw` and are counted too.
 *
 * Each valid sequence costs its length and each other byte at most 3 (the decoder may merge an
 * invalid run into one U+FFFD, never more), so the cost is an upper bound of the decoded size.
 */
export function decodeTail(raw: Uint8Array, maxBytes: number, dropped = 0): string {
  let start = 0;
  // The front was cut mid-character: its continuation bytes are no character of their own.
  if (dropped > 0) while (start < raw.length && start < 3 && ((raw[start] as number) & 0xc0) === 0x80) start++;
  const whole = Buffer.from(raw.buffer, raw.byteOffset + start, raw.length - start).toString("utf8");
  if (dropped + start === 0 && utf8Bytes(whole) <= maxBytes) return whole;

  const room = maxBytes - utf8Bytes(`${marker(dropped + raw.length)}\n`);
  if (room < 0) return tailWithin(whole, maxBytes);
  let total = 0;
  for (let i = start; i < raw.length; ) {
    const n = sequenceAt(raw, i);
    total += n || 3;
    i += n || 1;
  }
  // Skip sequences from the front until what is left fits.
  let cut = start;
  for (let over = total - room; over > 0 && cut < raw.length; ) {
    const n = sequenceAt(raw, cut);
    over -= n || 3;
    cut += n || 1;
  }
  const kept = Buffer.from(raw.buffer, raw.byteOffset + cut, raw.length - cut).toString("utf8");
  const text = `${marker(dropped + cut)}\n${kept}`;
  // The cost bound makes this a no-op; it stays so the bound holds even if the decoder surprised us.
  return keepTail(text, maxBytes);
}
