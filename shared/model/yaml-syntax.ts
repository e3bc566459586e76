// A YAML syntax error as one message a person can act on, at the place to fix: the parser's
// words name what it tripped over (indentation, end of file), usually after the mistake, which
// is most often a `{`, `[` or quote opened and never closed.
import type { LineCounter, YAMLError } from "yaml";
import { FleetgateError, type SourceRef } from "../errors.js";

const UNCLOSED_FLOW = /^Flow (map|sequence) in block collection must be sufficiently indented and end with a [}\]]/;
const UNCLOSED_QUOTE = /^Missing closing (["'])quote/;

// Where a quote may open a scalar: after a space, a flow indicator or a key's colon.
const QUOTE_MAY_OPEN = /[\s[{,:-]/;

interface Open {
  flow: number[];
  quote?: { char: string; at: number };
}

/** The flow brackets and the quote still open at `end`, skipping comments and quoted text. */
function openAt(text: string, end: number, open: string, close: string): Open {
  const state: Open = { flow: [] };
  for (let i = 0; i < end; i++) {
    const c = text[i] as string;
    const q = state.quote;
    if (q) {
      if (q.char === '"' && c === "\\") i++;
      else if (q.char === "'" && c === "'" && text[i + 1] === "'") i++;
      else if (c === q.char) state.quote = undefined;
    } else if ((c === '"' || c === "'") && (i === 0 || QUOTE_MAY_OPEN.test(text[i - 1] as string))) state.quote = { char: c, at: i };
    else if (c === "#" && (i === 0 || /\s/.test(text[i - 1] as string))) {
      const eol = text.indexOf("\n", i);
      i = eol < 0 ? end : eol;
    } else if (c === open) state.flow.push(i);
    else if (c === close) state.flow.pop();
  }
  return state;
}

const HINTS: Record<string, string> = {
  "Tabs are not allowed as indentation": "tabs are not allowed as indentation: indent with spaces",
  "Nested mappings are not allowed in compact mappings":
    "a second key: on one line (like command: argv: [x]); put the inner mapping on its own indented line, or quote a value that holds \": \"",
};

/** The parser's first complaint as one located bad_input error. */
export function syntaxError(e: YAMLError, text: string, lines: LineCounter, file: string): FleetgateError {
  const at = (offset: number): SourceRef => {
    const pos = lines.linePos(offset);
    return { file, line: pos.line, col: pos.col };
  };
  const flow = UNCLOSED_FLOW.exec(e.message);
  if (flow) {
    const [open, close, what] = flow[1] === "map" ? ["{", "}", "mapping"] : ["[", "]", "sequence"];
    const opening = openAt(text, e.pos[0], open, close).flow.at(-1);
    if (opening !== undefined) {
      return new FleetgateError("bad_input", `yaml: flow ${what} opened with ${open} is not closed: end it with ${close} (on the same line, or indent the lines it continues on)`, at(opening));
    }
  }
  const quote = UNCLOSED_QUOTE.exec(e.message);
  if (quote) {
    const opening = openAt(text, text.length, "", "").quote;
    if (opening) return new FleetgateError("bad_input", `yaml: a string opened with ${opening.char} is not closed: end it with ${opening.char}`, at(opening.at));
  }
  const first = e.message.split("\n")[0] ?? e.message;
  // With prettyErrors off, yaml leaves linePos unset; the offset in `pos` is always there.
  const pos = e.linePos?.[0];
  return new FleetgateError("bad_input", `yaml: ${HINTS[first] ?? first}`, pos ? { file, line: pos.line, col: pos.col } : at(e.pos[0]));
}
