// Package calendar counts Chinese working days (工作日) for case deadlines.
//
// Saturdays, Sundays and public holidays (法定节假日) are days off, except
// make-up working days (调休上班). Which days those are is decided each year by
// a State Council General Office notice, so the calendar only knows the years
// it has been given; other years count weekends only. Days run from 00:00 to
// 24:00 China Standard Time, whatever zone the caller's times are in.
package calendar

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	risk "riskwatch"
)

const day = 24 * time.Hour

//go:embed holidays.yaml
var defaultYAML []byte

var std = func() *Calendar {
	c, err := Parse(bytes.NewReader(defaultYAML))
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return c
}()

// date is a calendar day in CST.
type date struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) date {
	y, m, d := t.In(risk.CST).Date()
	return date{y, m, d}
}

// start is 00:00 CST of d; the day ends at next().start().
func (d date) start() time.Time { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, risk.CST) }
func (d date) next() date       { return dateOf(d.start().Add(day)) }
func (d date) weekend() bool {
	wd := d.start().Weekday()
	return wd == time.Saturday || wd == time.Sunday
}
func (d date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.y, d.m, d.d) }

// year is one notice's arrangements.
type year struct {
	holidays, workdays []date
}

// Calendar is a set of yearly holiday arrangements. It is immutable once
// built and safe for concurrent use. A nil *Calendar knows no year and counts
// only weekends as days off.
type Calendar struct {
	years map[int]year
	off   map[date]bool // holidays
	on    map[date]bool // make-up working days
}

// Default returns the calendar embedded in the package: the State Council
// arrangements for 2020 through 2026. Every call returns the same Calendar.
func Default() *Calendar { return std }

// Parse builds a calendar from YAML alone, without the default years. The
// input maps a year to its holidays and workdays (made-up dates):
//
//	2031:
//	  holidays: [2031-01-01, 2031-01-22..2031-01-28]  # ranges are inclusive
//	  workdays: [2031-01-19]                          # 调休: Saturdays and Sundays only
//
// Dates are YYYY-MM-DD; a year's dates must lie in that year, or in the
// December before it (New Year blocks sometimes start there). Parse rejects
// unknown keys, malformed or reversed dates, a year without holidays, a
// workday that is not a Saturday or Sunday, and a date that is both a holiday
// and a workday. Empty input gives an empty calendar.
func Parse(r io.Reader) (*Calendar, error) {
	years, err := decode(r)
	if err != nil {
		return nil, err
	}
	return build(years)
}

// Load is Parse on top of the default calendar: each year in r replaces that
// year of Default entirely, and other default years are kept. Default itself
// is not changed.
func Load(r io.Reader) (*Calendar, error) {
	years, err := decode(r)
	if err != nil {
		return nil, err
	}
	merged := maps.Clone(std.years)
	maps.Copy(merged, years)
	return build(merged)
}

type yearSpec struct {
	// Nodes rather than strings keep line numbers for errors and the
	// source text of entries YAML would read as timestamps.
	Holidays []yaml.Node `yaml:"holidays"`
	Workdays []yaml.Node `yaml:"workdays"`
}

func decode(r io.Reader) (map[int]year, error) {
	var raw map[int]yearSpec
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		return nil, errors.New("calendar: want a single YAML document")
	}
	years := make(map[int]year, len(raw))
	for _, y := range slices.Sorted(maps.Keys(raw)) {
		hol, err := parseList(y, "holidays", raw[y].Holidays)
		if err != nil {
			return nil, err
		}
		if len(hol) == 0 {
			return nil, fmt.Errorf("calendar: %d: no holidays listed", y)
		}
		work, err := parseList(y, "workdays", raw[y].Workdays)
		if err != nil {
			return nil, err
		}
		for _, d := range work {
			if !d.weekend() {
				return nil, fmt.Errorf("calendar: %d workdays: %v is not a Saturday or Sunday", y, d)
			}
		}
		years[y] = year{hol, work}
	}
	return years, nil
}

// parseList expands one list of dates and inclusive "from..to" ranges.
func parseList(y int, field string, nodes []yaml.Node) ([]date, error) {
	var out []date
	for _, n := range nodes {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("calendar: line %d: %d %s: %q: %s", n.Line, y, field, n.Value, fmt.Sprintf(format, args...))
		}
		if n.Kind != yaml.ScalarNode {
			return nil, fail("want YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
		}
		lo, hi, isRange := strings.Cut(n.Value, "..")
		if !isRange {
			hi = lo
		}
		from, err1 := time.ParseInLocation(time.DateOnly, strings.TrimSpace(lo), risk.CST)
		to, err2 := time.ParseInLocation(time.DateOnly, strings.TrimSpace(hi), risk.CST)
		switch {
		case err1 != nil || err2 != nil:
			return nil, fail("not a date: want YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
		case to.Before(from):
			return nil, fail("range ends before it starts")
		case !inYear(y, from) || !inYear(y, to):
			return nil, fail("outside %d (only the December before may be listed too)", y)
		}
		for d := dateOf(from); !d.start().After(to); d = d.next() {
			out = append(out, d)
		}
	}
	return out, nil
}

func inYear(y int, t time.Time) bool {
	return t.Year() == y || t.Year() == y-1 && t.Month() == time.December
}

func build(years map[int]year) (*Calendar, error) {
	c := &Calendar{years: years, off: map[date]bool{}, on: map[date]bool{}}
	holidayOf := map[date]int{} // which year lists it, for the error
	for y, yr := range years {
		for _, d := range yr.holidays {
			c.off[d] = true
			holidayOf[d] = y
		}
	}
	for _, y := range slices.Sorted(maps.Keys(years)) {
		for _, d := range years[y].workdays {
			if c.off[d] {
				return nil, fmt.Errorf("calendar: %v is both a holiday (listed under %d) and a workday (listed under %d)", d, holidayOf[d], y)
			}
			c.on[d] = true
		}
	}
	return c, nil
}

// Known reports whether the calendar has the holiday arrangements for year.
// In a year it does not know, only Saturdays and Sundays are days off, so
// deadlines there may be too early; callers should warn.
func (c *Calendar) Known(year int) bool {
	if c == nil {
		return false
	}
	_, ok := c.years[year]
	return ok
}

// WorkingDay reports whether t falls, in CST, on a working day: a make-up
// working day, or a Monday to Friday that is not a holiday.
func (c *Calendar) WorkingDay(t time.Time) bool { return c.working(dateOf(t)) }

func (c *Calendar) working(d date) bool {
	if c == nil {
		return !d.weekend()
	}
	if c.on[d] {
		return true
	}
	return !c.off[d] && !d.weekend()
}

// nextWorking returns the first working day after d.
func (c *Calendar) nextWorking(d date) date {
	for d = d.next(); !c.working(d); d = d.next() {
	}
	return d
}

// AddWorkingDays returns the deadline n working days after start: the day of
// start (in risk.CST) does not count, counting begins on the next working day, and
// the result is the end of the n-th working day, that is 24:00 CST, the
// instant the following calendar day begins. A deadline is met by anything
// strictly before the returned instant.
//
// For n == 0 it returns the end of start's day if that is a working day, and
// otherwise the end of the next working day, the first day anything can be
// done. It panics if n is negative. The result is in UTC.
func (c *Calendar) AddWorkingDays(start time.Time, n int) time.Time {
	if n < 0 {
		panic("calendar: negative number of working days")
	}
	d := dateOf(start)
	if n == 0 && c.working(d) {
		return d.next().start().UTC()
	}
	for n = max(n, 1); n > 0; n-- {
		d = c.nextWorking(d)
	}
	return d.next().start().UTC()
}

// WorkingTimeBetween returns how much of [from, to) lies on working days, each
// working day counting as its full 24 hours. It is zero if to is not after
// from. Use it to measure how long a case clock was paused, then ExtendBy.
func (c *Calendar) WorkingTimeBetween(from, to time.Time) time.Duration {
	var total time.Duration
	for d := dateOf(from); d.start().Before(to); d = d.next() {
		if !c.working(d) {
			continue
		}
		lo, hi := d.start(), d.next().start()
		if from.After(lo) {
			lo = from
		}
		if to.Before(hi) {
			hi = to
		}
		if hi.After(lo) {
			total += hi.Sub(lo)
		}
	}
	return total
}

// ExtendBy returns the instant that leaves exactly paused working time (as
// measured by WorkingTimeBetween) after deadline, skipping days off:
// WorkingTimeBetween(deadline, ExtendBy(deadline, p)) == p. When the
// extension ends exactly at the end of a working day, the result is that
// day's 24:00, not the start of the next working day, so whole days extend
// one deadline of AddWorkingDays to another: ExtendBy(AddWorkingDays(s, n),
// 24*time.Hour) == AddWorkingDays(s, n+1) for n >= 1. A paused time of zero
// or less returns deadline unchanged. The result is in UTC.
func (c *Calendar) ExtendBy(deadline time.Time, paused time.Duration) time.Time {
	if paused <= 0 {
		return deadline.UTC()
	}
	for d := dateOf(deadline); ; d = d.next() {
		if !c.working(d) {
			continue
		}
		lo, end := d.start(), d.next().start()
		if deadline.After(lo) {
			lo = deadline
		}
		if left := end.Sub(lo); paused > left {
			paused -= left
			continue
		}
		return lo.Add(paused).UTC()
	}
}

// DueWithin reports whether deadline has not passed at now but falls no later
// than AddWorkingDays(now, days): with days == 1, the deadline is today or on
// the next working day (将到期). Overdue deadlines and negative days report
// false.
func (c *Calendar) DueWithin(now, deadline time.Time, days int) bool {
	if days < 0 || !now.Before(deadline) {
		return false
	}
	return !deadline.After(c.AddWorkingDays(now, days))
}
