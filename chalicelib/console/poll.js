// Polling with backoff: fast while something changes, slower (up to `max`) while nothing does.

export function poller(check, { min = 1000, max = 15000, factor = 1.6 } = {}) {
  let delay = min;
  let timer = null;
  let stopped = false;
  let running = false;

  async function tick() {
    timer = null;
    if (stopped || running) return;
    running = true;
    try {
      const changed = await check();
      delay = changed ? min : Math.min(delay * factor, max);
    } catch {
      delay = Math.min(delay * factor * factor, max);
    } finally {
      running = false;
    }
    if (!stopped) timer = setTimeout(tick, document.hidden ? max : delay);
  }

  function visible() {
    if (!document.hidden && !stopped) now();
  }

  function now() {
    if (timer) clearTimeout(timer);
    delay = min;
    tick();
  }

  document.addEventListener("visibilitychange", visible);
  timer = setTimeout(tick, delay);
  return {
    now,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", visible);
    },
  };
}
