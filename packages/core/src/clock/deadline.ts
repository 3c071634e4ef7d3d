/**
 * Waiting with a deadline, for shutdown and flush paths. Imports nothing.
 */

/**
 * Waits for `work` or until `until` (a `performance.now()` time, ms), whichever comes
 * first; a rejection of `work` before the deadline is passed on (after it, it is
 * handled and dropped). The timer is ref'd on purpose: a process shutting down stays
 * up for the grace period even when the work only waits on unref'd timers (retries).
 *
 * @internal
 */
export async function settleWithin(work: Promise<unknown>, until: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, until - performance.now()));
  });
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
