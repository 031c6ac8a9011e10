// Maintenance windows: days and hours in an IANA time zone. A window whose end
// is before its start runs over midnight (22:00-04:00 on "mon" is Monday night
// into Tuesday morning); start equal to end is the whole day.
import type { MaintenanceWindow } from '../../config/schema.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const MINUTE_MS = 60_000;
const DAY_MINUTES = 24 * 60;

export interface WindowState {
  open: boolean;
  /** When it opens next (while closed), or closes (while open). */
  next: Date;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The weekday (0 = Sunday) and minute of the day at `at` in the time zone. */
function localTime(at: Date, timeZone: string): { day: number; minute: number } {
  const parts = formatterFor(timeZone).formatToParts(at);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const day = DAYS.indexOf(get('weekday').toLowerCase() as (typeof DAYS)[number]);
  return { day, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

const minuteOf = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

/** Whether the window is open at `at`, to the minute. */
export function isOpen(window: MaintenanceWindow, at: Date): boolean {
  const { day, minute } = localTime(at, window.timezone);
  const start = minuteOf(window.start);
  const end = minuteOf(window.end);
  const onDay = (d: number): boolean => window.days.includes(DAYS[(d + 7) % 7] ?? 'sun');
  if (start === end) return onDay(day);
  if (start < end) return onDay(day) && minute >= start && minute < end;
  // Over midnight: the evening of a listed day, or the morning after it.
  return (onDay(day) && minute >= start) || (onDay(day - 1) && minute < end);
}

/**
 * The window now, and the next time it opens or closes. Searched minute by
 * minute in jumps (a window is at most a day apart from itself, and time zone
 * changes move the wall clock by at most hours), so it costs a few formats.
 */
export function windowState(window: MaintenanceWindow, now: Date): WindowState {
  const open = isOpen(window, now);
  let at = new Date(Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
  const limit = now.getTime() + 8 * DAY_MINUTES * MINUTE_MS;
  while (at.getTime() < limit) {
    if (isOpen(window, at) !== open) return { open, next: at };
    at = new Date(at.getTime() + jumpMs(window, at, open));
  }
  return { open, next: new Date(limit) };
}

/** How far to look next: to the next start (or end) boundary on the wall clock, at most an hour. */
function jumpMs(window: MaintenanceWindow, at: Date, open: boolean): number {
  const { minute } = localTime(at, window.timezone);
  const boundary = minuteOf(open ? window.end : window.start);
  const ahead = (boundary - minute + DAY_MINUTES) % DAY_MINUTES;
  return Math.max(1, Math.min(ahead, 60)) * MINUTE_MS;
}
