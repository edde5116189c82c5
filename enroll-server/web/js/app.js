// The students' page: wiring. Views, timers and the event stream live
// here; what each part shows is in its own module.

import { $, show, ask } from './dom.js';
import { t, apply, setLang, currentLang, onLangChange } from './i18n.js';
import { api, ApiError, onWait, onUnauthenticated } from './api.js';
import { readWindow as fetchWindow, phaseOf, renderCountdown } from './countdown.js';
import { openStream } from './stream.js';
import { Follow } from './follow.js';
import { TicketBook } from './tickets.js';
import { renderTimetable } from './timetable.js';
import { renderCatalogue, renderDepartments } from './catalogue.js';
import { renderEnrollments, renderTickets } from './enrollments.js';
import { Cart, renderCart } from './cart.js';
import { Waitlists, renderWaitlists } from './waitlist.js';

const PER_PAGE = 20;
const s = {
  me: null,
  window: null,
  phase: 'unknown', // before | open | closed | unset
  book: null,
  cart: null, // the pre-registration cart (cart.js)
  waits: null, // waitlist places, offers and news (waitlist.js)
  stream: null,
  live: false,
  follow: new Follow(), // which queued tickets the stream moves
  preview: null,
  courses: new Map(), // every course seen, by id (names for tickets)
  catalogue: { items: [], page: 1, per_page: PER_PAGE, total: 0 },
  query: '',
  department: '',
  departments: [],
  timers: [],
};

// ---- messages to the student -------------------------------------------

let alertTimer = null;
function tell(text) {
  const el = $('#alert');
  el.textContent = text;
  show(el, Boolean(text));
  clearTimeout(alertTimer);
  if (text) alertTimer = setTimeout(() => tell(''), 10000);
}
const tellError = (err) => tell(err instanceof ApiError ? err.words() : t('error.generic', { status: '?' }));

onWait((seconds, code) => {
  const el = $('#notice');
  if (seconds === null) return show(el, false);
  el.textContent = code === 'network' ? t('wait.network', { s: seconds }) : t('wait.busy', { s: seconds });
  show(el, true);
});

// ---- the registration window and its countdown -----------------------------

async function readWindow() {
  s.window = await fetchWindow();
  tick();
}

function tick() {
  s.cart?.tick();
  s.waits?.tick($('#waitlist-panel'));
  const phase = phaseOf(s.window);
  renderCountdown($('#countdown'), s.window, phase);
  if (phase !== s.phase) {
    const opened = s.phase === 'before' && phase === 'open';
    s.phase = phase;
    renderAll();
    if (opened) $('#opened').textContent = t('window.now_open');
  }
}

// ---- data ------------------------------------------------------------------

async function loadMe() {
  s.me = await api('GET', '/api/v1/me');
  $('#student-name').textContent = t('who.name', { name: s.me.name, no: s.me.student_no });
  $('#credits').textContent = t('who.credits', { used: s.me.credits_total, limit: s.me.credit_limit });
  for (const e of s.me.enrollments) if (!s.courses.has(e.course_id)) s.courses.set(e.course_id, e);
}

async function loadCatalogue(page = s.catalogue.page) {
  const q = new URLSearchParams({ page, per_page: PER_PAGE });
  if (s.query) q.set('query', s.query);
  if (s.department) q.set('department', s.department);
  $('#catalogue-status').textContent = t('catalogue.loading');
  const result = await api('GET', `/api/v1/courses?${q}`);
  s.catalogue = result;
  for (const c of result.items) s.courses.set(c.id, c);
  $('#catalogue-status').textContent = t('catalogue.count', { n: result.total });
  renderAll();
}

async function loadDepartments() {
  const seen = new Set();
  for (let page = 1; page <= 5; page++) {
    const r = await api('GET', `/api/v1/courses?per_page=100&page=${page}`);
    for (const c of r.items) {
      s.courses.set(c.id, c);
      if (c.department) seen.add(c.department);
    }
    if (page * 100 >= r.total) break;
  }
  s.departments = [...seen].sort();
  renderDepartments($('#department'), s.departments);
}

function markFull(courseId) {
  for (const c of [s.courses.get(courseId), s.catalogue.items.find((i) => i.id === courseId)]) {
    if (c && 'remaining' in c) {
      c.remaining = 0;
      if ('remaining_for_you' in c) c.remaining_for_you = 0;
    }
  }
}

/**
 * Reads the pending tickets again (after `ready` and `resync`); with
 * `unmoved`, only those whose place the stream does not move (every 2 s:
 * all of them while the stream is down).
 */
async function refreshPending({ unmoved = false } = {}) {
  let pending = s.book?.pending() ?? [];
  if (unmoved && s.live) pending = pending.filter((p) => !s.follow.moves(p.ticket));
  if (!pending.length) return;
  for (let i = 0; i < pending.length; i += 32) {
    const ids = pending.slice(i, i + 32).map((p) => p.ticket);
    const r = await api('GET', `/api/v1/enrollments/tickets?ids=${encodeURIComponent(ids.join(','))}`);
    for (const tk of r.tickets) {
      // A place the stream moved while this read was on its way is newer.
      if (tk.status === 'queued' && s.follow.moves(tk.ticket)) continue;
      s.book.update({ ...tk, via: 'read', source: 'read' }, { save: false });
    }
    s.book.remove(r.unknown);
    s.book.save();
    if (r.tickets.some((tk) => tk.status === 'enrolled')) await loadMe();
  }
}

// ---- actions -----------------------------------------------------------------

async function enroll(course) {
  const button = document.querySelector(`[data-testid=course-row][data-course-id="${course.id}"] [data-testid=enroll-button]`);
  if (button) button.disabled = true;
  try {
    const ticket = await api('POST', '/api/v1/enrollments', { course_id: course.id });
    s.book.update({ ...ticket, via: 'enroll', source: 'enroll' });
    const early = s.follow.takeEarly(ticket.ticket);
    if (early) moved(early);
    $('#tickets-title').focus();
  } catch (err) {
    tellError(err);
    if (err.code === 'already_enrolled') await loadMe();
    if (err.code === 'course_full') await loadCatalogue();
    renderAll();
  }
}

async function cancel(enrollment) {
  const name = `${enrollment.code} ${enrollment.name}`;
  if (!(await ask(t('confirm.cancel', { name }), t('confirm.yes')))) return;
  try {
    await api('DELETE', `/api/v1/enrollments/${enrollment.course_id}`);
    s.book.forgetCourse(enrollment.course_id);
    tell(t('enrollments.cancelled', { name: enrollment.name }));
  } catch (err) {
    tellError(err);
  }
  await Promise.allSettled([loadMe(), loadCatalogue()]);
  renderAll();
  $('#enrollments-title').focus();
}

const refreshSeats = () => Promise.allSettled([loadMe(), loadCatalogue()]).then(renderAll);

/** What cart.js and waitlist.js ask of the page. */
const host = {
  render: () => renderAll(),
  refresh: refreshSeats,
  // The cart was settled: the seats it won are among my enrollments.
  settled: () => loadMe().then(renderAll).catch(() => {}),
  live: () => s.live,
  name: (id) => {
    const c = s.courses.get(id);
    return c ? `${c.code} ${c.name}` : t('ticket.course', { id });
  },
  offered: (text) => {
    $('#offer-said').textContent = text;
  },
  said: (text) => {
    $('#opened').textContent = text;
  },
  /** A refused cart or waitlist action, in words. */
  fail: async (err) => {
    tellError(err);
    // Seats came back, or the course changed: show it as it is now.
    if (['seats_left', 'waitlist_off', 'already_enrolled'].includes(err.code)) await loadCatalogue().catch(() => {});
  },
};

// ---- rendering ---------------------------------------------------------------

function ctx() {
  return {
    me: s.me,
    book: s.book,
    open: s.phase === 'open',
    closed: s.phase === 'closed',
    catalogue: s.catalogue,
    onEnroll: enroll,
    onCancel: cancel,
    cart: s.cart,
    waits: s.waits,
    onJoinCourse: (id) => s.waits.join(s.courses.get(id)),
    canJoin: (id) => s.courses.has(id) && s.waits.joinable(s.courses.get(id), s.phase === 'open'),
    onPage: (p) => loadCatalogue(p).catch(tellError),
    onPreview: (course) => {
      if (s.preview?.id === course.id) return;
      s.preview = course;
      renderTimetable($('#timetable'), s.me?.enrollments ?? [], s.preview);
    },
    onDismiss: (tk) => s.book.remove([tk.ticket]),
    announce: (text) => {
      $('#opened').textContent = text;
    },
  };
}

function renderAll() {
  if (!s.me) return;
  const c = ctx();
  renderCatalogue($('#courses'), $('#pager'), c);
  renderTimetable($('#timetable'), s.me.enrollments, s.preview);
  renderEnrollments($('#enrollments'), $('#enrollments-summary'), s.me, c);
  if (s.book) renderTickets($('#tickets'), s.book, s.courses, c);
  if (s.cart) renderCart($('#cart-panel'), s.cart, c);
  if (s.waits) renderWaitlists($('#waitlist-panel'), s.waits);
}

/** Waitlist places when there are any (`all`: after the stream's `ready`,
 * with the cart, which otherwise reads itself when due: cart.js). */
function readRules({ all = false } = {}) {
  if (s.cart && all) s.cart.resync();
  if (s.waits && (all || s.waits.items.length)) s.waits.load().catch(() => {});
}

// ---- session -------------------------------------------------------------------

/** A place pushed by the stream: shown at once. */
function moved(p) {
  if (!s.follow.pushed(p, Boolean(s.book?.tickets.has(p.ticket)))) return;
  s.book.update({
    ticket: p.ticket,
    course_id: p.course_id,
    status: 'queued',
    position: p.position,
    eta_ms: p.eta_ms,
    admission_paused: p.admission_paused ?? false,
    source: 'stream',
  });
}

/** Opens the stream again when it does not move a queued ticket (see follow.js). */
function followAll() {
  if (s.live && s.book && s.follow.lost(s.book.pending(), Date.now())) connect();
}

function connect() {
  s.stream?.close();
  s.live = false;
  const named = s.book.pending().map((tk) => tk.ticket);
  s.follow.opened(named);
  s.stream = openStream({
    ready: () => {
      // Counted for tests and curious students: how often the stream (re)started.
      document.body.dataset.streamReady = String(Number(document.body.dataset.streamReady || 0) + 1);
      s.follow.ready();
      readRules({ all: true });
      return Promise.all([refreshPending(), loadMe()]).then(renderAll).catch(tellError);
    },
    position: moved,
    resync: () => {
      s.cart?.resync();
      s.waits?.load().catch(() => {});
      refreshPending().catch(tellError);
    },
    waitlist: (m) => s.waits.moved(m).catch(tellError),
    cart: (e) => {
      // Counted for tests: how many times the stream said the cart was settled.
      document.body.dataset.cartEvents = String(Number(document.body.dataset.cartEvents || 0) + 1);
      s.cart?.heard(e);
    },
    ticket: async (d) => {
      s.book.update({ ...d, via: 'stream' });
      if (d.status === 'enrolled') await loadMe().catch(tellError);
      // The catalogue comes from a replica that may not have the decision
      // yet; a course that just refused for want of seats is full.
      if (d.reason === 'course_full') markFull(d.course_id);
      else if (d.status !== 'queued') loadCatalogue().catch(() => {});
      renderAll();
    },
    state: (state) => {
      s.live = state === 'live';
      $('#live').dataset.state = state;
      $('#live').textContent = t(`live.${state}`);
    },
    closed: () => api('GET', '/api/v1/me').catch(() => {}),
  }, named);
}

async function enter() {
  show($('#login-view'), false);
  show($('#app-view'), true);
  show($('#who'), true);
  s.book?.close();
  s.book = new TicketBook(s.me.id, () => renderAll());
  s.cart = new Cart(host);
  s.waits = new Waitlists(host);
  connect();
  renderAll();
  await Promise.all([loadCatalogue(1), loadDepartments()]);
  const every = (ms, fn) => s.timers.push(setInterval(fn, ms));
  every(250, tick);
  every(30000, () => readWindow().catch(() => {}));
  // Places the stream does not move (all while it is down) are read.
  every(2000, () => refreshPending({ unmoved: true }).catch(() => {}));
  every(500, followAll);
  // Seats change all morning.
  every(15000, () => document.hidden || loadCatalogue().catch(() => {}));
  every(15000, () => document.hidden || readRules());
  every(1000, () => s.book && s.book.pending().length && renderTickets($('#tickets'), s.book, s.courses, ctx()));
}

function leave() {
  s.stream?.close();
  s.stream = null;
  s.live = false;
  s.book?.close();
  s.book = null;
  s.cart = null;
  s.waits = null;
  s.me = null;
  s.timers.forEach(clearInterval);
  s.timers = [];
  show($('#app-view'), false);
  show($('#who'), false);
  show($('#login-view'), true);
  $('[data-testid=login-student-no]').focus();
}

onUnauthenticated(() => {
  if (s.me) tell(t('error.unauthenticated'));
  leave();
});

async function login(e) {
  e.preventDefault();
  const form = e.target;
  const error = $('#login-error');
  error.textContent = '';
  const studentNo = form.student_no.value.trim();
  const password = form.password.value;
  if (!studentNo || !password) {
    error.textContent = t('login.missing');
    return;
  }
  form.querySelector('button').disabled = true;
  try {
    await api('POST', '/api/v1/auth/login', { student_no: studentNo, password });
    form.password.value = '';
    await loadMe();
    await enter();
    $('#app-title').focus();
  } catch (err) {
    error.textContent = err.words();
  } finally {
    form.querySelector('button').disabled = false;
  }
}

async function logout() {
  try {
    await api('POST', '/api/v1/auth/logout');
  } catch {
    // The session is gone either way for this page.
  }
  leave();
}

// ---- start -------------------------------------------------------------------

function relabel() {
  apply();
  $('#lang').textContent = currentLang() === 'ko' ? 'English' : '한국어';
  $('#lang').setAttribute('lang', currentLang() === 'ko' ? 'en' : 'ko');
  if (s.me) {
    $('#student-name').textContent = t('who.name', { name: s.me.name, no: s.me.student_no });
    $('#credits').textContent = t('who.credits', { used: s.me.credits_total, limit: s.me.credit_limit });
    renderDepartments($('#department'), s.departments);
    $('#catalogue-status').textContent = t('catalogue.count', { n: s.catalogue.total });
  }
  s.phase = 'unknown';
  if (s.window) tick();
  renderAll();
}

async function start() {
  relabel();
  onLangChange(relabel);
  $('#lang').addEventListener('click', () => setLang(currentLang() === 'ko' ? 'en' : 'ko'));
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  let debounce = null;
  $('#search').addEventListener('input', (e) => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      s.query = e.target.value.trim();
      loadCatalogue(1).catch(tellError);
    }, 250);
  });
  $('#filters').addEventListener('submit', (e) => e.preventDefault());
  $('#department').addEventListener('change', (e) => {
    s.department = e.target.value;
    loadCatalogue(1).catch(tellError);
  });
  try {
    await readWindow();
  } catch (err) {
    tellError(err);
  }
  try {
    await loadMe();
    await enter();
  } catch (err) {
    if (err.status !== 401) tellError(err);
    leave();
  }
  document.body.dataset.ready = 'true';
}

start();
