// Pure: a fleetgate version (package.json's semver, plus "+g<rev>" from a checkout) as a Debian
// version that sorts the same way: a semver prerelease sorts before its release, which in
// Debian takes "~" ("0.2.0-rc.1" → "0.2.0~rc.1" < "0.2.0"); a build from a checkout is after its
// release, which "+" already says in both ("0.1.0+g87f41e3" → "0.1.0+git87f41e3"). No Debian
// revision: these packages are native, built from this repository.

const SEMVER = /^(\d+\.\d+\.\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

export function debianVersion(version: string): string {
  const m = SEMVER.exec(version.trim());
  if (!m) throw new Error(`version "${version}" is not semver (MAJOR.MINOR.PATCH[-pre][+build]); fix package.json's "version"`);
  const [, core, pre, build] = m;
  // Debian upstream versions allow [A-Za-z0-9.+~]; a semver "-" inside the prerelease becomes ".".
  const prerelease = pre ? `~${pre.replace(/-/g, ".")}` : "";
  const revision = build ? `+${build.replace(/^g(?=[0-9a-f]{7,40}$)/, "git").replace(/-/g, ".")}` : "";
  return `${core}${prerelease}${revision}`;
}
