// Pure: the values a cross step may use. A step's `capture:` values are offered to later steps
// of its stage as `${role.name}`, role being the role whose node captured them.

export interface CaptureSource {
  role: string;
  group: number;
  captured: Record<string, string>;
}

const REF = /\$\{([A-Za-z_][\w-]*)\.([A-Za-z_][\w.-]*)\}/g;

/**
 * Values for a step in `group`, from steps of earlier groups (a later capture of the same name
 * wins), and each `${role.name}` the step's text uses that none of them captured.
 */
export function stepCaptures(specYaml: string, group: number, roles: string[], earlier: CaptureSource[]): { captures: Record<string, string>; missing: string[] } {
  const captures: Record<string, string> = {};
  for (const src of [...earlier].filter((s) => s.group < group).sort((a, b) => a.group - b.group)) {
    for (const [name, value] of Object.entries(src.captured)) captures[`${src.role}.${name}`] = value;
  }
  const missing = new Set<string>();
  for (const [, ns, name] of specYaml.matchAll(REF)) {
    const key = `${ns}.${name}`;
    if (roles.includes(ns as string) && captures[key] === undefined) missing.add(key);
  }
  return { captures, missing: [...missing] };
}

/** "needs ${origin.doc_id}, which no earlier step on origin captured" */
export function missingCaptureMessage(missing: string[]): string {
  const refs = missing.map((m) => `\${${m}}`).join(", ");
  const roles = [...new Set(missing.map((m) => m.split(".")[0]))].join(", ");
  return `needs ${refs}, which no earlier step on ${roles} captured (add capture: to that step, or check that it passed)`;
}
