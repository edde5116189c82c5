// Waitlists: a full course's ordered list the student may join, their
// place in each, and seats offered to them from it. The event stream's
// `waitlist` events say what a freed seat did: enrolled them, offered
// them a seat until a deadline (counted down by the server's clock), or
// took them off the list with a reason; each becomes a line of news here.

import { h, replace, ask } from './dom.js';
import { t, dateTime, duration } from './i18n.js';
import { api } from './api.js';
import { serverNow } from './clock.js';

let newsId = 0;

/**
 * The student's places and offers, and what happened to them. `host`
 * gives `render()`, `refresh()` (enrollments and seats changed),
 * `name(courseId)`, `offered(text)` (said at once to screen readers),
 * `said(text)` (said politely) and `fail(error)` (a refusal, in words).
 */
export class Waitlists {
  constructor(host) {
    this.host = host;
    this.items = [];
    this.news = [];
    this.expired = new Set();
  }

  place(courseId) {
    return this.items.find((p) => p.course_id === courseId);
  }

  /** Whether `course` offers a waitlist to join now (it is full for them). */
  joinable(course, open) {
    return open && course.waitlist_mode !== 'off' && !this.place(course.id);
  }

  async load() {
    const r = await api('GET', '/api/v1/waitlist');
    // An offer past its deadline is being withdrawn: not shown again.
    this.items = r.items.filter((p) => !this.expired.has(`${p.course_id}@${p.offer_expires_at}`));
    this.host.render();
  }

  say(status, courseId, extra = {}) {
    this.news.push({ id: ++newsId, status, course_id: courseId, ...extra });
    this.host.render();
  }

  dismiss(n) {
    this.news = this.news.filter((x) => x !== n);
    this.host.render();
  }

  nameOf(courseId) {
    const p = this.place(courseId);
    return p ? `${p.code} ${p.name}` : this.host.name(courseId);
  }

  /** Runs `fn`, telling a refusal in words; then reads the places again
   * (and, with `seats`, the enrollments and the catalogue). */
  async guard(fn, { seats = false } = {}) {
    try {
      await fn();
    } catch (err) {
      await this.host.fail(err);
    }
    await Promise.allSettled([this.load(), seats ? this.host.refresh() : null]);
  }

  async join(course) {
    const name = `${course.code} ${course.name}`;
    await this.guard(async () => {
      const r = await api('POST', '/api/v1/waitlist', { course_id: course.id });
      this.items.push({ course_id: course.id, code: course.code, name: course.name, position: r.position });
      this.host.render();
      this.host.said(t('waitlist.joined', { n: r.position, name }));
      document.getElementById('waitlist-title').focus();
    });
  }

  async leave(place) {
    const name = this.nameOf(place.course_id);
    if (!(await ask(t('confirm.leave', { name }), t('confirm.leave_yes')))) return;
    await this.guard(async () => {
      await api('DELETE', `/api/v1/waitlist/${place.course_id}`);
      this.host.said(t('waitlist.left', { name }));
    });
  }

  async accept(place) {
    const name = this.nameOf(place.course_id);
    await this.guard(async () => {
      await api('POST', `/api/v1/waitlist/${place.course_id}/accept`);
      this.say('enrolled', place.course_id, { name });
    }, { seats: true });
  }

  async decline(place) {
    const name = this.nameOf(place.course_id);
    if (!(await ask(t('confirm.decline', { name }), t('confirm.decline_yes')))) return;
    await this.guard(async () => {
      await api('POST', `/api/v1/waitlist/${place.course_id}/decline`);
      this.say('declined', place.course_id, { name });
    }, { seats: true });
  }

  /** A `waitlist` event from the stream. */
  async moved(m) {
    const name = this.nameOf(m.course_id);
    if (m.status === 'offered') {
      const others = this.items.filter((p) => p.course_id !== m.course_id);
      this.items = [...others, { ...this.place(m.course_id), course_id: m.course_id, position: null,
        offer_expires_at: m.offer_expires_at }];
      this.host.offered(t('waitlist.offer_said', { name, at: dateTime(new Date(m.offer_expires_at)) }));
      this.host.render();
    } else {
      this.items = this.items.filter((p) => p.course_id !== m.course_id);
      this.say(m.status, m.course_id, { name, reason: m.reason });
      if (m.status === 'enrolled') await this.host.refresh();
    }
    await this.load();
  }

  /** Called every 250 ms: counts the offers down by the server's clock;
   * one past its deadline is withdrawn by the server, so read again. */
  tick(section) {
    const now = serverNow();
    for (const el of section.querySelectorAll('[data-deadline]')) {
      const left = t('waitlist.offer_left', { left: duration(Number(el.dataset.deadline) - now) });
      if (el.textContent !== left) el.textContent = left;
    }
    for (const p of this.items) {
      // An offer is said to have expired once (a read may still show it).
      const key = `${p.course_id}@${p.offer_expires_at}`;
      if (!p.offer_expires_at || now < Date.parse(p.offer_expires_at) || this.expired.has(key)) continue;
      this.expired.add(key);
      const name = this.nameOf(p.course_id);
      this.items = this.items.filter((x) => x !== p);
      this.say('expired', p.course_id, { name });
      setTimeout(() => this.load().catch(() => {}), 1500);
    }
  }
}

function offerRow(p, name, w) {
  const deadline = Date.parse(p.offer_expires_at);
  return h('li', { class: 'offer', dataset: { testid: 'offer', courseId: String(p.course_id) } },
    h('p', { class: 'offer-what', text: t('waitlist.offer', { name }) }),
    h('p', { class: 'offer-when' },
      h('span', { text: t('waitlist.offer_until', { at: dateTime(new Date(deadline)) }) }), ' · ',
      h('span', { class: 'offer-left', role: 'timer', dataset: { testid: 'offer-countdown', deadline: String(deadline) },
        text: t('waitlist.offer_left', { left: duration(deadline - serverNow()) }) })),
    h('div', { class: 'offer-actions' },
      h('button', { type: 'button', class: 'enroll', dataset: { testid: 'offer-accept', focus: `accept-${p.course_id}` },
        'aria-label': t('waitlist.accept_label', { name }), onclick: () => w.accept(p) }, t('waitlist.accept')),
      h('button', { type: 'button', dataset: { testid: 'offer-decline', focus: `decline-${p.course_id}` },
        'aria-label': t('waitlist.decline_label', { name }), onclick: () => w.decline(p) }, t('waitlist.decline'))));
}

function placeRow(p, name, w) {
  return h('li', { class: 'waiting', dataset: { testid: 'waitlist-row', courseId: String(p.course_id), position: String(p.position) } },
    h('div', {},
      h('strong', {}, h('span', { class: 'code', text: p.code }), ' ', p.name),
      h('p', { class: 'meta', dataset: { testid: 'waitlist-position' }, text: t('waitlist.position', { n: p.position }) })),
    h('button', { type: 'button', dataset: { testid: 'waitlist-leave', focus: `leave-${p.course_id}` },
      'aria-label': t('waitlist.leave_label', { name }), onclick: () => w.leave(p) }, t('waitlist.leave')));
}

function newsRow(n, w) {
  const reason = n.reason ? t(`reason.${n.reason}`) : '';
  const good = n.status === 'enrolled';
  return h('li', { class: `news ${good ? 'good' : 'bad'}`,
    dataset: { testid: 'waitlist-news', status: n.status, courseId: String(n.course_id), reason: n.reason ?? '' } },
  h('span', { text: t(`waitlist.${n.status}`, { name: n.name, reason }) }),
  h('button', { type: 'button', dataset: { focus: `news-${n.id}` }, onclick: () => w.dismiss(n) }, t('waitlist.dismiss')));
}

/** The waitlist panel: offers first, then places; news in a live region. */
export function renderWaitlists(section, w) {
  const offers = w.items.filter((p) => p.offer_expires_at);
  const places = w.items.filter((p) => !p.offer_expires_at);
  section.hidden = w.items.length === 0 && w.news.length === 0;
  replace(section.querySelector('.offers'), offers.map((p) => offerRow(p, w.nameOf(p.course_id), w)));
  replace(section.querySelector('.places'), places.map((p) => placeRow(p, w.nameOf(p.course_id), w)));
  const news = section.querySelector('.news-list');
  const old = new Map([...news.children].map((li) => [li.dataset.key, li]));
  // Kept rows stay put, so the live region says only what is new.
  const rows = w.news.map((n) => {
    const key = `${n.id}|${document.documentElement.lang}`;
    const li = old.get(key) ?? newsRow(n, w);
    li.dataset.key = key;
    return li;
  });
  const same = rows.length === news.children.length && rows.every((li, i) => news.children[i] === li);
  if (same) return;
  const hadFocus = news.contains(document.activeElement);
  news.replaceChildren(...rows);
  if (hadFocus && !news.contains(document.activeElement)) section.querySelector('h2').focus({ preventScroll: true });
}
