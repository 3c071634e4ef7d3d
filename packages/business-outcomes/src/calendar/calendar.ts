/**
 * calendar/: calendar periods (hours, days, ISO weeks, months) in an IANA time zone,
 * read through `Intl.DateTimeFormat`. A period is identified by its start instant
 * and carries an ordinal (consecutive periods have consecutive ordinals), so gaps and
 * trends need no further calendar arithmetic. Intl is only asked when time leaves the
 * cached period: the hot path compares two numbers. Imports nothing.
 */

/**
 * The calendar periods outcomes and KPIs are kept per: local hours, local days, ISO
 * weeks (Monday to Sunday) and calendar months, in the configured time zone.
 *
 * @example
 * ```ts
 * const dimension: Dimension = 'daily';
 * ```
 */
export type Dimension = 'hourly' | 'daily' | 'weekly' | 'monthly';

/** Every {@link Dimension}, in order of length. @internal */
export const DIMENSIONS: readonly Dimension[] = Object.freeze([
  'hourly',
  'daily',
  'weekly',
  'monthly',
]);

/** @internal */
export function isDimension(value: unknown): value is Dimension {
  return value === 'hourly' || value === 'daily' || value === 'weekly' || value === 'monthly';
}

/**
 * One calendar period. @internal
 */
export interface Period {
  /** The first instant of the period, ms since the epoch. */
  readonly start: number;
  /** The first instant of the next period. */
  readonly end: number;
  /** Consecutive periods of one dimension have consecutive ordinals. */
  readonly ordinal: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

interface LocalFields {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/**
 * Checks an IANA time zone name; throws a `TypeError` naming `option` when Intl does
 * not know it. Returns the canonical name.
 *
 * @internal
 */
export function checkTimeZone(timeZone: unknown, option: string): string {
  if (typeof timeZone !== 'string' || timeZone.length === 0) {
    throw new TypeError(`${option} must be an IANA time zone name such as 'America/New_York'`);
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    throw new TypeError(`${option}: unknown time zone '${timeZone}'`);
  }
}

/**
 * Calendar arithmetic in one time zone. @internal
 */
export class ZonedCalendar {
  readonly timeZone: string;
  readonly #format: Intl.DateTimeFormat;

  constructor(timeZone = 'UTC') {
    this.timeZone = checkTimeZone(timeZone, 'timeZone');
    this.#format = new Intl.DateTimeFormat('en-US', {
      timeZone: this.timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** Local wall-clock fields of an instant. */
  fields(ms: number): LocalFields {
    let year = 0;
    let month = 0;
    let day = 0;
    let hour = 0;
    let minute = 0;
    let second = 0;
    for (const part of this.#format.formatToParts(ms)) {
      switch (part.type) {
        case 'year':
          year = Number(part.value);
          break;
        case 'month':
          month = Number(part.value);
          break;
        case 'day':
          day = Number(part.value);
          break;
        case 'hour':
          hour = Number(part.value) % 24;
          break;
        case 'minute':
          minute = Number(part.value);
          break;
        case 'second':
          second = Number(part.value);
          break;
        default:
          break;
      }
    }
    return { year, month, day, hour, minute, second };
  }

  /** The zone's offset from UTC at an instant, in ms (local = utc + offset). */
  offset(ms: number): number {
    const whole = Math.floor(ms / 1000) * 1000;
    const f = this.fields(whole);
    return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second) - whole;
  }

  /**
   * The first instant whose local time is at or after the given local wall time: the
   * earlier of two instants in a fall-back overlap, the end of the gap in a
   * spring-forward one.
   */
  instantOf(year: number, month: number, day: number, hour = 0): number {
    const local = Date.UTC(year, month - 1, day, hour);
    const before = this.offset(local - DAY);
    const after = this.offset(local + DAY);
    const a = local - before;
    const b = local - after;
    const aValid = this.offset(a) === before;
    const bValid = this.offset(b) === after;
    if (aValid && bValid) return Math.min(a, b);
    if (aValid) return a;
    if (bValid) return b;
    // In a gap: the transition lies between the two candidates; find it to the second.
    let lo = Math.min(a, b);
    let hi = Math.max(a, b);
    const startOffset = this.offset(lo);
    while (hi - lo > 1000) {
      const mid = Math.floor((lo + hi) / 2000) * 1000;
      if (this.offset(mid) === startOffset) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  /** The period of `dimension` that holds the instant `ms`. */
  periodOf(dimension: Dimension, ms: number): Period {
    if (dimension === 'hourly') {
      const start = ms - mod(ms + this.offset(ms), HOUR);
      let end = start + HOUR;
      const next = end - mod(end + this.offset(end), HOUR);
      if (next > start) end = next;
      return { start, end, ordinal: Math.round(start / HOUR) };
    }
    const f = this.fields(ms);
    if (dimension === 'monthly') {
      const ordinal = f.year * 12 + (f.month - 1);
      return {
        start: this.instantOf(f.year, f.month, 1),
        end: this.#monthStart(ordinal + 1),
        ordinal,
      };
    }
    let dayOrdinal = Math.round(Date.UTC(f.year, f.month - 1, f.day) / DAY);
    let length = 1;
    if (dimension === 'weekly') {
      // 1970-01-01 was a Thursday: (d + 3) mod 7 is 0 on Mondays.
      dayOrdinal -= mod(dayOrdinal + 3, 7);
      length = 7;
    }
    const start = this.#dayStart(dayOrdinal);
    const end = this.#dayStart(dayOrdinal + length);
    return { start, end, ordinal: dimension === 'weekly' ? (dayOrdinal + 3) / 7 : dayOrdinal };
  }

  /**
   * A readable name of a period: `2024-01-15T14:00-05:00` (hourly), `2024-01-15`
   * (daily), `2024-W03` (weekly, ISO week-numbering year), `2024-01` (monthly).
   */
  label(dimension: Dimension, period: Period): string {
    const f = this.fields(period.start);
    const date = `${f.year}-${pad(f.month)}-${pad(f.day)}`;
    switch (dimension) {
      case 'hourly': {
        const offsetMinutes = Math.round(this.offset(period.start) / 60_000);
        const sign = offsetMinutes < 0 ? '-' : '+';
        const abs = Math.abs(offsetMinutes);
        return `${date}T${pad(f.hour)}:${pad(f.minute)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
      }
      case 'daily':
        return date;
      case 'weekly': {
        // The ISO week-year is the year of the week's Thursday, whose day of that
        // year gives the week number.
        const thursday = period.ordinal * 7;
        const isoYear = new Date(thursday * DAY).getUTCFullYear();
        const week = Math.floor((thursday - Math.round(Date.UTC(isoYear, 0, 1) / DAY)) / 7) + 1;
        return `${isoYear}-W${pad(week)}`;
      }
      case 'monthly':
        return `${f.year}-${pad(f.month)}`;
    }
  }

  #dayStart(dayOrdinal: number): number {
    const d = new Date(dayOrdinal * DAY);
    return this.instantOf(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
  }

  #monthStart(monthOrdinal: number): number {
    return this.instantOf(Math.floor(monthOrdinal / 12), mod(monthOrdinal, 12) + 1, 1);
  }
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * The period of one dimension that holds "now", recomputed only when time leaves it.
 *
 * @internal
 */
export class PeriodCursor {
  readonly dimension: Dimension;
  readonly #calendar: ZonedCalendar;
  #period: Period = { start: Infinity, end: -Infinity, ordinal: 0 };

  constructor(calendar: ZonedCalendar, dimension: Dimension) {
    this.#calendar = calendar;
    this.dimension = dimension;
  }

  /** The period holding `ms`. */
  at(ms: number): Period {
    const p = this.#period;
    if (ms >= p.start && ms < p.end) return p;
    const next = this.#calendar.periodOf(this.dimension, ms);
    this.#period = next;
    return next;
  }
}
