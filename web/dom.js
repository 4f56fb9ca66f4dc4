// Builds DOM nodes from data without HTML strings: text is always text (no injection from
// a subject or a sender), and no inline style attribute is ever written (the server's
// Content-Security-Policy allows none).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A <label> and its control, tied by id.
let seq = 0;
export function field(labelText, control, help) {
  if (!control.id) control.id = `f${++seq}`;
  const parts = [h('label', { for: control.id }, labelText), control];
  if (help) {
    const helpId = `${control.id}-help`;
    control.setAttribute('aria-describedby', helpId);
    parts.push(h('p', { class: 'help', id: helpId }, help));
  }
  return h('div', { class: control.type === 'checkbox' ? 'field check' : 'field' },
    ...(control.type === 'checkbox' ? [control, parts[0], ...parts.slice(2)] : parts));
}
