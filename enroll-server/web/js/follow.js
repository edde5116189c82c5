// Which of the page's queued tickets the event stream moves. A stream
// sends the places of the tickets it was named when it opened, and of
// those enrolled through the server that holds it; a ticket enrolled
// through another server (or in another tab) is not known there, so when
// one goes a second without a place from the stream, the page opens the
// stream again naming it. Tickets the stream does not move are read every
// 2 s, as all of them are while the stream is down.

export class Follow {
  constructor() {
    this.opened([]);
  }

  /** A stream was opened naming `tickets`. */
  opened(tickets) {
    this.named = new Set(tickets);
    this.ready();
  }

  /** The stream (re)started, perhaps on another server: nothing moved yet. */
  ready() {
    this.moved = new Set();
    this.early = new Map();
    this.unfollowed = new Map();
  }

  moves(ticket) {
    return this.moved.has(ticket);
  }

  /**
   * A place pushed; `known` says whether its ticket is in the book. One
   * that came before the enroll answer is kept for `takeEarly`.
   */
  pushed(place, known) {
    this.moved.add(place.ticket);
    if (!known) this.early.set(place.ticket, place);
    return known;
  }

  /** The place pushed before the ticket's enroll answer came, if any. */
  takeEarly(ticket) {
    const place = this.early.get(ticket);
    this.early.delete(ticket);
    return place;
  }

  /** Whether a ticket of `pending` has gone `graceMs` neither named nor moved. */
  lost(pending, now, graceMs = 1000) {
    let lost = false;
    for (const tk of pending) {
      if (this.named.has(tk.ticket) || this.moved.has(tk.ticket)) {
        this.unfollowed.delete(tk.ticket);
        continue;
      }
      if (!this.unfollowed.has(tk.ticket)) this.unfollowed.set(tk.ticket, now);
      if (now - this.unfollowed.get(tk.ticket) >= graceMs) lost = true;
    }
    return lost;
  }
}
