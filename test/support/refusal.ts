import { FleetgateError } from "../../shared/errors.js";

/** The FleetgateError `fn` throws; fails the test when it throws nothing or something else. */
export function refusal(fn: () => unknown): FleetgateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FleetgateError) return err;
    throw err;
  }
  throw new Error("expected a FleetgateError, nothing was thrown");
}
