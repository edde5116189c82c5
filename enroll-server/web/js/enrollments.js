// My enrollments, each with a cancel button that asks first; and the
// tickets in line or just decided, with the place in line and, for screen
// readers, a live region that says it when it moves a long way (a place
// pushed several times a second would otherwise be read out without end).

import { h, replace } from './dom.js';
import { t, scheduleText } from './i18n.js';

export function renderEnrollments(list, summary, me, ctx) {
  const rows = (me?.enrollments ?? []).map((e) => h('li', {
    class: 'enrollment',
    dataset: { testid: 'enrollment-row', courseId: String(e.course_id) },
  },
  h('div', {},
    h('strong', {}, h('span', { class: 'code', text: e.code }), ' ', e.name),
    h('p', { class: 'meta', text: `${t('course.credits', { n: e.credits })} · ${scheduleText(e.schedule)}` })),
  h('button', {
    type: 'button',
    class: 'cancel',
    dataset: { testid: 'cancel-button', focus: `cancel-${e.course_id}` },
    'aria-label': t('enrollments.cancel_label', { name: e.name }),
    onclick: () => ctx.onCancel(e),
  }, t('enrollments.cancel'))));
  replace(list, rows.length ? rows : [h('li', { class: 'empty', text: t('enrollments.none') })]);
  summary.textContent = me ? t('enrollments.summary', { used: me.credits_total, limit: me.credit_limit }) : '';
}

function statusText(ticket) {
  if (ticket.status === 'queued') {
    return ticket.admission_paused ? t('ticket.paused') : t('ticket.queued');
  }
  if (ticket.status === 'rejected') {
    return t('ticket.rejected', { reason: t(`reason.${ticket.reason ?? 'unknown'}`) });
  }
  return t(`ticket.${ticket.status}`);
}

function etaText(ticket, now) {
  if (ticket.status !== 'queued' || ticket.eta_ms === undefined || ticket.eta_ms === null) return '';
  const left = ticket.eta_ms - (now - ticket.read_at);
  return left > 1000 ? t('ticket.eta', { s: Math.ceil(left / 1000) }) : t('ticket.eta_soon');
}

/** A ticket's row; redrawn whole only when its state changes. A ticket
 * refused for want of seats offers the course's waitlist when it has one. */
function ticketRow(tk, name, joinable, ctx) {
  return h('li', {
    class: `ticket ${tk.status}`,
    dataset: {
      testid: 'ticket', ticketStatus: tk.status, reason: tk.reason ?? '', ticket: tk.ticket,
      via: tk.via ?? '', key: rowKey(tk, name, joinable),
    },
  },
  h('div', { class: 'ticket-main' },
    h('strong', { text: name }),
    h('span', { class: 'status', text: statusText(tk) })),
  tk.status === 'queued'
    ? h('div', { class: 'place' },
      h('span', { class: 'label', id: `place-${tk.ticket}`, text: t('ticket.place') }),
      h('span', { class: 'position', dataset: { testid: 'ticket-position' }, 'aria-labelledby': `place-${tk.ticket}` }),
      h('span', { class: 'eta' }),
      // What a screen reader hears: the place, when it crosses a coarse
      // step (see `coarse`), and nothing else on the row every second.
      h('span', { class: 'place-said sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' }))
    : h('div', { class: 'ticket-actions' },
      joinable ? h('button', { type: 'button', class: 'join', dataset: { testid: 'waitlist-join', focus: `join-${tk.ticket}` },
        'aria-label': t('waitlist.join_label', { name }), onclick: () => ctx.onJoinCourse(tk.course_id) }, t('waitlist.join')) : null,
      h('button', { type: 'button', class: 'dismiss', dataset: { focus: `dismiss-${tk.ticket}` },
        'aria-label': t('ticket.dismiss_label', { name }), onclick: () => ctx.onDismiss(tk) }, t('ticket.dismiss'))),
  h('span', { class: 'ticket-id', text: t('ticket.id', { id: tk.ticket }) }));
}

/** The steps a place is announced at: each of the last three, then 10, 50, 100, 500, 1000, 2000 … */
export function coarse(n) {
  if (n <= 3) return n;
  for (const step of [10, 50, 100, 500, 1000]) if (n <= step) return step;
  return Math.ceil(n / 1000) * 1000;
}

const rowKey = (tk, name, joinable) => [tk.status, tk.reason, tk.admission_paused, tk.via, name, joinable,
  document.documentElement.lang].join('|');

/**
 * The tickets in line or just decided. Rows are kept and updated in place
 * (place and ETA), so the live regions announce changes, not redraws; a
 * decision is announced through `announce`.
 */
export function renderTickets(list, book, courses, ctx) {
  const now = Date.now();
  const old = new Map([...list.children].map((li) => [li.dataset.ticket, li]));
  const rows = book.all().map((tk) => {
    const course = courses.get(tk.course_id);
    const name = course ? `${course.code} ${course.name}` : t('ticket.course', { id: tk.course_id });
    const joinable = tk.status === 'rejected' && tk.reason === 'course_full' && Boolean(ctx.canJoin?.(tk.course_id));
    let li = old.get(tk.ticket);
    if (!li || li.dataset.key !== rowKey(tk, name, joinable)) {
      if (li && tk.status !== 'queued' && li.dataset.ticketStatus !== tk.status) ctx.announce(`${name}: ${statusText(tk)}`);
      li = ticketRow(tk, name, joinable, ctx);
    }
    const position = li.querySelector('[data-testid=ticket-position]');
    const place = String(tk.position ?? '…');
    if (position && position.textContent !== place) position.textContent = place;
    // Where the place shown came from: `stream`, `read` or `enroll`.
    if (position && position.dataset.positionSource !== (tk.source ?? '')) position.dataset.positionSource = tk.source ?? '';
    const said = li.querySelector('.place-said');
    if (said && tk.position && li.dataset.said !== String(coarse(tk.position))) {
      const first = li.dataset.said === undefined;
      li.dataset.said = String(coarse(tk.position));
      // The first place is on screen with the ticket; a move is said.
      if (!first) said.textContent = t('ticket.place_now', { n: tk.position });
    }
    const eta = li.querySelector('.eta');
    if (eta) eta.textContent = etaText(tk, now);
    return li;
  });
  const same = rows.length === list.children.length && rows.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...rows);
  list.closest('section').hidden = rows.length === 0;
}
