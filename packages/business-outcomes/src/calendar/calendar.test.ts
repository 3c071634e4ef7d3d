import { ManualClock } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { checkTimeZone, type Dimension, PeriodCursor, ZonedCalendar } from './calendar.js';

const H = 3_600_000;
const D = 24 * H;
const utc = Date.UTC;

function span(calendar: ZonedCalendar, dimension: Dimension, ms: number): [string, string, string] {
  const p = calendar.periodOf(dimension, ms);
  return [
    new Date(p.start).toISOString(),
    new Date(p.end).toISOString(),
    calendar.label(dimension, p),
  ];
}

describe('ZonedCalendar in UTC', () => {
  const c = new ZonedCalendar();

  it('cuts hours and days at their boundaries', () => {
    expect(span(c, 'hourly', utc(2024, 0, 15, 14, 30))).toEqual([
      '2024-01-15T14:00:00.000Z',
      '2024-01-15T15:00:00.000Z',
      '2024-01-15T14:00+00:00',
    ]);
    const lastMs = utc(2024, 0, 15, 23, 59, 59, 999);
    expect(span(c, 'daily', lastMs)[2]).toBe('2024-01-15');
    expect(span(c, 'daily', lastMs + 1)[2]).toBe('2024-01-16');
    expect(c.periodOf('daily', lastMs + 1).ordinal).toBe(c.periodOf('daily', lastMs).ordinal + 1);
  });

  it.each([
    [2023, 1, 28],
    [2024, 1, 29],
    [2024, 3, 30],
    [2024, 0, 31],
    [2024, 11, 31],
  ])('a month of %i-%i has %i days', (year, month, days) => {
    const p = c.periodOf('monthly', utc(year, month, 10));
    expect(p.start).toBe(utc(year, month, 1));
    expect((p.end - p.start) / D).toBe(days);
    expect(c.periodOf('monthly', p.end).ordinal).toBe(p.ordinal + 1);
    expect(c.periodOf('monthly', p.end - 1).ordinal).toBe(p.ordinal);
  });

  it('cuts ISO weeks on Mondays and names them by ISO week-year', () => {
    expect(span(c, 'weekly', utc(2024, 0, 17))).toEqual([
      '2024-01-15T00:00:00.000Z',
      '2024-01-22T00:00:00.000Z',
      '2024-W03',
    ]);
    // Friday 2021-01-01 belongs to week 53 of 2020; Monday 2024-12-30 to week 1 of 2025.
    expect(span(c, 'weekly', utc(2021, 0, 1))[2]).toBe('2020-W53');
    expect(span(c, 'weekly', utc(2024, 11, 31))[2]).toBe('2025-W01');
    const w = c.periodOf('weekly', utc(2024, 0, 21, 23));
    expect(c.periodOf('weekly', w.end).ordinal).toBe(w.ordinal + 1);
  });
});

describe('ZonedCalendar in America/New_York (DST)', () => {
  const c = new ZonedCalendar('America/New_York');

  it('has a 23-hour day when clocks spring forward and a 25-hour one when they fall back', () => {
    const spring = c.periodOf('daily', utc(2024, 2, 10, 12));
    expect(new Date(spring.start).toISOString()).toBe('2024-03-10T05:00:00.000Z');
    expect((spring.end - spring.start) / H).toBe(23);
    const fall = c.periodOf('daily', utc(2024, 10, 3, 12));
    expect(new Date(fall.start).toISOString()).toBe('2024-11-03T04:00:00.000Z');
    expect((fall.end - fall.start) / H).toBe(25);
    expect(c.periodOf('daily', fall.end).ordinal).toBe(fall.ordinal + 1);
  });

  it('goes from 01:00 EST to 03:00 EDT in the spring, and has two 01:00 hours in the fall', () => {
    const before = c.periodOf('hourly', utc(2024, 2, 10, 6, 30)); // 01:30 EST
    expect(c.label('hourly', before)).toBe('2024-03-10T01:00-05:00');
    const after = c.periodOf('hourly', before.end);
    expect(c.label('hourly', after)).toBe('2024-03-10T03:00-04:00');
    expect(after.ordinal).toBe(before.ordinal + 1);

    const first = c.periodOf('hourly', utc(2024, 10, 3, 5, 30)); // 01:30 EDT
    const second = c.periodOf('hourly', utc(2024, 10, 3, 6, 30)); // 01:30 EST
    expect(c.label('hourly', first)).toBe('2024-11-03T01:00-04:00');
    expect(c.label('hourly', second)).toBe('2024-11-03T01:00-05:00');
    expect(second.ordinal).toBe(first.ordinal + 1);
    expect(second.start).toBe(first.end);
  });

  it('starts months at local midnight, whatever the offset', () => {
    const march = c.periodOf('monthly', utc(2024, 2, 15));
    expect(new Date(march.start).toISOString()).toBe('2024-03-01T05:00:00.000Z');
    expect(new Date(march.end).toISOString()).toBe('2024-04-01T04:00:00.000Z');
    // 23:30 local on January 31 is already February in UTC, still January here.
    expect(c.label('monthly', c.periodOf('monthly', utc(2024, 1, 1, 4, 30)))).toBe('2024-01');
    expect(c.label('monthly', c.periodOf('monthly', utc(2024, 1, 1, 5, 0)))).toBe('2024-02');
  });
});

describe('ZonedCalendar in other zones', () => {
  it('starts a day in the gap at the end of the gap (America/Santiago, midnight DST)', () => {
    const c = new ZonedCalendar('America/Santiago');
    // 2024-09-08: clocks jump from 00:00 (-04) to 01:00 (-03); local midnight never happens.
    const day = c.periodOf('daily', utc(2024, 8, 8, 15));
    expect(new Date(day.start).toISOString()).toBe('2024-09-08T04:00:00.000Z');
    expect(c.label('daily', day)).toBe('2024-09-08');
    expect((day.end - day.start) / H).toBe(23);
  });

  it('cuts hours at half past in Asia/Kolkata (+05:30)', () => {
    const c = new ZonedCalendar('Asia/Kolkata');
    const p = c.periodOf('hourly', utc(2024, 0, 15, 14, 45));
    expect(new Date(p.start).toISOString()).toBe('2024-01-15T14:30:00.000Z');
    expect(c.label('hourly', p)).toBe('2024-01-15T20:00+05:30');
  });

  it('refuses an unknown time zone with a TypeError naming the option', () => {
    expect(() => checkTimeZone('Mars/Olympus', 'timeZone')).toThrow(
      /timeZone: unknown time zone 'Mars\/Olympus'/,
    );
    expect(() => new ZonedCalendar('Nowhere/City')).toThrow(TypeError);
    expect(() => checkTimeZone(5, 'timeZone')).toThrow(/timeZone must be an IANA/);
  });
});

describe('PeriodCursor', () => {
  it('follows a manual clock across hour, day and month boundaries', () => {
    const clock = new ManualClock(utc(2024, 0, 31, 23, 59));
    const c = new ZonedCalendar('UTC');
    const hourly = new PeriodCursor(c, 'hourly');
    const daily = new PeriodCursor(c, 'daily');
    const monthly = new PeriodCursor(c, 'monthly');
    const h0 = hourly.at(clock.now());
    const d0 = daily.at(clock.now());
    const m0 = monthly.at(clock.now());
    expect(hourly.at(clock.now())).toBe(h0); // cached
    clock.advance(60_000);
    expect(hourly.at(clock.now()).ordinal).toBe(h0.ordinal + 1);
    expect(daily.at(clock.now()).ordinal).toBe(d0.ordinal + 1);
    expect(monthly.at(clock.now()).ordinal).toBe(m0.ordinal + 1);
    expect(c.label('monthly', monthly.at(clock.now()))).toBe('2024-02');
    clock.set(utc(2024, 0, 31, 12)); // back in time
    expect(monthly.at(clock.now()).ordinal).toBe(m0.ordinal);
  });
});
