// The catalogue: search, department filter, pages, and one row per course
// with seats left, credits and schedule. Each row's enroll button is
// disabled, with the reason in words next to it, when pressing it could
// not succeed: not open yet, already held or in line, full, clashing with
// the timetable, or past the credit limit. A full course with a waitlist
// offers to join it; during the cart period a row puts its course in the
// cart or takes it out.

import { h, replace } from './dom.js';
import { t, scheduleText } from './i18n.js';
import { clashesWith } from './timetable.js';

/** Seats the logged-in student could take (reserved seats of blocks they
 * do not qualify for left out), else all seats left. */
const left = (course) => course.remaining_for_you ?? course.remaining;

/** Why `course` cannot be enrolled in now, or null. */
export function blocker(course, ctx) {
  const held = ctx.me?.enrollments ?? [];
  if (held.some((e) => e.course_id === course.id)) return { code: 'held' };
  const ticket = ctx.book?.forCourse(course.id);
  if (ticket?.status === 'queued') return { code: 'queued' };
  const place = ctx.waits?.place(course.id);
  if (place) return place.offer_expires_at ? { code: 'offered' } : { code: 'waiting', n: place.position };
  if (!ctx.open) return { code: ctx.closed ? 'closed' : 'not_open' };
  if (left(course) <= 0) return { code: 'full' };
  const clash = clashesWith(course, held);
  if (clash.length) return { code: 'clash', with: clash.map((e) => e.code).join(', ') };
  if (ctx.me && ctx.me.credits_total + course.credits > ctx.me.credit_limit) {
    return { code: 'credits', limit: ctx.me.credit_limit };
  }
  return null;
}

function seats(course) {
  if (left(course) <= 0) {
    const waiting = course.waitlisted > 0 ? ` · ${t('course.waitlisted', { n: course.waitlisted })}` : '';
    return h('span', { class: 'seats full', text: t('course.full') + waiting });
  }
  const text = t('course.seats', { n: left(course), cap: course.capacity });
  const reserved = course.reserved > 0 ? ` · ${t('course.reserved', { n: course.reserved })}` : '';
  return h('span', { class: 'seats', text: text + reserved });
}

function row(course, ctx) {
  const why = blocker(course, ctx);
  const reasonId = `why-${course.id}`;
  const button = h('button', {
    type: 'button',
    class: 'enroll',
    dataset: { testid: 'enroll-button', focus: `enroll-${course.id}` },
    disabled: why !== null,
    'aria-describedby': why ? reasonId : null,
    'aria-label': t('course.enroll_label', { name: course.name }),
    onclick: () => ctx.onEnroll(course),
  }, t('course.enroll'));
  const name = course.name;
  // During the cart period: put the course in the cart or take it out
  // (not one the student holds, or is offered a seat in).
  const cart = ctx.cart?.open() && !['held', 'offered'].includes(why?.code)
    ? (ctx.cart.has(course.id)
      ? h('button', { type: 'button', class: 'cart in', dataset: { testid: 'cart-remove', focus: `cart-${course.id}` },
        'aria-label': t('cart.remove_label', { name }), onclick: () => ctx.cart.remove(course) }, t('cart.remove'))
      : h('button', { type: 'button', class: 'cart', dataset: { testid: 'cart-add', focus: `cart-${course.id}` },
        'aria-label': t('cart.add_label', { name }), onclick: () => ctx.cart.add(course) }, t('cart.add')))
    : null;
  // A full course with a waitlist: join it.
  const join = why?.code === 'full' && ctx.waits?.joinable(course, ctx.open)
    ? h('button', { type: 'button', class: 'join', dataset: { testid: 'waitlist-join', focus: `join-${course.id}` },
      'aria-label': t('waitlist.join_label', { name }), onclick: () => ctx.waits.join(course) }, t('waitlist.join'))
    : null;
  const preview = () => ctx.onPreview(course);
  return h('li', {
    class: `course${why?.code === 'clash' ? ' clashes' : ''}`,
    dataset: { testid: 'course-row', courseId: String(course.id) },
    onmouseenter: preview,
    onfocusin: preview,
  },
  h('div', { class: 'course-head' },
    h('h3', {}, h('span', { class: 'code', text: course.code }), ' ', course.name),
    seats(course)),
  h('p', { class: 'meta' },
    [course.professor, course.department, t('course.credits', { n: course.credits })]
      .filter(Boolean).join(' · ')),
  h('p', { class: 'when', text: scheduleText(course.schedule) }),
  h('div', { class: 'course-actions' },
    why ? h('span', { class: `why why-${why.code}`, id: reasonId, dataset: { reason: why.code },
      text: t(`blocked.${why.code}`, why) }) : null,
    join, cart, button));
}

/** Renders the page of courses and its pager. */
export function renderCatalogue(list, pager, ctx) {
  const { items, page, per_page: perPage, total } = ctx.catalogue;
  replace(list, items.length ? items.map((c) => row(c, ctx))
    : [h('li', { class: 'empty', text: t('catalogue.none') })]);
  const pages = Math.max(1, Math.ceil(total / perPage));
  replace(pager, pages <= 1 ? [] : [
    h('button', { type: 'button', dataset: { focus: 'prev' }, disabled: page <= 1,
      onclick: () => ctx.onPage(page - 1) }, t('catalogue.prev')),
    h('span', { text: t('catalogue.page', { page, pages }) }),
    h('button', { type: 'button', dataset: { focus: 'next' }, disabled: page >= pages,
      onclick: () => ctx.onPage(page + 1) }, t('catalogue.next')),
  ]);
}

/** Fills the department filter from the departments seen. */
export function renderDepartments(select, departments) {
  const current = select.value;
  replace(select, [h('option', { value: '', text: t('catalogue.all_departments') }),
    ...departments.map((d) => h('option', { value: d, text: d }))]);
  select.value = departments.includes(current) ? current : '';
}
