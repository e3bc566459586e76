// Pure: whether a node is held for a person before a change touches it (the cc-ci seed's pre-deploy
// safety gate: a major bump or a release that needs a manual migration is never applied silently).
// A rule that cannot be judged (the node's version unreadable) holds too: silence is not consent.
import type { Change, HoldRule } from "../../shared/model/change.js";

/** The major of "2.1.0", "v2", "2.0.0-rc1"; undefined when the text does not start with a number. */
export function majorOf(version: string): number | undefined {
  const m = /^v?(\d+)/.exec(version.trim());
  return m ? Number(m[1]) : undefined;
}

/** A rule's key, so an approval given for it covers every node it holds later. */
export function holdRuleKey(rule: HoldRule): string {
  return "major_bump" in rule ? `major_bump:${rule.major_bump}` : `flag:${rule.flag}`;
}

export interface Hold {
  rule: string;
  reason: string;
}

/** Every rule that holds this node, with why; empty when the change may go ahead. */
export function holdsFor(change: Change, facts: Record<string, string>): Hold[] {
  const out: Hold[] = [];
  for (const rule of change.hold) {
    const key = holdRuleKey(rule);
    if ("major_bump" in rule) {
      const current = facts[rule.major_bump];
      const to = majorOf(change.version ?? "");
      const from = current === undefined ? undefined : majorOf(current);
      if (current === undefined) out.push({ rule: key, reason: `major_bump: the node's fact ${rule.major_bump} was not captured, so a major bump cannot be ruled out` });
      else if (from === undefined || to === undefined) out.push({ rule: key, reason: `major_bump: cannot compare ${rule.major_bump} ${current} with ${change.version} (no leading major number)` });
      else if (to > from) out.push({ rule: key, reason: `major bump: ${rule.major_bump} ${current} → ${change.version}` });
    } else if (change.release[rule.flag] === true || change.release[rule.flag] === "true") {
      out.push({ rule: key, reason: `release says ${rule.flag}: true` });
    }
  }
  return out;
}
