// Histogram buckets both daemons use, so a check's duration on the agent and on the coordinator
// land in the same buckets and can be compared or summed.

/** Checks take milliseconds (a file, a port) to minutes (a bats file, a sync): seconds, 5 ms to 30 min. */
export const CHECK_SECONDS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
