// The student's tickets, kept in this browser's storage per student, so a
// refresh or a second tab shows the same ticket and place (the server
// answers a repeated enroll with the same ticket too; this spares asking).
// Every tab hears the others' changes through the `storage` event.

const keyOf = (studentId) => `enroll.tickets.${studentId}`;
const DECIDED = new Set(['enrolled', 'rejected', 'cancelled']);

export class TicketBook {
  constructor(studentId, onChange) {
    this.key = keyOf(studentId);
    this.onChange = onChange;
    this.tickets = new Map();
    this.load();
    this.listener = (e) => {
      if (e.key === this.key) {
        this.load();
        this.onChange();
      }
    };
    window.addEventListener('storage', this.listener);
  }

  close() {
    window.removeEventListener('storage', this.listener);
  }

  load() {
    this.tickets.clear();
    try {
      for (const t of JSON.parse(localStorage.getItem(this.key) || '[]')) {
        if (t && typeof t.ticket === 'string') this.tickets.set(t.ticket, t);
      }
    } catch {
      // A damaged entry: start over; the server still knows the tickets.
    }
  }

  save() {
    localStorage.setItem(this.key, JSON.stringify([...this.tickets.values()]));
    this.onChange();
  }

  all() {
    return [...this.tickets.values()].sort((a, b) => a.created - b.created);
  }

  pending() {
    return this.all().filter((t) => t.status === 'queued');
  }

  /** The newest ticket for a course. */
  forCourse(courseId) {
    return this.all().filter((t) => t.course_id === courseId).pop();
  }

  /**
   * Takes what the server said of a ticket. A decision is never taken back
   * by an older "queued" answer that arrives after it, and the first word
   * of a decision (pushed or read) is kept.
   */
  update(fresh, { save = true } = {}) {
    const old = this.tickets.get(fresh.ticket);
    if (old && DECIDED.has(old.status) && (fresh.status === 'queued' || fresh.status === old.status)) return;
    const merged = {
      created: old?.created ?? Date.now(),
      ...old,
      ...fresh,
      read_at: Date.now(),
    };
    if (fresh.status !== 'queued') {
      delete merged.position;
      delete merged.eta_ms;
      delete merged.admission_paused;
    }
    this.tickets.set(fresh.ticket, merged);
    if (save) this.save();
  }

  remove(ticketIds) {
    let changed = false;
    for (const id of ticketIds) changed = this.tickets.delete(id) || changed;
    if (changed) this.save();
  }

  /** Forgets the tickets of a course (its seat was given back). */
  forgetCourse(courseId) {
    this.remove(this.all().filter((t) => t.course_id === courseId).map((t) => t.ticket));
  }
}
