// Block Kit and mrkdwn to HTML for the channel page (channel-page.ts). Pure functions, so the
// escaping can be unit-tested without a browser.
//
// Safety rule: no character of message text reaches the HTML unescaped. Control sequences
// (<@U1>, <url|label>) and code spans are cut out first and replaced by placeholders, the rest is
// HTML-escaped, and only then are formatting tags added around already-escaped text. What replaces
// a placeholder is built from escaped values too. Links are made only for http(s) and mailto URLs.

import type { Json, JsonObject } from './types.js';

/** Names the page shows for ids found in messages. */
export interface Directory {
  /** user id → display name (the bot included) */
  users: Record<string, string>;
  /** conversation id → channel name */
  channels: Record<string, string>;
  /** subteam id → handle without the @ */
  groups: Record<string, string>;
}

export interface BlockContext {
  dir: Directory;
  /** Option values of a checkboxes element ticked for the viewer (their clicks, else initial_options). */
  ticked(actionId: string, element: JsonObject): string[];
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Slack's own escaping of literal <, > and & in message text. */
function slackUnescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

// Only the shortcodes a chatops bot tends to use; unknown ones stay as text, which is what Slack
// shows for an emoji a workspace does not have.
const EMOJI: Record<string, string> = {
  white_check_mark: '✅',
  heavy_check_mark: '✔️',
  x: '❌',
  warning: '⚠️',
  mega: '📣',
  rewind: '⏪',
  no_entry_sign: '🚫',
  no_entry: '⛔',
  hourglass_flowing_sand: '⏳',
  hourglass: '⌛',
  stethoscope: '🩺',
  raised_hand: '✋',
  memo: '📝',
  mag: '🔍',
  card_file_box: '🗃️',
  rocket: '🚀',
  tada: '🎉',
  eyes: '👀',
  '+1': '👍',
  thumbsup: '👍',
  '-1': '👎',
  fire: '🔥',
  rotating_light: '🚨',
  information_source: 'ℹ️',
  bell: '🔔',
  red_circle: '🔴',
  large_green_circle: '🟢',
  large_yellow_circle: '🟡',
  arrow_right: '➡️',
  lock: '🔒',
  wrench: '🔧',
  stopwatch: '⏱️',
  clipboard: '📋',
  page_facing_up: '📄',
  robot_face: '🤖',
};

function emoji(escaped: string): string {
  return escaped.replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => EMOJI[name] ?? whole);
}

/** What a control sequence (the inside of <…>) reads as, and how it is shown. */
function control(
  inner: string,
  dir: Directory,
): { text: string; kind: 'mention' | 'link' | 'text'; href?: string } {
  const bar = inner.indexOf('|');
  const target = bar === -1 ? inner : inner.slice(0, bar);
  const label = bar === -1 ? undefined : slackUnescape(inner.slice(bar + 1));
  if (/^@[UW][A-Z0-9]+$/.test(target)) {
    const id = target.slice(1);
    return { text: `@${dir.users[id] ?? label ?? id}`, kind: 'mention' };
  }
  if (/^#[CGD][A-Z0-9]+$/.test(target)) {
    const id = target.slice(1);
    return { text: `#${dir.channels[id] ?? label ?? id}`, kind: 'mention' };
  }
  if (target.startsWith('!subteam^')) {
    const id = target.slice('!subteam^'.length);
    return { text: `@${label?.replace(/^@/, '') ?? dir.groups[id] ?? id}`, kind: 'mention' };
  }
  if (target === '!here' || target === '!channel' || target === '!everyone') {
    return { text: `@${target.slice(1)}`, kind: 'mention' };
  }
  if (target.startsWith('!')) return { text: label ?? target.slice(1), kind: 'text' };
  if (/^(https?:\/\/|mailto:)/i.test(target)) {
    const href = slackUnescape(target);
    return { text: label ?? href, kind: 'link', href };
  }
  // Not a control sequence Slack knows (e.g. "<none>" in a code block): show it as written.
  return { text: `<${slackUnescape(inner)}>`, kind: 'text' };
}

function controlHtml(inner: string, dir: Directory): string {
  const c = control(inner, dir);
  if (c.kind === 'link' && c.href !== undefined) {
    return `<a href="${escapeHtml(c.href)}" target="_blank" rel="noopener noreferrer">${escapeHtml(c.text)}</a>`;
  }
  if (c.kind === 'mention') return `<span class="mention">${escapeHtml(c.text)}</span>`;
  return escapeHtml(c.text);
}

/** Code keeps its characters: control sequences become their plain label, nothing is formatted. */
function codeText(raw: string, dir: Directory): string {
  return escapeHtml(
    raw
      .split(/(<[^<>\n]*>)/)
      .map((part, i) => (i % 2 === 1 ? control(part.slice(1, -1), dir).text : slackUnescape(part)))
      .join(''),
  );
}

/** Bold, italic and strike around escaped text; markers must sit at word edges, as in Slack. */
function formatSpans(escaped: string): string {
  const span = (marker: string, tag: string, s: string) => {
    const m = `\\${marker}`;
    const re = new RegExp(`(^|[^\\w${m}])${m}(\\S(?:[^${m}\\n]*?\\S)?)${m}(?![\\w${m}])`, 'g');
    return s.replace(re, (_whole, before: string, inside: string) => `${before}<${tag}>${inside}</${tag}>`);
  };
  return span('~', 'del', span('_', 'em', span('*', 'strong', escaped)));
}

/** Slack mrkdwn to HTML (see the safety rule at the top of this file). */
export function renderMrkdwn(text: string, dir: Directory): string {
  const held: string[] = [];
  const hold = (html: string) => `\uE000${held.push(html) - 1}\uE000`;
  let s = text.replace(/\uE000/g, '');
  s = s.replace(/```([\s\S]*?)```/g, (_w, inner: string) => hold(`<pre>${codeText(inner, dir)}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_w, inner: string) => hold(`<code>${codeText(inner, dir)}</code>`));
  s = s.replace(/<([^<>\n]*)>/g, (_w, inner: string) => hold(controlHtml(inner, dir)));
  // Slack text arrives with its own &lt; &gt; &amp;; escaping doubled them, so undo that one step.
  s = escapeHtml(s).replace(/&amp;(lt|gt|amp);/g, '&$1;');
  s = formatSpans(emoji(s));
  s = s
    .split('\n')
    .map((line) => {
      const quote = /^&gt;\s?(.*)$/.exec(line);
      return quote ? `<blockquote>${quote[1]}</blockquote>` : line;
    })
    .join('<br>')
    .replace(/<br><blockquote>/g, '<blockquote>')
    .replace(/<\/blockquote><br>/g, '</blockquote>');
  return s.replace(/\uE000(\d+)\uE000/g, (_w, i: string) => held[Number(i)] ?? '');
}

/** plain_text: escaped, emoji shortcodes shown, newlines kept. */
export function renderPlain(text: string): string {
  return emoji(escapeHtml(text)).replace(/\n/g, '<br>');
}

const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json | undefined): string => (typeof v === 'string' ? v : '');
const objects = (v: Json | undefined): JsonObject[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** A text object ({type: 'mrkdwn' | 'plain_text', text}) as HTML. */
export function renderTextObject(t: Json | undefined, dir: Directory): string {
  if (!isObject(t)) return '';
  return t.type === 'mrkdwn' ? renderMrkdwn(str(t.text), dir) : renderPlain(str(t.text));
}

/** A text object as plain text (for attributes such as a confirm dialog's). */
function textOf(t: Json | undefined): string {
  return isObject(t) ? str(t.text) : '';
}

function imageAlt(e: JsonObject): string {
  const alt = str(e.alt_text) || 'image';
  return `<span class="image-alt" title="${escapeHtml(str(e.image_url))}">[${escapeHtml(alt)}]</span>`;
}

function button(e: JsonObject, dir: Directory): string {
  const style = e.style === 'primary' || e.style === 'danger' ? ` ${e.style}` : '';
  const attrs = [
    `type="button"`,
    `class="btn${style}"`,
    `data-action-id="${escapeHtml(str(e.action_id))}"`,
    e.value !== undefined ? `data-value="${escapeHtml(str(e.value))}"` : '',
    e.url !== undefined ? `data-url="${escapeHtml(str(e.url))}"` : '',
  ];
  if (isObject(e.confirm)) {
    const c = e.confirm;
    const dialog = {
      title: textOf(c.title),
      text: textOf(c.text),
      confirm: textOf(c.confirm) || 'Yes',
      deny: textOf(c.deny) || 'Cancel',
      style: str(c.style),
    };
    attrs.push(`data-confirm="${escapeHtml(JSON.stringify(dialog))}"`);
  }
  return `<button ${attrs.filter(Boolean).join(' ')}>${renderTextObject(e.text, dir)}</button>`;
}

function checkboxes(e: JsonObject, ctx: BlockContext): string {
  const actionId = str(e.action_id);
  const ticked = ctx.ticked(actionId, e);
  const boxes = objects(e.options).map((o) => {
    const value = str(o.value);
    const description = isObject(o.description)
      ? `<span class="description">${renderTextObject(o.description, ctx.dir)}</span>`
      : '';
    return (
      `<label class="checkbox"><input type="checkbox" data-action-id="${escapeHtml(actionId)}" ` +
      `value="${escapeHtml(value)}"${ticked.includes(value) ? ' checked' : ''}>` +
      `<span>${renderTextObject(o.text, ctx.dir)}${description}</span></label>`
    );
  });
  return `<div class="checkboxes" data-action-id="${escapeHtml(actionId)}">${boxes.join('')}</div>`;
}

/** An interactive element (actions element or section accessory). */
function element(e: JsonObject, ctx: BlockContext): string {
  switch (e.type) {
    case 'button':
      return button(e, ctx.dir);
    case 'checkboxes':
      return checkboxes(e, ctx);
    case 'image':
      return imageAlt(e);
    default:
      // Selects, overflow menus, date pickers: shown so the message is complete, not clickable here.
      return `<span class="unsupported" title="the emulator page cannot operate this element">[${escapeHtml(str(e.type))}]</span>`;
  }
}

function richInline(e: JsonObject, dir: Directory): string {
  switch (e.type) {
    case 'text': {
      let html = renderPlain(str(e.text));
      const style = isObject(e.style) ? e.style : {};
      if (style.code === true) html = `<code>${html}</code>`;
      if (style.bold === true) html = `<strong>${html}</strong>`;
      if (style.italic === true) html = `<em>${html}</em>`;
      if (style.strike === true) html = `<del>${html}</del>`;
      return html;
    }
    case 'link': {
      const url = str(e.url);
      const label = str(e.text) || url;
      return /^(https?:\/\/|mailto:)/i.test(url)
        ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(label)}</a>`
        : escapeHtml(label);
    }
    case 'user':
      return controlHtml(`@${str(e.user_id)}`, dir);
    case 'channel':
      return controlHtml(`#${str(e.channel_id)}`, dir);
    case 'usergroup':
      return controlHtml(`!subteam^${str(e.usergroup_id)}`, dir);
    case 'broadcast':
      return controlHtml(`!${str(e.range)}`, dir);
    case 'emoji':
      return emoji(escapeHtml(`:${str(e.name)}:`));
    default:
      return '';
  }
}

function richText(block: JsonObject, dir: Directory): string {
  const inline = (el: JsonObject) =>
    objects(el.elements)
      .map((x) => richInline(x, dir))
      .join('');
  return objects(block.elements)
    .map((el) => {
      switch (el.type) {
        case 'rich_text_section':
          return `<div>${inline(el)}</div>`;
        case 'rich_text_preformatted':
          return `<pre>${inline(el)}</pre>`;
        case 'rich_text_quote':
          return `<blockquote>${inline(el)}</blockquote>`;
        case 'rich_text_list': {
          const tag = el.style === 'ordered' ? 'ol' : 'ul';
          const items = objects(el.elements).map((item) => `<li>${inline(item)}</li>`);
          return `<${tag}>${items.join('')}</${tag}>`;
        }
        default:
          return '';
      }
    })
    .join('');
}

function block(b: JsonObject, ctx: BlockContext): string {
  const { dir } = ctx;
  const id = escapeHtml(str(b.block_id));
  switch (b.type) {
    case 'header':
      return `<div class="b-header" data-block-id="${id}">${renderTextObject(b.text, dir)}</div>`;
    case 'section': {
      const text = b.text !== undefined ? `<div class="b-text">${renderTextObject(b.text, dir)}</div>` : '';
      const fields = objects(b.fields).map((f) => `<div class="b-field">${renderTextObject(f, dir)}</div>`);
      const fieldsHtml = fields.length ? `<div class="b-fields">${fields.join('')}</div>` : '';
      const accessory = isObject(b.accessory)
        ? `<div class="b-accessory">${element(b.accessory, ctx)}</div>`
        : '';
      return `<div class="b-section" data-block-id="${id}"><div class="b-main">${text}${fieldsHtml}</div>${accessory}</div>`;
    }
    case 'context': {
      const parts = objects(b.elements).map((e) =>
        e.type === 'image' ? imageAlt(e) : `<span>${renderTextObject(e, dir)}</span>`,
      );
      return `<div class="b-context" data-block-id="${id}">${parts.join('')}</div>`;
    }
    case 'divider':
      return `<hr class="b-divider" data-block-id="${id}">`;
    case 'actions': {
      const els = objects(b.elements).map((e) => element(e, ctx));
      return `<div class="b-actions" data-block-id="${id}">${els.join('')}</div>`;
    }
    case 'image': {
      const title =
        b.title !== undefined ? `<div class="b-text">${renderTextObject(b.title, dir)}</div>` : '';
      return `<div class="b-image" data-block-id="${id}">${title}${imageAlt(b)}</div>`;
    }
    case 'rich_text':
      return `<div class="b-rich" data-block-id="${id}">${richText(b, dir)}</div>`;
    case 'markdown':
      return `<div class="b-text" data-block-id="${id}">${renderMrkdwn(str(b.text), dir)}</div>`;
    case 'input':
      return `<div class="b-input" data-block-id="${id}">${renderTextObject(b.label, dir)} ${isObject(b.element) ? element(b.element, ctx) : ''}</div>`;
    default:
      return `<div class="unsupported">[${escapeHtml(str(b.type))} block]</div>`;
  }
}

export function renderBlocks(blocks: JsonObject[], ctx: BlockContext): string {
  return blocks.map((b) => block(b, ctx)).join('');
}

/** Legacy attachments: a coloured bar with their blocks, or their text. */
export function renderAttachments(attachments: JsonObject[], ctx: BlockContext): string {
  return attachments
    .map((a) => {
      const named: Record<string, string> = { good: '#2eb67d', warning: '#ecb22e', danger: '#e01e5a' };
      const raw = str(a.color);
      const color = named[raw] ?? (/^#?[0-9a-fA-F]{6}$/.test(raw) ? `#${raw.replace('#', '')}` : '#ddd');
      const body = Array.isArray(a.blocks)
        ? renderBlocks(objects(a.blocks), ctx)
        : renderMrkdwn(str(a.text) || str(a.fallback), ctx.dir);
      return `<div class="attachment" style="border-left-color:${color}">${body}</div>`;
    })
    .join('');
}

/** One option's value and label, from options or option_groups. */
function choices(e: JsonObject): JsonObject[] {
  return [...objects(e.options), ...objects(e.option_groups).flatMap((g) => objects(g.options))];
}

/**
 * A modal's input block as a form field: the page reads fields by data-input-block (the block_id)
 * when the user submits. Initial values are shown; the bot's error for the field sits under it.
 */
export function renderInputField(
  b: JsonObject,
  dir: Directory,
  error: string | undefined,
  current?: JsonObject,
): string {
  const blockId = escapeHtml(str(b.block_id));
  // What the user entered last (state.values) replaces the element's initial value.
  const e = { ...(isObject(b.element) ? b.element : {}) };
  if (current) {
    if ('value' in current) e.initial_value = current.value ?? '';
    if ('selected_option' in current) e.initial_option = current.selected_option ?? null;
    if ('selected_options' in current) e.initial_options = current.selected_options ?? [];
  }
  const type = str(e.type);
  const name = `data-input-block="${blockId}" data-input-type="${escapeHtml(type)}"`;
  let control: string;
  switch (type) {
    case 'plain_text_input':
    case 'email_text_input':
    case 'url_text_input':
    case 'number_input': {
      const value = escapeHtml(str(e.initial_value));
      const placeholder = isObject(e.placeholder)
        ? ` placeholder="${escapeHtml(textOf(e.placeholder))}"`
        : '';
      control =
        e.multiline === true
          ? `<textarea ${name}${placeholder}>${value}</textarea>`
          : `<input type="text" ${name}${placeholder} value="${value}">`;
      break;
    }
    case 'static_select':
    case 'radio_buttons': {
      const initial = isObject(e.initial_option) ? str(e.initial_option.value) : '';
      const opts = choices(e).map((o) => {
        const v = str(o.value);
        return `<option value="${escapeHtml(v)}"${v === initial ? ' selected' : ''}>${escapeHtml(textOf(o.text))}</option>`;
      });
      control = `<select ${name}><option value="">Select an option</option>${opts.join('')}</select>`;
      break;
    }
    case 'checkboxes': {
      const initial = objects(e.initial_options).map((o) => str(o.value));
      const boxes = choices(e).map((o) => {
        const v = str(o.value);
        return (
          `<label class="checkbox"><input type="checkbox" ${name} value="${escapeHtml(v)}"${initial.includes(v) ? ' checked' : ''}>` +
          `<span>${renderTextObject(o.text, dir)}</span></label>`
        );
      });
      control = `<div class="checkboxes">${boxes.join('')}</div>`;
      break;
    }
    default:
      control = `<span class="unsupported">[${escapeHtml(type)} input]</span>`;
  }
  const optional = b.optional === true ? ' <span class="optional">(optional)</span>' : '';
  const hint = isObject(b.hint) ? `<div class="hint">${renderTextObject(b.hint, dir)}</div>` : '';
  const err = error ? `<div class="field-error" role="alert">${escapeHtml(error)}</div>` : '';
  return (
    `<div class="field${error ? ' has-error' : ''}" data-block-id="${blockId}">` +
    `<label class="field-label">${renderTextObject(b.label, dir)}${optional}</label>${control}${hint}${err}</div>`
  );
}
