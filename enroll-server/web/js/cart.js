// The pre-registration cart (장바구니): during its period a student puts
// courses in it and sees, for each, what would stop it from being
// enrolled at the close (`GET /api/v1/cart`'s `problems`), in words.
// The server settles the cart by itself at the close; this reads the cart
// every second from the close (by the server's clock) until it is settled,
// then has the page read the student's enrollments again and says which
// courses the cart won.

import { h, replace } from './dom.js';
import { t, scheduleText, dateTime } from './i18n.js';
import { api } from './api.js';
import { serverNow } from './clock.js';

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
 * `settled()` (the close run finished while the page was open) and
 * `fail(error)` (a refusal, told in words).
 */
export class Cart {
  constructor(host) {
    this.host = host;
    this.data = null;
    this.shown = 'none';
    this.readAt = 0;
    this.reading = false;
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
    try {
      await this.take(await api('GET', '/api/v1/cart'));
    } finally {
      this.reading = false;
      this.readAt = Date.now();
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

  /** Called every 250 ms: redraws when the period opens or closes, and
   * reads the cart every second while the close run is due. */
  tick() {
    const state = this.state();
    if (state === 'settling' && !this.reading && Date.now() - this.readAt >= 1000) {
      this.load().catch(() => {});
    }
    if (state !== this.shown) {
      this.shown = state;
      this.host.render();
    }
  }
}

function statusText(cart, state, held) {
  const d = cart.data;
  switch (state) {
    case 'before': return t('cart.before', { at: dateTime(new Date(d.opens_at)) });
    case 'open': return t('cart.open', { at: dateTime(new Date(d.closes_at)) });
    case 'settling': return t('cart.settling', { at: dateTime(new Date(d.closes_at)) });
    default: {
      const won = d.items.filter((c) => held.has(c.id)).length;
      return t('cart.settled', { won, n: d.items.length });
    }
  }
}

function problemText(p, cart) {
  return t(`cart.problem.${p.code}`, { with: p.with.join(', '), limit: cart.data.credit_limit });
}

function item(course, cart, state, held) {
  const name = `${course.code} ${course.name}`;
  const problems = cart.data.problems.filter((p) => p.course_id === course.id);
  let verdict;
  if (state === 'settled') {
    const won = held.has(course.id);
    verdict = h('p', { class: `outcome ${won ? 'won' : 'lost'}`, text: t(won ? 'cart.won' : 'cart.lost') });
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
      outcome: state === 'settled' ? (held.has(course.id) ? 'enrolled' : 'not_enrolled') : '',
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
