// A reader for nginx config text, following ngx_conf_read_token: words, quoted strings, `;`, `{`,
// `}`, and `#` comments. It only reads configs nginx has already accepted (`nginx -T` exits
// non-zero on a syntax error), so it is forgiving where nginx would refuse.

export interface Token {
  kind: "word" | "{" | "}" | ";";
  text: string;
  line: number;
}

export interface Directive {
  name: string;
  args: string[];
  line: number;
  /** Present for block directives (`server { … }`), even when empty. */
  block?: Directive[];
}

// nginx undoes these escapes in quoted and bare words alike; any other backslash stays.
const ESCAPED: Record<string, string> = { '"': '"', "'": "'", "\\": "\\", t: "\t", r: "\r", n: "\n" };

function unescape(raw: string): string {
  return raw.replace(/\\(["'\\trn])/g, (_, c: string) => ESCAPED[c] ?? c);
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (ch === "\n") line++;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "#") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (ch === "{" || ch === "}" || ch === ";") {
      tokens.push({ kind: ch, text: ch, line });
      i++;
    } else {
      const start = i;
      const startLine = line;
      const quote = ch === '"' || ch === "'" ? ch : undefined;
      i += quote ? 1 : 0;
      while (i < source.length) {
        const c = source[i] as string;
        if (quote ? c === quote : /[\s;{}]/.test(c)) break;
        if (c === "\n") line++;
        // `${name}` is a variable inside a word, not the start of a block.
        if (!quote && c === "$" && source[i + 1] === "{") i = Math.max(source.indexOf("}", i), i + 1);
        i += c === "\\" ? 2 : 1;
      }
      tokens.push({ kind: "word", text: unescape(source.slice(quote ? start + 1 : start, i)), line: startLine });
      i += quote ? 1 : 0;
    }
  }
  return tokens;
}

/** Directives in order, blocks nested; throws with the line when braces do not balance. */
export function parseConfig(source: string): Directive[] {
  const root: Directive[] = [];
  const open: Directive[][] = [root];
  let words: Token[] = [];
  for (const token of tokenize(source)) {
    const here = open[open.length - 1] as Directive[];
    if (token.kind === "word") {
      words.push(token);
      continue;
    }
    if (token.kind === "}") {
      if (words.length || open.length === 1) throw new Error(`unexpected "}" on line ${token.line}`);
      open.pop();
      continue;
    }
    const [name, ...args] = words;
    if (!name) throw new Error(`unexpected "${token.text}" on line ${token.line}`);
    const directive: Directive = { name: name.text, args: args.map((a) => a.text), line: name.line };
    if (token.kind === "{") open.push((directive.block = []));
    here.push(directive);
    words = [];
  }
  if (words.length || open.length > 1) throw new Error("unexpected end of file");
  return root;
}
