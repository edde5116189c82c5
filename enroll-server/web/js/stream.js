// The ticket event stream (`GET /api/v1/enrollments/events`): decisions
// pushed the moment they are made. A browser's EventSource reconnects by
// itself after a dropped connection, but gives up for good when the server
// answers with an error (a restarting instance, a balancer's 503): then
// this opens a new one after a growing pause. Every `ready` means "you may
// have missed something": the page reads its pending tickets again.
// The stream also moves the places in line of the queued tickets named when
// it opened (`position` events); a page with a ticket it did not name
// closes it and opens another naming it.

const PATH = '/api/v1/enrollments/events';

/**
 * Opens the stream naming the queued tickets `tickets` (ids, at most 32);
 * `on.ready()`, `on.ticket(decision)`, `on.position(place)`,
 * `on.waitlist(move)` (a freed seat enrolled, offered or skipped the
 * student on a waitlist), `on.cart({settled, settled_at})` (the cart was
 * settled), `on.resync()`, `on.state('live' | 'reconnecting')`, and `on.closed()`
 * when the server refused it (the page checks whether the session is still
 * valid).
 */
export function openStream(on, tickets = []) {
  const path = tickets.length ? `${PATH}?tickets=${encodeURIComponent(tickets.slice(0, 32).join(','))}` : PATH;
  let source = null;
  let delay = 1000;
  let timer = null;
  let stopped = false;

  function connect() {
    timer = null;
    if (stopped) return;
    source = new EventSource(path);
    source.addEventListener('ready', () => {
      delay = 1000;
      on.state('live');
      on.ready();
    });
    source.addEventListener('ticket', (e) => {
      try {
        on.ticket(JSON.parse(e.data));
      } catch {
        on.resync();
      }
    });
    source.addEventListener('position', (e) => {
      try {
        on.position(JSON.parse(e.data));
      } catch {
        // A place is only a hint; the next one, or a read, corrects it.
      }
    });
    source.addEventListener('waitlist', (e) => {
      try {
        on.waitlist(JSON.parse(e.data));
      } catch {
        on.resync();
      }
    });
    source.addEventListener('cart', (e) => {
      try {
        on.cart(JSON.parse(e.data));
      } catch {
        on.resync();
      }
    });
    source.addEventListener('resync', () => on.resync());
    source.addEventListener('error', () => {
      on.state('reconnecting');
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        on.closed();
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      }
    });
  }

  connect();
  return {
    close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      source?.close();
    },
  };
}
