// The spool's default size limit, apart from the spool itself: `fleetgate-agent check` and
// `--help` show it among the daemon's flags, and should not load the spool and the agent
// protocol's descriptors to print one number.

/** How much unacknowledged work the spool keeps before it refuses more (spool_max). */
export const DEFAULT_SPOOL_MAX = 1024 ** 3;
