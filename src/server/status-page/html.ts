// HTML built with a tagged template that escapes every value put in it: only
// what another `html` template made is inserted as markup, so a member name,
// an error message or a run's reason can never become markup.
import { formatBytes, formatDuration } from '../../config/units.js';

export class SafeHtml {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

type Value = SafeHtml | string | number | boolean | undefined | null | readonly Value[];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function insert(value: Value): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map((v: Value) => insert(v)).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += insert(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(text);
}

export const percent = (ratio: number): string => `${Math.round(ratio * 100)}%`;
export const bytes = (n: number): string => formatBytes(n);
export const duration = (seconds: number): string => formatDuration(seconds);

/** "2026-11-24 10:00:03 UTC": the same for every viewer, as in the logs. */
export function timeOf(iso: string): SafeHtml {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return html`${iso}`;
  const shown = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return html`<time datetime="${date.toISOString()}">${shown}</time>`;
}

/** A coloured word: ok, warn, bad or info. */
export function badge(kind: 'ok' | 'warn' | 'bad' | 'info', text: string): SafeHtml {
  return html`<span class="badge ${kind}">${text}</span>`;
}
