// observe() starts tools with this process's environment, so a test that wants the fakes first
// on PATH merges their env into process.env and must put it back afterwards.

/** Merges `env` into process.env; the returned function restores every key it touched. */
export function mergeIntoProcessEnv(env: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
