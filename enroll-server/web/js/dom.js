// Small DOM helpers: build elements without innerHTML (nothing a server or
// a student typed is ever parsed as markup), and keep keyboard focus across
// re-renders.

/** `h('li', {class: 'x', dataset: {testid: 'row'}}, 'text', child)` */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/**
 * Replaces `container`'s children with `nodes`, then gives focus back to the
 * element with the same `data-focus` key, so a keyboard or screen-reader
 * user does not lose their place when a list is redrawn.
 */
export function replace(container, nodes) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focus : undefined;
  container.replaceChildren(...nodes);
  if (key) {
    const again = container.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    if (again && !again.disabled) again.focus({ preventScroll: true });
    else container.closest('section')?.querySelector('h2')?.focus({ preventScroll: true });
  }
}

export function show(el, visible) {
  el.hidden = !visible;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Asks `text` in the page's modal dialog, its confirming button saying
 * `yes`; "no" has the focus first. Resolves to whether the student said yes.
 */
export async function ask(text, yes) {
  const dialog = $('#confirm');
  $('#confirm-text').textContent = text;
  $('#confirm-yes').textContent = yes;
  const answer = await new Promise((resolve) => {
    $('#confirm-yes').onclick = () => dialog.close('yes');
    $('#confirm-no').onclick = () => dialog.close('no');
    dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = 'no';
    dialog.showModal();
    $('#confirm-no').focus();
  });
  return answer === 'yes';
}
