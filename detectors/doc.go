// Package detectors runs the early-warning detectors over the events in
// ClickHouse and keeps the alerts they raise, with their workflow state, in
// PostgreSQL. A detector never reads the clock: it is given its event-time
// window, so a missed window can be run later with the same result.
package detectors
