// One order for every setting of `fleetgate-agent run` and `coord serve`: a flag beats its
// environment variable, which beats the config file, which beats the default. The daemons and
// `config check` resolve through here, so what check shows is what the daemon uses.

/** Where a setting's value came from. */
export type SettingSource = "flag" | "env" | "file" | "default";

/** How a setting is named in each place it can be given; a setting without an env variable has none. */
export interface SettingName {
  /** The config file's key, also the name `config check` shows ("state_dir"). */
  key: string;
  flag?: string;
  env?: string;
}

export interface Setting<T> {
  value: T;
  from: SettingSource;
  /** What gave it: "--ca", "FLEETGATE_CA", "ca" (the file's key); "" for the default. */
  via: string;
}

/** The value given in the first place that has one, in the one order; `fallback` when none has. */
export function pickSetting<T>(name: SettingName, given: { flag?: T; env?: T; file?: T }, fallback: T): Setting<T> {
  if (given.flag !== undefined) return { value: given.flag, from: "flag", via: name.flag ?? name.key };
  if (given.env !== undefined) return { value: given.env, from: "env", via: name.env ?? name.key };
  if (given.file !== undefined) return { value: given.file, from: "file", via: name.key };
  return { value: fallback, from: "default", via: "" };
}

/** An environment variable's value; unset and empty alike are none (a unit's `Environment=X=` clears it). */
export function envValue(env: NodeJS.ProcessEnv, name: string | undefined): string | undefined {
  return name ? env[name] || undefined : undefined;
}

/** "file (state_dir)", "env (FLEETGATE_AGENT_STATE_DIR)", "flag (--state-dir)", "default". */
export function describeSource(s: Pick<Setting<unknown>, "from" | "via">): string {
  return s.from === "default" ? "default" : `${s.from} (${s.via})`;
}
