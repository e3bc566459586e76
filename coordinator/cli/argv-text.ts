// An argv array as one line a person can read and paste into a shell: every argument that a
// shell would split, expand or mangle is quoted, so the line means exactly that argv.

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;
// Bytes that cannot sit inside '…' on one line: $'…' spells them as escapes.
const CONTROL = /[\x00-\x1f\x7f]/;
const ESCAPES: Record<string, string> = { "\n": "\\n", "\t": "\\t", "\r": "\\r" };

export function quoteArg(arg: string): string {
  if (PLAIN.test(arg)) return arg;
  if (CONTROL.test(arg)) {
    const body = arg
      .replace(/[\\']/g, (c) => `\\${c}`)
      .replace(/[\x00-\x1f\x7f]/g, (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
    return `$'${body}'`;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function argvText(argv: readonly string[]): string {
  return argv.map(quoteArg).join(" ");
}
