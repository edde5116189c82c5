// The registration window as the page shows it: read with the server's
// clock (see clock.js), the phase it is in now, and the countdown to its
// opening second.

import { h } from './dom.js';
import { t, duration, dateTime } from './i18n.js';
import { api } from './api.js';
import { sample, serverNow } from './clock.js';

/** Reads the window, taking a sample of the server's clock with it. */
export async function readWindow() {
  const sent = Date.now();
  const w = await api('GET', '/api/v1/registration-window');
  sample(w.now, sent, Date.now());
  return w;
}

/** unset | before | open | closed, by the server's clock. */
export function phaseOf(w, now = serverNow()) {
  if (!w?.opens_at) return 'unset';
  if (now < Date.parse(w.opens_at)) return 'before';
  if (now < Date.parse(w.closes_at)) return 'open';
  return 'closed';
}

export function renderCountdown(el, w, phase) {
  el.dataset.state = phase;
  if (phase === 'before') {
    el.replaceChildren(h('span', { class: 'label', text: t('window.opens_in') }),
      h('span', { class: 'clock', role: 'timer', text: duration(Date.parse(w.opens_at) - serverNow()) }),
      h('span', { class: 'at', text: dateTime(new Date(w.opens_at)) }));
  } else if (phase === 'open') {
    el.replaceChildren(h('span', { class: 'label', text: t('window.open') }),
      h('span', { class: 'at', text: t('window.closes_at', { at: dateTime(new Date(w.closes_at)) }) }));
  } else {
    el.replaceChildren(h('span', { class: 'label', text: t(phase === 'closed' ? 'window.closed' : 'window.unset') }));
  }
}
