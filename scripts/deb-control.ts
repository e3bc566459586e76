// Pure: the texts in a Debian binary package's control area and doc dir, for the two packages
// scripts/package-deb.ts builds. deb-control(5), deb-conffiles(5), Debian policy 12.5–12.7.

export interface PackageSpec {
  name: "fleetgate-agent" | "fleetgate-coord";
  depends: string;
  summary: string;
  /** Paragraphs of the long description, plain text (wrapped here). */
  description: string[];
  /** Absolute paths of configuration files: dpkg keeps the admin's edits across upgrades. */
  conffiles: string[];
}

export const MAINTAINER = "fleetgate maintainers <maintainers@users.noreply.b-seed-f2b66227.example>";

// The agent is Node's own executable with the agent inside: it needs what `node` needs. Measured
// with `objdump -T` on the Node 20 binary: GLIBC_2.28 and GLIBCXX_3.4.21 at most.
const NODE_BINARY_DEPENDS = "libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 5.2)";

export const PACKAGES: Record<PackageSpec["name"], PackageSpec> = {
  "fleetgate-agent": {
    name: "fleetgate-agent",
    depends: NODE_BINARY_DEPENDS,
    summary: "release gate for server fleets - node agent",
    description: [
      "fleetgate's agent runs a node's lifecycle checks (commands, HTTP, systemd units, podman containers, nginx, bitcoind, bats files) on the node itself and reports them to the coordinator over gRPC.",
      "One executable with Node inside: no Node.js or npm on the node. The unit is enabled at install and starts once /etc/fleetgate/enroll.token holds a token from `coord token create`.",
    ],
    conffiles: ["/etc/fleetgate/agent.yaml"],
  },
  "fleetgate-coord": {
    name: "fleetgate-coord",
    // better-sqlite3 is compiled for the Node ABI of the build: the same major version (20).
    depends: `nodejs (>= 20.5), nodejs (<< 21), ${NODE_BINARY_DEPENDS}`,
    summary: "release gate for server fleets - coordinator",
    description: [
      "fleetgate's coordinator holds the roster of nodes, sequences the stages of a release gate across them and writes the reports a release is signed off on. The coord command drives it.",
      "Needs Node.js 20 (NodeSource's apt repository on Debian 12). Runs as a systemd DynamicUser; its state is in /var/lib/fleetgate.",
    ],
    conffiles: ["/etc/fleetgate/coord.yaml"],
  },
};

/** Words into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The DEBIAN/control file: a long description's lines start with a space, a blank one is " .". */
export function controlFile(spec: PackageSpec, version: string, architecture: string, installedSizeKiB: number): string {
  const body = spec.description.map((p) => wrap(p, 78).map((l) => ` ${l}`).join("\n")).join("\n .\n");
  return [
    `Package: ${spec.name}`,
    `Version: ${version}`,
    `Architecture: ${architecture}`,
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedSizeKiB}`,
    `Depends: ${spec.depends}`,
    `Section: admin`,
    `Priority: optional`,
    `Description: ${spec.summary}`,
    body,
    "",
  ].join("\n");
}

export function conffilesFile(spec: PackageSpec): string {
  return spec.conffiles.map((f) => `${f}\n`).join("");
}

/** md5sums: "<md5>  <path without the leading slash>" per regular file, as dpkg writes them. */
export function md5sumsFile(sums: { path: string; md5: string }[]): string {
  return [...sums].sort((a, b) => (a.path < b.path ? -1 : 1)).map((s) => `${s.md5}  ${s.path.replace(/^\//, "")}\n`).join("");
}

/** usr/share/doc/PKG/changelog.gz's text (native package): one entry for this build. */
export function changelogText(spec: PackageSpec, version: string, date: Date): string {
  return [
    `${spec.name} (${version}) unstable; urgency=medium`,
    "",
    `  * Built from the fleetgate repository by scripts/package-deb.ts.`,
    "",
    ` -- ${MAINTAINER}  ${rfc2822(date)}`,
    "",
  ].join("\n");
}

/** "Sat, 28 Nov 2026 22:49:36 +0000", as debian/changelog dates are written. */
export function rfc2822(date: Date): string {
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][date.getUTCDay()];
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][date.getUTCMonth()];
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${day}, ${pad(date.getUTCDate())} ${month} ${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

/** usr/share/doc/PKG/copyright in the machine-readable format (copyright-format 1.0). */
export function copyrightText(spec: PackageSpec, year: number): string {
  const bundled =
    spec.name === "fleetgate-coord"
      ? "Files: usr/lib/fleetgate/coord/node_modules/*\nCopyright: the authors of each npm package, as each states\nLicense: various\n Each package's license is in its directory under\n /usr/lib/fleetgate/coord/node_modules.\n\n"
      : "Files: usr/lib/fleetgate/fleetgate-agent\nCopyright: the Node.js contributors and the authors of the npm packages bundled in\nLicense: various\n Node.js is MIT licensed (https://github.com/nodejs/node/blob/main/LICENSE);\n the bundled packages' licenses are those of the npm packages listed in the\n agent's esbuild metafile.\n\n";
  return [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    "Upstream-Name: fleetgate",
    "",
    "Files: *",
    `Copyright: ${year} fleetgate maintainers`,
    "License: Apache-2.0",
    "",
    bundled + "License: Apache-2.0",
    " On Debian systems, the full text of the Apache License, Version 2.0 is in",
    " /usr/share/common-licenses/Apache-2.0.",
    "",
  ].join("\n");
}
