// The weekly timetable: the student's courses on a grid of days and
// quarter hours, and a preview of the course under the pointer or the
// keyboard focus, with clashes marked before the student presses enroll.
// Blocks are placed through the CSS object model (`el.style.gridRow`),
// which the page's Content-Security-Policy allows; no inline styles.

import { h, replace } from './dom.js';
import { t, dayName, scheduleText } from './i18n.js';

const minutes = (hhmm) => {
  const [hh, mm] = hhmm.split(':').map(Number);
  return hh * 60 + mm;
};

/** Whether two meetings share a minute (back to back is fine). */
export function overlaps(a, b) {
  return a.day === b.day && minutes(a.start) < minutes(b.end) && minutes(b.start) < minutes(a.end);
}

/** The held courses `course` clashes with. */
export function clashesWith(course, held) {
  return held.filter(
    (e) => e.course_id !== course.id
      && e.schedule.some((m) => course.schedule.some((n) => overlaps(m, n))),
  );
}

const SLOT = 15;

/** Renders `held` (enrollments) and the optional `preview` course. */
export function renderTimetable(container, held, preview) {
  const all = [...held.map((e) => e.schedule), preview ? preview.schedule : []].flat();
  const days = ['MON', 'TUE', 'WED', 'THU', 'FRI'];
  for (const d of ['SAT', 'SUN']) if (all.some((m) => m.day === d)) days.push(d);
  let from = 9 * 60;
  let to = 18 * 60;
  for (const m of all) {
    from = Math.min(from, Math.floor(minutes(m.start) / 60) * 60);
    to = Math.max(to, Math.ceil(minutes(m.end) / 60) * 60);
  }
  const rowOf = (mins) => Math.round((mins - from) / SLOT) + 2;
  const grid = h('div', { class: 'tt-grid', 'aria-hidden': 'true' });
  grid.style.gridTemplateColumns = `3.2em repeat(${days.length}, minmax(0, 1fr))`;
  grid.style.gridTemplateRows = `auto repeat(${(to - from) / SLOT}, var(--slot))`;
  grid.append(h('div', { class: 'tt-corner' }));
  days.forEach((d, i) => {
    const head = h('div', { class: 'tt-day', text: dayName(d) });
    head.style.gridColumn = String(i + 2);
    grid.append(head);
  });
  for (let m = from; m < to; m += 60) {
    const label = h('div', { class: 'tt-hour', text: `${String(m / 60).padStart(2, '0')}` });
    label.style.gridRow = `${rowOf(m)} / span ${60 / SLOT}`;
    grid.append(label);
    const line = h('div', { class: 'tt-line' });
    line.style.gridRow = String(rowOf(m));
    line.style.gridColumn = `2 / span ${days.length}`;
    grid.append(line);
  }
  const place = (course, m, cls) => {
    const col = days.indexOf(m.day);
    if (col < 0) return;
    const block = h('div', { class: `tt-block ${cls}` },
      h('strong', { text: course.code }), h('span', { text: `${m.start}–${m.end}` }));
    block.style.gridColumn = String(col + 2);
    block.style.gridRow = `${rowOf(minutes(m.start))} / ${rowOf(minutes(m.end))}`;
    grid.append(block);
  };
  for (const e of held) {
    const clash = preview && clashesWith(preview, [e]).length > 0;
    for (const m of e.schedule) place(e, m, clash ? 'held clash' : 'held');
  }
  if (preview && !held.some((e) => e.course_id === preview.id)) {
    const clash = clashesWith(preview, held).length > 0;
    for (const m of preview.schedule) place(preview, m, clash ? 'preview clash' : 'preview');
  }
  // What the grid shows, as text, for screen readers.
  const summary = h('ul', { class: 'sr-only' },
    held.length === 0 ? h('li', { text: t('timetable.empty') })
      : held.map((e) => h('li', { text: `${e.code} ${e.name}: ${scheduleText(e.schedule)}` })));
  const caption = preview
    ? h('p', { class: 'tt-preview-note', 'aria-live': 'polite' },
      clashesWith(preview, held).length > 0
        ? t('timetable.preview_clash', { code: preview.code, with: clashesWith(preview, held).map((e) => e.code).join(', ') })
        : t('timetable.preview', { code: preview.code }))
    : h('p', { class: 'tt-preview-note', 'aria-live': 'polite' }, t('timetable.hint'));
  replace(container, [caption, grid, summary]);
}
