// The operators' connections page, in the browser: opens on what needs an operator now (held for
// review, callbacks and provisionings given up, clean-ups given up, suspensions in flight), finds
// connections by any id (?q=), shows one connection's timeline (?id=) and offers the actions its
// state accepts (approve, reject, suspend, retry) when the operator's role allows them (read from
// /ops/whoami; the server refuses them anyway). It calls the operations API with the session
// cookie; every value is written as text, never as HTML.
/* global document, window, fetch, URLSearchParams, setTimeout */

/** States in which a worker still has work to do: the page looks again until they move on. */
const MOVING = new Set(['received', 'approved', 'rejected', 'suspending']);
const REFRESH_MS = 1500;

const $ = (id) => document.getElementById(id);

/** An element with text (never HTML) and attributes. */
function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

async function api(path, init = {}) {
  const response = await fetch(path, {
    credentials: 'same-origin',
    ...init,
    headers: {
      accept: 'application/json',
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
  });
  if (response.status === 401) {
    window.location.assign(
      `/ops/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`,
    );
  }
  const body = await response.json().catch(() => null);
  return { status: response.status, body };
}

function notify(message, problem = false) {
  const notice = $('notice');
  notice.replaceChildren(el('div', message, { class: problem ? 'notice problem' : 'notice' }));
}

const consoleLink = (params) => `/ops/console?${new URLSearchParams(params).toString()}`;

function row(cells, attributes = {}) {
  const tr = el('tr', undefined, attributes);
  for (const cell of cells) {
    const td = el('td');
    if (cell instanceof window.Node) td.append(cell);
    else td.textContent = cell ?? '';
    tr.append(td);
  }
  return tr;
}

function table(headings, rows) {
  const head = el('tr');
  for (const heading of headings) head.append(el('th', heading));
  const t = el('table');
  t.append(el('thead'), el('tbody'));
  t.tHead.append(head);
  t.tBodies[0].append(...rows);
  return t;
}

/** Who is logged in and what their role allows; a viewer until /ops/whoami says otherwise. */
let me = { operator: null, role: 'viewer', may: { read: true, act: false, administer: false } };

async function loadWhoami() {
  const { status, body } = await api('/ops/whoami');
  if (status === 200) me = body;
  $('whoami').textContent = me.operator === null ? '' : `${me.operator} · ${me.role}`;
  document.body.dataset.role = me.role;
}

/** The page it opens on: every kind of connection that waits for an operator. */
async function showAttention() {
  const { status, body } = await api('/ops/attention');
  const section = $('attention');
  if (status !== 200) {
    notify(body?.message ?? `cannot read what needs attention (HTTP ${status})`, true);
    return;
  }
  const waiting = body.groups.filter((group) => group.connections.length > 0);
  const parts = [el('h2', 'Needs attention')];
  if (waiting.length === 0)
    parts.push(el('p', 'Nothing waits for an operator.', { class: 'muted', id: 'all-clear' }));
  for (const group of waiting) {
    const heading = el('h3', group.title);
    heading.append(
      el('span', ` (${group.connections.length}${group.more ? '+' : ''})`, { class: 'count' }),
    );
    parts.push(
      heading,
      table(
        ['Connection', 'Subscription', 'Organization', 'API', 'State', 'Waiting since'],
        group.connections.map((connection) =>
          row(
            [
              el('a', connection.connectionId, {
                href: consoleLink({ id: connection.connectionId }),
              }),
              connection.subscriptionId,
              `${connection.organizationName ?? ''} (${connection.organizationId ?? '?'})`,
              connection.apiId,
              el('span', connection.state, { class: 'state' }),
              connection.updatedAt,
            ],
            { 'data-kind': group.kind },
          ),
        ),
      ),
    );
  }
  section.replaceChildren(...parts);
}

async function showSearch(query) {
  $('q').value = query;
  const { status, body } = await api(`/ops/search?${new URLSearchParams({ q: query })}`);
  const results = $('results');
  if (status !== 200) {
    notify(body?.message ?? `search failed (HTTP ${status})`, true);
    return;
  }
  if (body.matches.length === 0) {
    results.replaceChildren(el('p', `No connection matches ${body.query}.`, { class: 'muted' }));
    return;
  }
  results.replaceChildren(
    el('h2', `${body.matches.length} connection(s) for ${body.query}`),
    table(
      ['Connection', 'Matched by', 'Subscription', 'Organization', 'API', 'State', 'Updated'],
      body.matches.map((match) =>
        row([
          el('a', match.connectionId, { href: consoleLink({ id: match.connectionId }) }),
          match.matchedBy,
          match.subscriptionId,
          `${match.organizationName ?? ''} (${match.organizationId ?? '?'})`,
          match.apiId,
          el('span', match.state, { class: 'state' }),
          match.updatedAt,
        ]),
      ),
    ),
  );
}

/** How long the page keeps looking for the change an accepted action asked for. */
const ACTION_WAIT_MS = 30_000;

/** A form that posts one action; `reason` adds a required reason field. */
function actionForm(connectionId, state, action, label, reason) {
  const form = el('form', undefined, { 'data-action': action });
  if (reason !== undefined) {
    form.append(
      el('label', reason, { for: `reason-${action}` }),
      el('input', undefined, {
        id: `reason-${action}`,
        name: 'reason',
        required: '',
        maxlength: '500',
        placeholder: 'Sent to Fortellis as the reason',
      }),
    );
  }
  const button = el('button', label, { type: 'submit' });
  form.append(button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    const text = form.querySelector('input')?.value;
    const { status, body } = await api(
      `/ops/connections/${encodeURIComponent(connectionId)}/${action}`,
      { method: 'POST', ...(text === undefined ? {} : { body: JSON.stringify({ reason: text }) }) },
    );
    if (status === 202) notify(`${label}: done (${body.status ?? 'queued'}).`);
    else notify(body?.message ?? `${label} failed (HTTP ${status})`, true);
    // A worker carries the action out: keep looking until the connection leaves this state.
    await showConnection(
      connectionId,
      status === 202 ? { from: state, until: Date.now() + ACTION_WAIT_MS } : undefined,
    );
  });
  return form;
}

function actionsFor(timeline) {
  const box = el('section', undefined, { class: 'actions' });
  box.append(el('h3', 'Actions'));
  const form = (...args) => actionForm(timeline.connectionId, timeline.state, ...args);
  if (!me.may.act) {
    box.append(
      el(
        'p',
        timeline.actions.length === 0
          ? `Nothing to do while it is ${timeline.state}.`
          : `It accepts ${timeline.actions.join(', ')}; your role (${me.role}) may only read.`,
        { class: 'muted', id: 'read-only' },
      ),
    );
    return box;
  }
  for (const action of timeline.actions) {
    if (action === 'approve') box.append(form('approve', 'Approve'));
    if (action === 'reject') box.append(form('reject', 'Reject', 'Reason'));
    if (action === 'retry') box.append(form('retry', 'Retry what failed'));
    if (action === 'suspend') box.append(form('suspend', 'Suspend (stop traffic)', 'Reason'));
  }
  if (timeline.actions.length === 0)
    box.append(el('p', `Nothing to do while it is ${timeline.state}.`, { class: 'muted' }));
  return box;
}

let refresh;

/**
 * Shows the connection; refreshes while a worker still has work on it, or while `waiting` (an
 * action just accepted) has not seen it leave the state it was in.
 */
async function showConnection(connectionId, waiting) {
  window.clearTimeout(refresh);
  const { status, body } = await api(
    `/ops/connections/${encodeURIComponent(connectionId)}/timeline`,
  );
  const section = $('connection');
  if (status !== 200) {
    notify(body?.message ?? `cannot read the connection (HTTP ${status})`, true);
    return;
  }
  const ids = el('dl', undefined, { class: 'ids' });
  const id = (label, value, search) => {
    const dd = el('dd');
    if (value !== null && search) dd.append(el('a', value, { href: consoleLink({ q: value }) }));
    else dd.textContent = value ?? '—';
    ids.append(el('dt', label), dd);
  };
  id('Connection', body.connectionId, false);
  id('Subscription', body.subscriptionId, true);
  id('Organization', body.organizationId, true);
  id('Organization name', body.organizationName, false);
  id('API', body.apiId, false);
  if (body.previousConnectionIds.length > 0)
    id('Earlier connections', body.previousConnectionIds.join(', '), false);
  const heading = el('h2', 'Connection ');
  heading.append(el('span', body.state, { class: 'state', id: 'state' }));
  const parts = [heading, ids];
  if (body.suspension !== null) {
    parts.push(
      el(
        'p',
        `Suspended by ${body.suspension.by} at ${body.suspension.at}: ${body.suspension.reason}`,
        { id: 'suspension' },
      ),
    );
  }
  parts.push(actionsFor(body), el('h3', 'Timeline'));
  parts.push(
    table(
      ['When (UTC)', 'What happened', 'By', 'State', 'Detail'],
      body.events.map((event) =>
        row(
          [
            el('span', event.at.replace('T', ' ').replace('Z', ''), {}),
            event.title,
            event.by,
            event.to === undefined ? '' : `${event.from ?? ''} → ${event.to}`,
            event.detail ?? '',
          ],
          { class: event.problem ? 'problem' : '', 'data-event': event.event },
        ),
      ),
    ),
  );
  section.replaceChildren(...parts);
  for (const cell of section.querySelectorAll('tbody tr td:first-child')) cell.className = 'when';
  const stillWaiting =
    waiting !== undefined && body.state === waiting.from && Date.now() < waiting.until;
  if (MOVING.has(body.state) || stillWaiting)
    refresh = setTimeout(
      () => void showConnection(connectionId, stillWaiting ? waiting : undefined),
      REFRESH_MS,
    );
}

const params = new URLSearchParams(window.location.search);
const query = params.get('q');
const connectionId = params.get('id');
await loadWhoami();
if (connectionId !== null && connectionId.trim() !== '') void showConnection(connectionId.trim());
else if (query !== null && query.trim() !== '') void showSearch(query.trim());
else void showAttention();
