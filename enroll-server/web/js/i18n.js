// Korean and English: the words of the page, chosen by a toggle and
// remembered; Korean first when the browser prefers it.

import { MESSAGES } from './messages.js';
import { $$ } from './dom.js';

const STORE = 'enroll.lang';
let lang = initial();
const listeners = new Set();

function initial() {
  const saved = localStorage.getItem(STORE);
  if (saved === 'ko' || saved === 'en') return saved;
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  const first = wanted.find((l) => /^(ko|en)\b/i.test(l));
  return first && /^ko/i.test(first) ? 'ko' : 'en';
}

export const currentLang = () => lang;

export function setLang(next) {
  lang = next;
  localStorage.setItem(STORE, next);
  apply();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
}

/** The words for `key` with `{name}` placeholders filled in. */
export function t(key, vars = {}) {
  const words = MESSAGES[lang][key] ?? MESSAGES.en[key] ?? key;
  return words.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Whether a message exists (error codes the page knows in words). */
export const has = (key) => key in MESSAGES[lang];

/** Fills every `data-i18n` element (and `data-i18n-<attr>` attributes). */
export function apply(root = document) {
  document.documentElement.lang = lang;
  document.title = t('title');
  for (const el of $$('[data-i18n]', root)) el.textContent = t(el.dataset.i18n);
  for (const el of $$('[data-i18n-placeholder]', root)) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of $$('[data-i18n-label]', root)) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}

const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
export const dayName = (day) => t(`day.${day}`);
export const dayIndex = (day) => DAYS.indexOf(day);
export const allDays = () => DAYS.slice();

/** `월 09:00–10:15, 수 09:00–10:15` */
export function scheduleText(meetings) {
  if (!meetings?.length) return t('schedule.none');
  return meetings.map((m) => `${dayName(m.day)} ${m.start}–${m.end}`).join(', ');
}

export function dateTime(date) {
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(date);
}

/** `1:02:03` or `2일 3:04:05` for a duration in milliseconds. */
export function duration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86400);
  const hh = Math.floor((total % 86400) / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, '0');
  const ss = String(total % 60).padStart(2, '0');
  const clock = `${String(hh).padStart(2, '0')}:${mm}:${ss}`;
  return d > 0 ? t('duration.days', { d, clock }) : clock;
}
