// The pre-registration cart (장바구니): during its period a student puts
// courses in it and sees, for each, what would stop it from being
// enrolled at the close (`GET /api/v1/cart`'s `problems`), in words.
// The server settles the cart by itself at the close and says so over the
// event stream (a `cart` event to every page at once): then, after a random
// pause of up to 3 s (ten thousand pages do not read in the same second),
// this reads the cart and has the page read the student's enrollments
// once, and says what the close did with each course and why.
//
// The cart is not polled for the close. Reads: the first one; one after
// the stream's `ready` or `resync` (spread the same way: the period may
// have changed meanwhile); one 10–20 s after the close by the server's
// clock (each page its own moment) in case the event was missed; every
// 30 s while the cart is due to settle and the stream is down; every
// minute while the cart is open (a course may fill up); else every
// 5 minutes.

import { h, replace } from './dom.js';
import { t, has, scheduleText, dateTime } from './i18n.js';
import { api } from './api.js';
import { serverNow } from './clock.js';

const SPREAD_MS = 3000;
const FALLBACK_MS = 10000;
const FALLBACK_SPREAD_MS = 10000;
const DOWN_EVERY_MS = 30000;
const OPEN_EVERY_MS = 60000;
const IDLE_EVERY_MS = 300000;

const jitter = (ms) => Math.random() * ms;

/** none | before | open | settling | settled, for `cart` at `now`. */
export function cartState(cart, now) {
  if (!cart?.opens_at) return 'none';
  if (cart.settled_at) return 'settled';
  if (now < Date.parse(cart.opens_at)) return 'before';
  if (now < Date.parse(cart.closes_at)) return 'open';
  return 'settling';
}

/**
 * The student's cart and its actions. `host` gives `render()`,
 * `settled()` (the close run finished while the page was open: read the
 * enrollments), `live()` (whether the event stream is up) and
 * `fail(error)` (a refusal, told in words).
 */
export class Cart {
  constructor(host) {
    this.host = host;
    this.data = null;
    this.shown = 'none';
    /** When the last read started, by the server's clock (0: never). */
    this.readAt = 0;
    this.reading = false;
    /** A read asked for by the stream, by the server's clock. */
    this.planned = null;
    /** This page's own moment after the close for the read in case the event was missed. */
    this.fallbackAfter = FALLBACK_MS + jitter(FALLBACK_SPREAD_MS);
  }

  state(now = serverNow()) {
    return cartState(this.data, now);
  }

  /** Whether courses may be put in or taken out now. */
  open() {
    return this.state() === 'open';
  }

  has(courseId) {
    return Boolean(this.data?.items.some((c) => c.id === courseId));
  }

  async load() {
    this.reading = true;
    this.readAt = serverNow();
    try {
      await this.take(await api('GET', '/api/v1/cart'));
    } finally {
      this.reading = false;
    }
  }

  /** Takes a fresh read; when it is the first to show the cart settled,
   * the enrollments are read again before the outcome is shown. */
  async take(fresh) {
    const was = this.data;
    if (was?.opens_at && !was.settled_at && fresh.settled_at) await this.host.settled();
    this.data = fresh;
    this.host.render();
  }

  /** Plans a read at a random moment within `spread` ms (unless one is
   * planned sooner). */
  readSoon(spread = SPREAD_MS) {
    const at = serverNow() + jitter(spread);
    if (this.planned === null || at < this.planned) this.planned = at;
  }

  /** The stream's `cart` event: the cart was settled. */
  heard(event) {
    if (event?.settled && !this.data?.settled_at) this.readSoon();
  }

  /** The stream (re)started or may have missed events (a read that
   * started moments ago stands). */
  resync() {
    if (this.readAt && serverNow() - this.readAt > SPREAD_MS) this.readSoon();
  }

  /** When the cart is next to be read by its state, by the server's clock. */
  due() {
    if (!this.readAt) return 0;
    if (!this.data) return this.readAt + DOWN_EVERY_MS;
    const state = this.state();
    if (state === 'settling') {
      const fallback = Date.parse(this.data.closes_at) + this.fallbackAfter;
      if (this.readAt < fallback) return fallback;
      return this.readAt + (this.host.live() ? IDLE_EVERY_MS : DOWN_EVERY_MS);
    }
    return this.readAt + (state === 'open' ? OPEN_EVERY_MS : IDLE_EVERY_MS);
  }

  async add(course) {
    try {
      await this.take(await api('POST', `/api/v1/cart/${course.id}`));
    } catch (err) {
      await this.host.fail(err);
      await this.load().catch(() => {});
    }
  }

  async remove(course) {
    try {
      await api('DELETE', `/api/v1/cart/${course.id}`);
    } catch (err) {
      await this.host.fail(err);
    }
    await this.load().catch(() => {});
  }

  /** Called every 250 ms: reads the cart when a read is due, and redraws
   * when the period opens or closes. */
  tick() {
    const now = serverNow();
    if (!this.reading && now >= Math.min(this.due(), this.planned ?? Infinity)) {
      this.planned = null;
      this.load().catch(() => {});
    }
    const state = this.state(now);
    if (state !== this.shown) {
      this.shown = state;
      this.host.render();
    }
  }
}

/** What the close did with `course`: `{won, why}`, `why` the outcome's
 * code (a skip's reason) for a course not won. From the cart's own
 * `outcomes`, else from whether a seat is held. */
function outcomeOf(course, cart, held) {
  const o = cart.data.outcomes?.find((x) => x.course_id === course.id);
  if (!o) return { won: held.has(course.id), why: '' };
  if (o.outcome === 'enrolled') return { won: true, why: '' };
  return { won: false, why: o.outcome === 'skipped' ? (o.reason ?? 'skipped') : o.outcome };
}

function statusText(cart, state, held) {
  const d = cart.data;
  switch (state) {
    case 'before': return t('cart.before', { at: dateTime(new Date(d.opens_at)) });
    case 'open': return t('cart.open', { at: dateTime(new Date(d.closes_at)) });
    case 'settling': return t('cart.settling', { at: dateTime(new Date(d.closes_at)) });
    default: {
      const won = d.items.filter((c) => outcomeOf(c, cart, held).won).length;
      return t('cart.settled', { won, n: d.items.length });
    }
  }
}

/** Why a course was not won, in words. */
function lostText(why) {
  const key = `cart.lost.${why}`;
  return has(key) ? t(key) : t('cart.lost');
}

function problemText(p, cart) {
  return t(`cart.problem.${p.code}`, { with: p.with.join(', '), limit: cart.data.credit_limit });
}

function item(course, cart, state, held) {
  const name = `${course.code} ${course.name}`;
  const problems = cart.data.problems.filter((p) => p.course_id === course.id);
  const settled = state === 'settled' ? outcomeOf(course, cart, held) : null;
  let verdict;
  if (settled) {
    verdict = h('p', {
      class: `outcome ${settled.won ? 'won' : 'lost'}`,
      text: settled.won ? t('cart.won') : lostText(settled.why),
    });
  } else if (problems.length) {
    verdict = h('ul', { class: 'problems' }, problems.map((p) => h('li', {
      class: 'problem',
      dataset: { testid: 'cart-problem', code: p.code, courseId: String(course.id) },
      text: problemText(p, cart),
    })));
  } else {
    verdict = h('p', { class: 'outcome ok', text: t('cart.ok') });
  }
  return h('li', {
    class: 'cart-item',
    dataset: {
      testid: 'cart-item',
      courseId: String(course.id),
      outcome: settled ? (settled.won ? 'enrolled' : 'not_enrolled') : '',
      why: settled?.why ?? '',
    },
  },
  h('div', {},
    h('strong', {}, h('span', { class: 'code', text: course.code }), ' ', course.name),
    h('p', { class: 'meta', text: `${t('course.credits', { n: course.credits })} · ${scheduleText(course.schedule)}` }),
    verdict),
  state === 'open' ? h('button', {
    type: 'button',
    dataset: { testid: 'cart-remove', focus: `cart-out-${course.id}` },
    'aria-label': t('cart.remove_label', { name }),
    onclick: () => cart.remove(course),
  }, t('cart.remove')) : null);
}

/** The cart panel: hidden when there is no cart period (or nothing left
 * to say after it was settled). */
export function renderCart(section, cart, ctx) {
  const d = cart.data;
  const state = cart.state();
  section.hidden = state === 'none' || (state === 'settled' && !d.items.length);
  section.dataset.state = state;
  if (section.hidden) return;
  const held = new Set((ctx.me?.enrollments ?? []).map((e) => e.course_id));
  const status = section.querySelector('.cart-status');
  const words = statusText(cart, state, held);
  if (status.textContent !== words) status.textContent = words;
  section.querySelector('.cart-summary').textContent = t('cart.summary', {
    n: d.items.length, credits: d.cart_credits, enrolled: d.enrolled_credits, limit: d.credit_limit,
  });
  replace(section.querySelector('.cart-items'), d.items.length
    ? d.items.map((c) => item(c, cart, state, held))
    : [h('li', { class: 'empty', text: t('cart.empty') })]);
}
