import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GROUP_COMMIT_MS, groupCommit } from "../../agent/daemon/group-commit.js";

describe("group commit of spooled results", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("commits a burst of results once, within the window of its first", () => {
    const commit = vi.fn();
    const g = groupCommit(commit);
    for (let i = 0; i < 20; i++) g.request();
    expect(commit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(GROUP_COMMIT_MS - 1);
    expect(commit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(commit).toHaveBeenCalledTimes(1);
  });

  it("never leaves a result uncommitted: a request after a commit starts a new window", () => {
    const commit = vi.fn();
    const g = groupCommit(commit);
    g.request();
    vi.advanceTimersByTime(GROUP_COMMIT_MS);
    g.request();
    vi.advanceTimersByTime(GROUP_COMMIT_MS);
    expect(commit).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(10 * GROUP_COMMIT_MS);
    expect(commit).toHaveBeenCalledTimes(2);
  });

  it("drops a scheduled commit when cancelled (the spool's close syncs instead)", () => {
    const commit = vi.fn();
    const g = groupCommit(commit);
    g.request();
    g.cancel();
    vi.advanceTimersByTime(GROUP_COMMIT_MS);
    expect(commit).not.toHaveBeenCalled();
  });
});
